using System.Globalization;
using DuckDB.NET.Data;
using Pipeline.Core;
using Pipeline.Embedded;

namespace Pipeline.Tests.Embedded;

/// <summary>
/// The profiles' and the report's faster paths against the plain SQL they replace, on generated customers: the
/// quantiles selected in process are quantile_cont's and median's doubles, to the bit; and the segments' totals
/// joined by position are the hash join's, falling back to it when the tables are not in the same order.
/// </summary>
public sealed class SegmentQuantilesTests : IDisposable
{
    private readonly DuckDBConnection _connection = DuckDb.Open(new EmbeddedOptions());

    /// <summary>
    /// 60,000 customers in user order: segment 1 most of them, segments 2 and 3 fewer, segment 4 one customer and
    /// segment 5 two; whole-number features with many ties, and spends with cents, thirds and negative values.
    /// </summary>
    private const string Customers = """
        CREATE TABLE predictions AS
        SELECT user_id,
               CASE WHEN user_id = 7 THEN 4 WHEN user_id IN (11, 12) THEN 5 WHEN user_id % 10 < 7 THEN 1 WHEN user_id % 10 < 9 THEN 2 ELSE 3 END AS centroid_id,
               (hash(user_id) % 400)::BIGINT AS days_since_last_order,
               (1 + hash(user_id * 3) % 4 * (hash(user_id * 5) % 3))::BIGINT AS count_orders,
               CASE WHEN user_id % 97 = 0 THEN -12.5 + user_id / 1000.0
                    ELSE round((hash(user_id * 7) % 60000) / 100.0, 2) / (1 + hash(user_id * 11) % 3) END AS average_spend
        FROM range(1, 60001) AS t(user_id)
        ORDER BY user_id;
        CREATE TABLE customer_stats AS
        SELECT user_id, 1 + user_id % 5 AS items_counted, 1 + user_id % 3 AS distinct_orders, (user_id % 400) * 0.25 AS revenue
        FROM range(1, 60001) AS t(user_id)
        ORDER BY user_id;
        """;

    public SegmentQuantilesTests() => DuckDb.Execute(_connection, Customers);

    public void Dispose() => _connection.Dispose();

    [Fact]
    public void Quartiles_are_quantile_conts_doubles_per_segment_and_for_everyone()
    {
        var quartiles = SegmentQuantiles.Read(_connection, "predictions", Features.All, [0.25, 0.5, 0.75]);

        var expected = QuantileConts();
        Assert.Equal([0, 1, 2, 3, 4, 5], quartiles.Keys.Order());
        Assert.Equal(expected.Count, quartiles.Count);
        foreach (var (id, values) in expected)
            for (var feature = 0; feature < 3; feature++)
                Assert.Equal(values[feature], quartiles[id][feature]);
        // The spends' median falls between two different values: the interpolation was needed.
        Assert.NotEqual(Math.Floor(quartiles[0][2][1]), quartiles[0][2][1]);
    }

    [Fact]
    public void Medians_are_the_reports_medians()
    {
        var medians = SegmentQuantiles.Read(_connection, "predictions", Features.All, [0.5]);

        var expected = Rows($"""
            SELECT CASE WHEN grouping(centroid_id) = 1 THEN 0 ELSE centroid_id END,
                   {string.Join(", ", Features.All.Select(f => $"median({f})::DOUBLE"))}
            FROM predictions
            GROUP BY GROUPING SETS ((centroid_id), ())
            """, r => (Id: Convert.ToInt32(r.GetValue(0), CultureInfo.InvariantCulture),
                Values: Enumerable.Range(1, 3).Select(r.GetDouble).ToArray()));
        foreach (var (id, values) in expected)
            Assert.Equal(values, medians[id].Select(m => m.Single()));
    }

    [Fact]
    public void A_null_is_left_out_of_its_own_columns_quantiles_as_quantile_cont_leaves_it_out()
    {
        DuckDb.Execute(_connection, "UPDATE predictions SET average_spend = NULL WHERE user_id % 3 = 0; UPDATE predictions SET days_since_last_order = NULL WHERE user_id = 7");

        var quartiles = SegmentQuantiles.Read(_connection, "predictions", Features.All, [0.25, 0.5, 0.75]);

        var expected = QuantileConts(having: "count(days_since_last_order) > 0");
        // Segment 4 is user 7 alone: without its days it has no quartiles.
        Assert.Equal([0, 1, 2, 3, 5], quartiles.Keys.Order());
        foreach (var (id, values) in expected)
            for (var feature = 0; feature < 3; feature++)
                Assert.Equal(values[feature], quartiles[id][feature]);
    }

    [Fact]
    public void Without_rows_there_are_no_quantiles()
    {
        Assert.Empty(SegmentQuantiles.Read(_connection, "(SELECT * FROM predictions WHERE false)", Features.All, [0.5]));
    }

    [Fact]
    public void Segments_joined_by_position_are_the_hash_joins_and_a_misaligned_table_falls_back_to_it()
    {
        var byId = Sql("predictions", "customer_stats");
        var aligned = Rows(byId.Segments(aligned: true), Line);
        Assert.All(aligned, row => Assert.EndsWith("|0", row, StringComparison.Ordinal));
        Assert.Equal(Rows(byId.Segments(), Line), aligned.Select(row => row[..row.LastIndexOf('|')]));

        // The statistics in another order: the positional rows are counted as misaligned, and the profile's totals
        // are still the hash join's.
        const string shuffled = "(SELECT * FROM customer_stats ORDER BY hash(user_id))";
        Assert.Contains(Rows(Sql("predictions", shuffled).Segments(aligned: true), Line), row => !row.EndsWith("|0", StringComparison.Ordinal));
        var run = new RunParameters("quantiles-run", new DateOnly(2022, 1, 1), new DateOnly(2023, 1, 1), new DateOnly(2023, 1, 1), 5,
            StatsPreset.Rfm, 42, 0.2);
        Assert.Equal(
            DuckDbSegmentProfiler.Query(_connection, byId, run, null, null).Segments,
            DuckDbSegmentProfiler.Query(_connection, Sql("predictions", shuffled), run, null, null).Segments);
    }

    [Fact]
    public void Profile_facts_from_predictions_in_several_parts_are_the_plain_sqls_and_parts_out_of_order_fall_back()
    {
        using var directory = new TempDirectory();
        // Three prediction parts of unequal sizes, in user order across them; the statistics in one part.
        string[] parts = [.. new[] { (1, 20_000), (20_001, 20_007), (20_008, 60_000) }.Select((range, i) =>
        {
            var path = Path.Combine(directory.Path, $"part-{i:D5}.parquet");
            DuckDb.Execute(_connection, $"COPY (SELECT * FROM predictions WHERE user_id BETWEEN {range.Item1} AND {range.Item2} ORDER BY user_id) TO {DuckDb.Literal(path)} (FORMAT parquet)");
            return path;
        })];
        var stats = Path.Combine(directory.Path, "stats.parquet");
        DuckDb.Execute(_connection, $"COPY (SELECT * FROM customer_stats ORDER BY user_id) TO {DuckDb.Literal(stats)} (FORMAT parquet)");
        string ReadParquet(IEnumerable<string> paths) => $"read_parquet([{string.Join(", ", paths.Select(DuckDb.Literal))}])";
        var run = new RunParameters("quantiles-run", new DateOnly(2022, 1, 1), new DateOnly(2023, 1, 1), new DateOnly(2023, 1, 1), 5,
            StatsPreset.Rfm, 42, 0.2);

        var inOrder = Sql(ReadParquet(parts), ReadParquet([stats]));
        Assert.All(Rows(inOrder.Segments(aligned: true), Line), row => Assert.EndsWith("|0", row, StringComparison.Ordinal));
        var plain = Sql("predictions", "customer_stats");
        var segments = Rows(plain.Segments(), r => new SegmentFacts((int)Long(r, 0), Long(r, 1), Long(r, 2), Long(r, 3),
            Convert.ToDouble(r.GetValue(4), CultureInfo.InvariantCulture),
            Long(r, 5), Long(r, 6), 0, 0, 0));
        var quartiles = Rows(plain.Quartiles(), r => (Id: (int)Long(r, 0), Values: Enumerable.Range(1, 9).Select(r.GetDouble).ToArray()));
        // In part order the rows line up; with the parts listed out of order they do not, and the join by id is taken.
        foreach (var order in new[] { parts, [parts[2], parts[0], parts[1]] })
        {
            var facts = DuckDbSegmentProfiler.Query(_connection, Sql(ReadParquet(order), ReadParquet([stats])), run, null, null);

            Assert.Equal(segments, facts.Segments);
            Assert.Equal(quartiles.Select(q => q.Id), facts.Quartiles.Keys.Order());
            foreach (var (id, values) in quartiles)
            {
                var q = facts.Quartiles[id];
                Assert.Equal(values, new[] { q.DaysSinceLastOrder, q.CountOrders, q.AverageSpend }.SelectMany(x => new[] { x.Q1, x.Median, x.Q3 }));
            }
        }
        Assert.Contains(Rows(Sql(ReadParquet([parts[2], parts[0], parts[1]]), ReadParquet([stats])).Segments(aligned: true), Line),
            row => !row.EndsWith("|0", StringComparison.Ordinal));
    }

    [Fact]
    public void Only_a_dialect_with_a_positional_join_joins_by_position()
    {
        var bigQuery = new ProfileSql(ProfileSqlDialect.BigQuery, new ProfileTables("items", "stats", "predictions", null, null), StatsPreset.Rfm);
        Assert.Throws<InvalidOperationException>(() => bigQuery.Segments(aligned: true));
    }

    private static ProfileSql Sql(string predictions, string stats) =>
        new(ProfileSqlDialect.DuckDb, new ProfileTables("order_items", stats, predictions, null, null), StatsPreset.Rfm);

    private static string Line(System.Data.Common.DbDataReader reader) =>
        string.Join("|", Enumerable.Range(0, reader.FieldCount).Select(i => Convert.ToString(reader.GetValue(i), CultureInfo.InvariantCulture)));

    // DuckDB sums integers as HUGEINT, which arrives as a BigInteger.
    private static long Long(System.Data.Common.DbDataReader reader, int ordinal) => reader.GetValue(ordinal) switch
    {
        System.Numerics.BigInteger big => (long)big,
        var value => Convert.ToInt64(value, CultureInfo.InvariantCulture),
    };

    /// <summary>
    /// DuckDB's own quartiles of the three features per segment and for everyone (id 0), in the groups
    /// <paramref name="having"/> keeps: [feature][q1, median, q3].
    /// </summary>
    private List<(int Id, double[][] Values)> QuantileConts(string having = "true") => Rows($"""
        SELECT CASE WHEN grouping(centroid_id) = 1 THEN 0 ELSE centroid_id END,
               {string.Join(", ", Features.All.Select(f => $"quantile_cont(CAST({f} AS DOUBLE), [0.25, 0.5, 0.75])"))}
        FROM predictions
        GROUP BY GROUPING SETS ((centroid_id), ())
        HAVING {having}
        """, r => (Id: Convert.ToInt32(r.GetValue(0), CultureInfo.InvariantCulture),
            Values: Enumerable.Range(1, 3).Select(c => ((System.Collections.IList)r.GetValue(c)).Cast<object>()
                .Select(v => Convert.ToDouble(v, CultureInfo.InvariantCulture)).ToArray()).ToArray()));

    private List<T> Rows<T>(string sql, Func<System.Data.Common.DbDataReader, T> row)
    {
        using var command = DuckDb.Command(_connection, sql);
        using var reader = command.ExecuteReader();
        var rows = new List<T>();
        while (reader.Read()) rows.Add(row(reader));
        return rows;
    }
}
