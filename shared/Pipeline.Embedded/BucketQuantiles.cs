using System.Globalization;
using DuckDB.NET.Data;

namespace Pipeline.Embedded;

/// <summary>
/// DuckDB's interpolating quantiles (<c>quantile_cont</c> over the column as DOUBLE) of numeric columns, per segment
/// and for the whole population (centroid id 0), to the bit — without gathering and sorting every value.
/// </summary>
/// <remarks>
/// <c>quantile_cont</c> keeps every value of every group: at millions of customers, per segment and again for the
/// population, that is most of Predict's profile and of the report. A quantile needs only the one or two values at its
/// ranks, so one grouped pass counts each segment's values per whole unit (<c>floor</c>) with their least and greatest;
/// that places each wanted rank in one bucket. A bucket whose values are all equal (every bucket of a whole-number
/// column) gives its value outright; the values of the few others are read in a second pass filtered to those buckets.
/// The ranks and the interpolation are <c>quantile_cont</c>'s, so the results are the same doubles.
/// </remarks>
public static class BucketQuantiles
{
    /// <summary>
    /// The <paramref name="fractions"/> quantiles of each of <paramref name="columns"/> (non-null values) of
    /// <paramref name="table"/>, by centroid id (0: everyone; an id only when it has values): [column][fraction].
    /// </summary>
    public static Dictionary<int, double[][]> Read(DuckDBConnection connection, string table, IReadOnlyList<string> columns,
        IReadOnlyList<double> fractions)
    {
        var buckets = ReadBuckets(connection, table, columns);
        var ids = buckets.Keys.Select(k => k.CentroidId).Distinct().Order().Prepend(0).ToList();
        var histograms = ids.SelectMany(id => columns.Select((_, c) => (id, c)))
            .ToDictionary(g => g, g => Histogram(buckets, g.id, g.c));
        // Every rank each quantile reads, located in its bucket; those whose bucket holds different values are read next.
        var located = new Dictionary<(int CentroidId, int Column, long Rank), Located>();
        foreach (var ((id, c), histogram) in histograms)
        {
            var count = histogram.Sum(b => b.Count);
            if (count == 0) continue;
            foreach (var fraction in fractions)
            {
                var (_, low, high) = Ranks(count, fraction);
                located.TryAdd((id, c, low), Locate(histogram, c, low));
                located.TryAdd((id, c, high), Locate(histogram, c, high));
            }
        }
        var values = ReadValues(connection, table, columns, [.. located.Values.Where(l => l.Value is null).Select(l => l.Bucket).Distinct()]);
        double At(int id, int column, long rank) => located[(id, column, rank)] is { Value: { } value } ? value : values.ValueAt(id, located[(id, column, rank)]);

        var quantiles = new Dictionary<int, double[][]>();
        foreach (var id in ids)
        {
            var counts = columns.Select((_, c) => histograms[(id, c)].Sum(b => b.Count)).ToList();
            if (counts.Any(n => n == 0)) continue;
            quantiles[id] = [.. counts.Select((count, c) => fractions.Select(fraction =>
            {
                var (position, low, high) = Ranks(count, fraction);
                var d = position - low;
                // quantile_cont's interpolation of doubles, written as DuckDB writes it: lo × (1 − d) + hi × d, d = RN − FRN.
                return low == high ? At(id, c, low) : At(id, c, low) * (1.0 - d) + At(id, c, high) * d;
            }).ToArray())];
        }
        return quantiles;
    }

    /// <summary>A whole-unit bucket of a column's values within one segment.</summary>
    private readonly record struct Bucket(double Floor, long Count, double Low, double High);

    /// <summary>Where a rank falls: its column's bucket, its rank within it, and its value when the bucket tells it.</summary>
    private readonly record struct Located((int Column, double Floor) Bucket, long RankInBucket, double? Value);

    /// <summary>quantile_cont's position RN = (n − 1) × q and the ranks FRN = floor(RN), CRN = ceil(RN) it reads.</summary>
    private static (double Position, long Low, long High) Ranks(long count, double fraction)
    {
        var position = (count - 1) * fraction;
        return (position, (long)Math.Floor(position), (long)Math.Ceiling(position));
    }

    private static Dictionary<(int CentroidId, int Column), List<Bucket>> ReadBuckets(DuckDBConnection connection, string table,
        IReadOnlyList<string> columns)
    {
        var types = DuckDb.ColumnTypes(connection, table);
        var sql = string.Join("\nUNION ALL\n", columns.Select((column, c) =>
            DuckDb.IsWholeNumberType(types[column]) ? ValueBuckets(table, column, c) : FloorBuckets(table, column, c)));
        var buckets = new Dictionary<(int, int), List<Bucket>>();
        using var command = DuckDb.Command(connection, sql);
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            var key = (Convert.ToInt32(reader.GetValue(1), CultureInfo.InvariantCulture), reader.GetInt32(0));
            if (!buckets.TryGetValue(key, out var list)) buckets[key] = list = [];
            list.Add(new Bucket(reader.GetDouble(2), reader.GetInt64(3), reader.GetDouble(4), reader.GetDouble(5)));
        }
        return buckets;
    }

    /// <summary>
    /// A whole-number column's buckets are its values (their floor is the same, but DuckDB computes it, at a cost
    /// that doubles the pass), each its own least and greatest value.
    /// </summary>
    private static string ValueBuckets(string table, string column, int c) => string.Create(CultureInfo.InvariantCulture, $"""
        SELECT {c} AS c, centroid_id, CAST(bucket AS DOUBLE), n, CAST(bucket AS DOUBLE), CAST(bucket AS DOUBLE)
        FROM (SELECT centroid_id, {column} AS bucket, count(*) AS n FROM {table} WHERE {column} IS NOT NULL GROUP BY ALL)
        """);

    /// <summary>Any other column's buckets are its values' floors, with their least and greatest value.</summary>
    private static string FloorBuckets(string table, string column, int c) => string.Create(CultureInfo.InvariantCulture, $"""
        SELECT {c} AS c, centroid_id, CAST(bucket AS DOUBLE), n, CAST(low AS DOUBLE), CAST(high AS DOUBLE)
        FROM (SELECT centroid_id, floor({column}) AS bucket, count(*) AS n, min({column}) AS low, max({column}) AS high
              FROM {table} WHERE {column} IS NOT NULL GROUP BY ALL)
        """);

    /// <summary>A segment's buckets of a column in order; for id 0, every segment's merged.</summary>
    private static List<Bucket> Histogram(Dictionary<(int CentroidId, int Column), List<Bucket>> buckets, int id, int column) =>
        [.. buckets.Where(b => b.Key.Column == column && (id == 0 || b.Key.CentroidId == id))
            .SelectMany(b => b.Value)
            .GroupBy(b => b.Floor)
            .Select(g => new Bucket(g.Key, g.Sum(b => b.Count), g.Min(b => b.Low), g.Max(b => b.High)))
            .OrderBy(b => b.Floor)];

    private static Located Locate(List<Bucket> histogram, int column, long rank)
    {
        var before = 0L;
        foreach (var bucket in histogram)
        {
            if (rank < before + bucket.Count)
                return new Located((column, bucket.Floor), rank - before, bucket.Low == bucket.High ? bucket.Low : null);
            before += bucket.Count;
        }
        throw new InvalidOperationException($"rank {rank} is past the {before} values");
    }

    /// <summary>The values of the buckets whose values differ, by column and bucket, each with its segment.</summary>
    private sealed class BucketValues(Dictionary<(int Column, double Floor), List<(int CentroidId, double Value)>> values)
    {
        private readonly Dictionary<(int Id, (int, double) Bucket), double[]> _sorted = [];

        public double ValueAt(int id, Located located)
        {
            if (!_sorted.TryGetValue((id, located.Bucket), out var sorted))
                _sorted[(id, located.Bucket)] = sorted =
                    [.. values[located.Bucket].Where(v => id == 0 || v.CentroidId == id).Select(v => v.Value).Order()];
            return sorted[located.RankInBucket];
        }
    }

    private static BucketValues ReadValues(DuckDBConnection connection, string table, IReadOnlyList<string> columns,
        List<(int Column, double Floor)> wanted)
    {
        var values = new Dictionary<(int, double), List<(int, double)>>();
        if (wanted.Count == 0) return new BucketValues(values);
        // A semi join on the wanted floors: DuckDB tests an IN list value by value, which costs three times the scan.
        var sql = string.Join("\nUNION ALL\n", wanted.GroupBy(w => w.Column).Select(g => string.Create(CultureInfo.InvariantCulture, $"""
            SELECT {g.Key} AS c, centroid_id, CAST(floor({columns[g.Key]}) AS DOUBLE), CAST({columns[g.Key]} AS DOUBLE)
            FROM {table}
            SEMI JOIN (SELECT unnest([{string.Join(", ", g.Select(w => DuckDb.Number(w.Floor)))}]::DOUBLE[]) AS wanted_floor) AS wanted
              ON CAST(floor({columns[g.Key]}) AS DOUBLE) = wanted.wanted_floor
            """)));
        using var command = DuckDb.Command(connection, sql);
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            var key = (reader.GetInt32(0), reader.GetDouble(2));
            if (!values.TryGetValue(key, out var list)) values[key] = list = [];
            list.Add((Convert.ToInt32(reader.GetValue(1), CultureInfo.InvariantCulture), reader.GetDouble(3)));
        }
        return new BucketValues(values);
    }
}
