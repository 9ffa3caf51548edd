namespace Pipeline.Analytics;

/// <summary>Marks the assembly.</summary>
internal static class AssemblyMarker;
