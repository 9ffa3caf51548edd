using Pipeline.Core;
using Pipeline.Embedded;

namespace Pipeline.Gcp.Tests;

/// <summary>
/// BigQuery's stats SQL and the embedded backend's DuckDB SQL mean the same thing: both run (the BigQuery one
/// translated mechanically) over one fixture and give the same rows, which match a hand computation.
/// </summary>
public sealed class StatsPresetTests
{
    private const string Fixture = """
        CREATE TABLE order_items (order_id BIGINT, user_id BIGINT, status VARCHAR, created_at TIMESTAMP, sale_price DOUBLE);
        INSERT INTO order_items VALUES
          (100, 1, 'Complete',  TIMESTAMP '2022-03-05 10:00:00', 10.00),
          (100, 1, 'Complete',  TIMESTAMP '2022-03-05 10:00:00', 30.00),
          (101, 1, 'Shipped',   TIMESTAMP '2022-12-31 23:59:59', 20.00),
          (102, 1, 'Cancelled', TIMESTAMP '2022-12-31 23:59:59.5', 100.00),
          (200, 2, 'Returned',  TIMESTAMP '2022-06-01 00:00:00', 50.00),
          (201, 2, 'Complete',  TIMESTAMP '2022-05-01 12:00:00', 5.50),
          (300, 3, 'Returned',  TIMESTAMP '2022-07-01 00:00:00', 70.00),
          (400, 4, 'Complete',  TIMESTAMP '2021-12-31 23:59:59', 99.00),
          (401, 4, 'Complete',  TIMESTAMP '2023-01-01 00:00:00', 99.00),
          (402, 4, 'Processing', TIMESTAMP '2022-01-01 00:00:00', 12.25);
        """;

    [Theory]
    [InlineData(StatsPreset.Rfm)]
    [InlineData(StatsPreset.Lab)]
    public void Both_backends_compute_the_same_statistics(StatsPreset preset)
    {
        var run = TestRuns.Parameters(metrics: preset);
        var bigQuery = Rows(BigQueryOnDuckDb.Translate(new SqlPlan(FakeBigQuery.Options(), run).Stats().Sql,
            new Dictionary<string, string> { ["order_items"] = "order_items" }), run, dateParameters: true);
        var embedded = Rows(DuckDbStatsBuilder.StatsSql(preset) + ";\nSELECT * FROM customer_stats", run, dateParameters: false);

        Assert.Equal(embedded.Keys.Order(), bigQuery.Keys.Order());
        foreach (var (user, row) in embedded)
        {
            Assert.Equal(row.Days, bigQuery[user].Days);
            Assert.Equal(row.Orders, bigQuery[user].Orders);
            Assert.Equal(row.Spend, bigQuery[user].Spend, 9);
            Assert.Equal(row.Items, bigQuery[user].Items);
            Assert.Equal(row.DistinctOrders, bigQuery[user].DistinctOrders);
            Assert.Equal(row.Revenue, bigQuery[user].Revenue, 9);
        }
    }

    [Fact]
    public void The_rfm_preset_matches_a_hand_computation()
    {
        var run = TestRuns.Parameters(metrics: StatsPreset.Rfm);
        var rows = Rows(BigQueryOnDuckDb.Translate(new SqlPlan(FakeBigQuery.Options(), run).Stats().Sql,
            new Dictionary<string, string> { ["order_items"] = "order_items" }), run, dateParameters: true);

        // User 1: orders 100 (two items, 40.00) and 101 (20.00); the cancelled item does not count. Last counted item
        // 2022-12-31, so 1 day before as_of 2023-01-01; 2 orders; 60.00 / 2 orders = 30.00; 3 items of 2 distinct
        // orders, 60.00 of revenue.
        Assert.Equal((1L, 2L, 30.0, 3L, 2L, 60.0), rows[1]);
        // User 2: the returned item does not count: one order of 5.50 on 2022-05-01, 245 days before as_of.
        Assert.Equal((245L, 1L, 5.5, 1L, 1L, 5.5), rows[2]);
        // User 3 has only a returned item; user 4's items outside the window do not count.
        Assert.False(rows.ContainsKey(3));
        Assert.Equal((365L, 1L, 12.25, 1L, 1L, 12.25), rows[4]);
    }

    [Theory]
    [InlineData(StatsPreset.Rfm)]
    [InlineData(StatsPreset.Lab)]
    public void The_summary_counts_non_finite_sale_prices_anywhere_in_the_source_with_an_example(StatsPreset preset)
    {
        var summary = Summary(preset, """
            INSERT INTO order_items VALUES
              (500, 5, 'Complete',  TIMESTAMP '2022-02-01 00:00:00', 'NaN'),
              (501, 5, 'Cancelled', TIMESTAMP '2022-02-01 00:00:00', 'Infinity'),
              (600, 6, 'Complete',  TIMESTAMP '2019-02-01 00:00:00', '-Infinity');
            """);

        // A cancelled item and one outside the window are refused too: the embedded backend refuses its input's
        // bad values wherever they are. DuckDB writes them as BigQuery's CAST(… AS STRING) does: nan, inf, -inf.
        Assert.Equal((3L, "-inf"), (summary.NonFinite, summary.Example));
    }

    [Fact]
    public void A_source_of_finite_prices_counts_none()
    {
        Assert.Equal((3L, 5L, 0L, (string?)null), Summary(StatsPreset.Rfm, ""));
    }

    /// <summary>BigQuery's stats and summary statements, translated, over the fixture plus <paramref name="moreRows"/>.</summary>
    private static (long Customers, long Items, long NonFinite, string? Example) Summary(StatsPreset preset, string moreRows)
    {
        var run = TestRuns.Parameters(metrics: preset);
        var plan = new SqlPlan(FakeBigQuery.Options(), run);
        using var connection = BigQueryOnDuckDb.Open();
        DuckDb.Execute(connection, Fixture + moreRows);
        var tables = new Dictionary<string, string> { ["order_items"] = "order_items", ["stats_run_1"] = "stats" };
        DuckDb.Execute(connection, "CREATE TABLE stats AS " + BigQueryOnDuckDb.Translate(plan.Stats().Sql, tables),
            ("as_of", run.AsOf), ("window_start", run.WindowStart), ("window_end", run.WindowEnd));

        using var command = DuckDb.Command(connection, BigQueryOnDuckDb.Translate(plan.StatsSummary().Sql, tables));
        using var reader = command.ExecuteReader();
        reader.Read();
        return (Count(reader.GetValue(0)), Count(reader.GetValue(1)), Count(reader.GetValue(2)), reader.IsDBNull(3) ? null : reader.GetString(3));
    }

    // DuckDB's SUM of integers is a HUGEINT, which the driver hands over as a BigInteger.
    private static long Count(object value) => long.Parse(Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture)!,
        System.Globalization.CultureInfo.InvariantCulture);

    private static Dictionary<long, (long Days, long Orders, double Spend, long Items, long DistinctOrders, double Revenue)> Rows(
        string sql, RunParameters run, bool dateParameters)
    {
        using var connection = BigQueryOnDuckDb.Open();
        DuckDb.Execute(connection, Fixture);
        object Value(DateOnly date) => dateParameters ? date : date.ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc);
        var result = new Dictionary<long, (long, long, double, long, long, double)>();
        using var command = DuckDb.Command(connection, sql,
            ("as_of", Value(run.AsOf)), ("window_start", Value(run.WindowStart)), ("window_end", Value(run.WindowEnd)));
        using var reader = command.ExecuteReader();
        while (reader.Read())
            result[reader.GetInt64(reader.GetOrdinal("user_id"))] = (
                Convert.ToInt64(reader.GetValue(reader.GetOrdinal(Features.DaysSinceLastOrder)), System.Globalization.CultureInfo.InvariantCulture),
                Convert.ToInt64(reader.GetValue(reader.GetOrdinal(Features.CountOrders)), System.Globalization.CultureInfo.InvariantCulture),
                reader.GetDouble(reader.GetOrdinal(Features.AverageSpend)),
                Convert.ToInt64(reader.GetValue(reader.GetOrdinal(BucketTables.ItemsCounted)), System.Globalization.CultureInfo.InvariantCulture),
                Convert.ToInt64(reader.GetValue(reader.GetOrdinal(BucketTables.DistinctOrders)), System.Globalization.CultureInfo.InvariantCulture),
                reader.GetDouble(reader.GetOrdinal(BucketTables.Revenue)));
        return result;
    }
}
