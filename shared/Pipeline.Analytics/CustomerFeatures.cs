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
