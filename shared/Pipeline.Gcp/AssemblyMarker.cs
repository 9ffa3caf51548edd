namespace Pipeline.Gcp;

/// <summary>Marks the assembly.</summary>
internal static class AssemblyMarker;
