using DuckDB.NET.Data;
using Pipeline.Analytics;

namespace Pipeline.Embedded;

/// <summary>
/// DuckDB's interpolating quantiles (<c>quantile_cont</c> over the column as DOUBLE) of numeric columns, per segment
/// and for the whole population (centroid id 0), to the bit — without DuckDB gathering and sorting every value.
/// </summary>
/// <remarks>
/// <c>quantile_cont</c> keeps every value of every group: at millions of customers, per segment and again for the
/// population, that is most of Predict's profile and of the report. Here the columns are read once into arrays (a
/// vector at a time, <see cref="DuckDbColumnReader"/>) and <see cref="GroupQuantiles"/> selects, per segment and for
/// everyone, only the values at the ranks each quantile reads.
/// </remarks>
public static class SegmentQuantiles
{
    /// <summary>
    /// The <paramref name="fractions"/> quantiles of each of <paramref name="columns"/> (non-null values) of
    /// <paramref name="table"/> (which has a <c>centroid_id</c>), by centroid id (0: everyone; an id only when it has
    /// values): [column][fraction].
    /// </summary>
    public static Dictionary<int, double[][]> Read(DuckDBConnection connection, string table, IReadOnlyList<string> columns,
        IReadOnlyList<double> fractions)
    {
        var rows = DuckDb.Scalar<long>(connection, $"SELECT count(*) FROM {table}");
        var centroidIds = new long[rows];
        var values = columns.Select(_ => new double[rows]).ToArray();
        // A null is read as NaN, which GroupQuantiles leaves out of its column (the columns read here are finite).
        DuckDbColumnReader.Read(connection, $"""
            SELECT CAST(centroid_id AS BIGINT), {string.Join(", ", columns.Select(c => $"CAST({c} AS DOUBLE)"))}
            FROM {table}
            """, [new(centroidIds), .. values.Select(v => new DuckDbColumnReader.Target(v, NullAsNaN: true))]);
        return GroupQuantiles.Of(centroidIds, values, fractions);
    }
}
