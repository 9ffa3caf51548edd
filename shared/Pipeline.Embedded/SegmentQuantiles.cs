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
        IReadOnlyList<double> fractions) =>
        ReadColumns(connection, table, columns).Quantiles(fractions);

    /// <summary>
    /// Each row's <c>centroid_id</c> and <paramref name="columns"/> as DOUBLE (a null as NaN), read as two streams side
    /// by side (<see cref="DuckDbColumnReader.ReadSideBySide"/>): what the quantiles select from, and what else a caller
    /// sums from the same arrays.
    /// </summary>
    /// <param name="table">A table expression every connection to the database sees: files, or a table that is not TEMP.</param>
    public static SegmentColumns ReadColumns(DuckDBConnection connection, string table, IReadOnlyList<string> columns)
    {
        var rows = DuckDb.Scalar<long>(connection, $"SELECT count(*) FROM {table}");
        var centroidIds = new long[rows];
        var values = columns.Select(_ => new double[rows]).ToArray();
        var read = new SegmentColumns(centroidIds, values);
        DuckDbColumnReader.ReadSideBySide(connection, table, Targets(read, columns));
        return read;
    }

    /// <summary>Where <see cref="ReadColumns"/> reads each column to: the centroid id as BIGINT, the others as DOUBLE (a null as NaN).</summary>
    internal static List<(string Sql, DuckDbColumnReader.Target Target)> Targets(SegmentColumns read, IReadOnlyList<string> columns) =>
        [("CAST(centroid_id AS BIGINT)", new(read.CentroidIds)),
         .. columns.Select((c, i) => ($"CAST({c} AS DOUBLE)", new DuckDbColumnReader.Target(read.Values[i], NullAsNaN: true)))];
}

/// <summary>Every row's centroid id and the values of some columns (<see cref="SegmentQuantiles.ReadColumns"/>; NaN: null).</summary>
public sealed record SegmentColumns(long[] CentroidIds, double[][] Values)
{
    /// <summary>The quantiles of each column by centroid id, as <see cref="SegmentQuantiles.Read"/> gives them.</summary>
    // A NaN is left out of its column by GroupQuantiles, as quantile_cont leaves out a null.
    public Dictionary<int, double[][]> Quantiles(IReadOnlyList<double> fractions) => GroupQuantiles.Of(CentroidIds, Values, fractions);
}
