namespace Pipeline.Embedded;

/// <summary>Marks the assembly.</summary>
internal static class AssemblyMarker;
