using System.Data.Common;
using DuckDB.NET.Data;

namespace Pipeline.Embedded;

/// <summary>
/// Each segment's first customers in a fixed order (the hash of their user id, then the id): the same customers every
/// time for the same predictions, whatever the number of threads or parts. What the chart and the report draw.
/// </summary>
/// <remarks>
/// Ranking every customer of a segment means sorting millions of rows for a few thousand. A segment's first q in hash
/// order are exactly its q smallest hashes, so only the customers whose hash is below a bound are ranked: the bound
/// leaves about 1.2 q + 100 of them (hashes are uniform). In the rare case a segment keeps fewer than its quota, the
/// sample is drawn again without the bound, so the result never depends on the bound.
/// </remarks>
public static class HashOrderSample
{
    /// <summary>
    /// Up to <paramref name="quotas"/>[id] rows of <paramref name="columns"/> per segment id, ordered by segment id and
    /// then hash order. <paramref name="sizes"/> are the segments' customer counts (for the bounds).
    /// </summary>
    public static List<T> Read<T>(DuckDBConnection connection, string table, string columns,
        IReadOnlyDictionary<int, long> sizes, IReadOnlyDictionary<int, long> quotas,
        Func<DbDataReader, T> row, Func<T, int> centroidIdOf)
    {
        var rows = Query(connection, table, columns, quotas, Bounds(sizes, quotas), row);
        var drawn = rows.CountBy(centroidIdOf).ToDictionary();
        if (quotas.Any(q => drawn.GetValueOrDefault(q.Key) < Math.Min(q.Value, sizes.GetValueOrDefault(q.Key))))
            rows = Query(connection, table, columns, quotas, bounds: null, row);
        return rows;
    }

    /// <summary>Per segment, the hash below which about 1.2 × its quota + 100 of its customers fall.</summary>
    private static Dictionary<int, ulong> Bounds(IReadOnlyDictionary<int, long> sizes, IReadOnlyDictionary<int, long> quotas) =>
        quotas.ToDictionary(q => q.Key, q =>
        {
            var share = (1.2 * q.Value + 100) / Math.Max(1, sizes.GetValueOrDefault(q.Key));
            return share >= 1 ? ulong.MaxValue : (ulong)(share * 18446744073709551615.0);
        });

    private static List<T> Query<T>(DuckDBConnection connection, string table, string columns,
        IReadOnlyDictionary<int, long> quotas, IReadOnlyDictionary<int, ulong>? bounds, Func<DbDataReader, T> row)
    {
        var quotaCase = string.Join(" ", quotas.Select(q => $"WHEN {q.Key} THEN {q.Value}"));
        // The widest bound first: a comparison with a constant drops ~99 % of the rows before the per-segment CASE
        // (a third of the scan's cost when evaluated on every row) and before the features are read.
        var where = bounds is null ? "" : $"WHERE hash(user_id) <= CAST({bounds.Values.DefaultIfEmpty(0UL).Max()} AS UBIGINT) " +
            "AND hash(user_id) <= CASE centroid_id " +
            string.Join(" ", bounds.Select(b => $"WHEN {b.Key} THEN CAST({b.Value} AS UBIGINT)")) + " ELSE CAST(0 AS UBIGINT) END";
        using var command = DuckDb.Command(connection, $"""
            SELECT {columns}
            FROM {table}
            {where}
            QUALIFY row_number() OVER (PARTITION BY centroid_id ORDER BY hash(user_id), user_id) <= CASE centroid_id {quotaCase} ELSE 0 END
            ORDER BY centroid_id, hash(user_id), user_id
            """);
        using var reader = command.ExecuteReader();
        var rows = new List<T>();
        while (reader.Read()) rows.Add(row(reader));
        return rows;
    }
}
