namespace Pipeline.Analytics;

/// <summary>
/// Customers' three features (<see cref="Core.Features.All"/> order) in one row-major array, with their user ids:
/// the compact form K-means works on (24 bytes a customer).
/// </summary>
public sealed class CustomerFeatures
{
    public const int Dimensions = 3;

    public CustomerFeatures(long[] userIds, double[] values)
    {
        if (values.Length != userIds.Length * Dimensions)
            throw new ArgumentException($"expected {userIds.Length * Dimensions} values for {userIds.Length} customers, got {values.Length}");
        UserIds = userIds;
        Values = values;
    }

    public long[] UserIds { get; }
    public double[] Values { get; }
    public int Count => UserIds.Length;

    public ReadOnlySpan<double> Row(int index) => Values.AsSpan(index * Dimensions, Dimensions);

    /// <summary>
    /// The rows <paramref name="selected"/> marks and the others, each in order. Chunks are counted first, so each
    /// chunk knows where its rows go on both sides and copies them on its own core.
    /// </summary>
    public (CustomerFeatures Selected, CustomerFeatures Others) Split(bool[] selected)
    {
        if (selected.Length != Count) throw new ArgumentException($"expected {Count} marks, got {selected.Length}");
        var chunkSelected = new int[RowChunks.Count(Count)];
        RowChunks.For(Count, (chunk, from, to) =>
        {
            var n = 0;
            for (var i = from; i < to; i++) if (selected[i]) n++;
            chunkSelected[chunk] = n;
        });
        var total = chunkSelected.Sum();
        var parts = new[] { Empty(Count - total), Empty(total) };
        var starts = new int[chunkSelected.Length];
        for (var chunk = 1; chunk < starts.Length; chunk++) starts[chunk] = starts[chunk - 1] + chunkSelected[chunk - 1];
        RowChunks.For(Count, (chunk, from, to) =>
        {
            // Before this chunk: starts[chunk] selected rows, the rest not.
            var next = new[] { from - starts[chunk], starts[chunk] };
            for (var i = from; i < to; i++)
            {
                var part = selected[i] ? 1 : 0;
                var j = next[part]++;
                parts[part].UserIds[j] = UserIds[i];
                Values.AsSpan(i * Dimensions, Dimensions).CopyTo(parts[part].Values.AsSpan(j * Dimensions, Dimensions));
            }
        });
        return (parts[1], parts[0]);
    }

    private static CustomerFeatures Empty(int count) => new(new long[count], new double[count * Dimensions]);

    /// <summary>
    /// The same customers ordered by user id (this instance when they already are). K-means++ picks its first
    /// centroids by row position, so a fixed order makes the model independent of the order the rows came in.
    /// </summary>
    public CustomerFeatures OrderedByUserId()
    {
        if (IsOrderedByUserId()) return this;
        var ids = (long[])UserIds.Clone();
        var positions = Enumerable.Range(0, Count).ToArray();
        Array.Sort(ids, positions);
        var values = new double[Values.Length];
        for (var i = 0; i < positions.Length; i++) Array.Copy(Values, positions[i] * Dimensions, values, i * Dimensions, Dimensions);
        return new CustomerFeatures(ids, values);
    }

    /// <summary>Whether the user ids never decrease (as the statistics are written).</summary>
    public bool IsOrderedByUserId()
    {
        for (var i = 1; i < Count; i++)
            if (UserIds[i - 1] > UserIds[i]) return false;
        return true;
    }

    /// <summary>The values of one feature, in row order.</summary>
    public double[] Column(int feature) => Column(Values, Dimensions, feature);

    /// <summary>The features one array each, in row order.</summary>
    public double[][] Columns() => Columns(Values, Dimensions);

    /// <summary>Row-major <paramref name="values"/> (<paramref name="dimensions"/> a row) as one array per feature.</summary>
    public static double[][] Columns(double[] values, int dimensions) =>
        [.. Enumerable.Range(0, dimensions).Select(f => Column(values, dimensions, f))];

    private static double[] Column(double[] values, int dimensions, int feature)
    {
        var column = new double[values.Length / dimensions];
        for (var i = 0; i < column.Length; i++) column[i] = values[i * dimensions + feature];
        return column;
    }
}
