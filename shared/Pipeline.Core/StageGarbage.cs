namespace Pipeline.Core;

/// <summary>
/// What earlier stages left on the managed heap, collected before a stage starts when it is much (and before a step
/// of a stage that allocates much after another one did, as the profiles after Predict's assignment). The local runner
/// and <c>serve</c> run every stage in one process, and a stage's arrays (hundreds of megabytes at millions of
/// customers) are garbage once it ends. Collected, their memory serves the next stage; left for the collector to find
/// later, the next stage's arrays and DuckDB's tables take fresh pages from the system, whose first touch costs more
/// than the collection (BENCHMARKS.md: Predict about 2 s faster at 9.4 M customers, the run's peak 0.6 GB lower).
/// </summary>
public static class StageGarbage
{
    /// <summary>
    /// The managed memory above which a stage starts with a full collection (64 MiB). Below it a collection saves less
    /// than it costs: the lab's size never reaches it.
    /// </summary>
    public const long Threshold = 64L << 20;

    /// <summary>Collects when the managed heap holds more than <paramref name="threshold"/> bytes; the bytes it held, or null when it did not collect.</summary>
    public static long? CollectIfLarge(long threshold = Threshold)
    {
        var held = GC.GetTotalMemory(forceFullCollection: false);
        if (held <= threshold) return null;
        GC.Collect();
        return held;
    }
}
