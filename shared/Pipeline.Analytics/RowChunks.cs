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

    /// <summary>
    /// The indexes of the rows <paramref name="marks"/> marks and of the others, each ascending: a row index a row
    /// instead of a copy of the rows. Chunks are counted first, so each chunk knows where its rows go on both sides
    /// and writes them on its own core.
    /// </summary>
    public static (int[] Marked, int[] Others) Partition(bool[] marks)
    {
        var chunkMarked = new int[Count(marks.Length)];
        For(marks.Length, (chunk, from, to) =>
        {
            var n = 0;
            for (var i = from; i < to; i++) n += marks[i] ? 1 : 0;
            chunkMarked[chunk] = n;
        });
        var total = chunkMarked.Sum();
        var (marked, others) = (new int[total], new int[marks.Length - total]);
        var before = new int[chunkMarked.Length]; // marked rows before each chunk
        for (var chunk = 1; chunk < before.Length; chunk++) before[chunk] = before[chunk - 1] + chunkMarked[chunk - 1];
        For(marks.Length, (chunk, from, to) =>
        {
            var (m, o) = (before[chunk], from - before[chunk]);
            for (var i = from; i < to; i++)
            {
                if (marks[i]) marked[m++] = i;
                else others[o++] = i;
            }
        });
        return (marked, others);
    }
}
