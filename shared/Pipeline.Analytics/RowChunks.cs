namespace Pipeline.Analytics;

/// <summary>
/// Passes over millions of customers on every core: rows are cut into fixed, contiguous chunks, so each row is
/// handled by exactly the same code whichever core runs its chunk, and results do not depend on the core count.
/// </summary>
public static class RowChunks
{
    /// <summary>Rows a core takes at a time: large enough to amortise scheduling, small enough to balance two cores.</summary>
    public const int Size = 1 << 16;

    public static int Count(int rows) => (rows + Size - 1) / Size;

    /// <summary>Calls <paramref name="body"/> with each chunk's index and its rows [from, to), chunks in parallel.</summary>
    public static void For(int rows, Action<int, int, int> body) =>
        Parallel.For(0, Count(rows), chunk => body(chunk, chunk * Size, Math.Min(rows, (chunk + 1) * Size)));
}
