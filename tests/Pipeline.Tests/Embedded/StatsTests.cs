using Microsoft.Extensions.Options;
using Pipeline.Core;
using Pipeline.Embedded;

namespace Pipeline.Tests.Embedded;

/// <summary>BuildStats on DuckDB against statistics computed by hand for Fixtures/order_items_small.csv.</summary>
public sealed class StatsTests : IDisposable
{
    private readonly TempDirectory _bucketDirectory = new();

    public void Dispose() => _bucketDirectory.Dispose();

    private static RunParameters Window(StatsPreset preset) =>
        new("stats-test", new DateOnly(2023, 1, 1), new DateOnly(2023, 2, 1), new DateOnly(2023, 2, 1), 2, preset, 42, 0.2);

    private async Task<(StatsSummary Summary, List<(long User, long Days, long Orders, double Spend)> Rows)> BuildAsync(
        RunParameters parameters, string input)
    {
        var options = Options.Create(new EmbeddedOptions { BucketDirectory = _bucketDirectory.Path, Input = input });
        var bucket = new FileSystemBucket(options);
        var summary = await new DuckDbStatsBuilder(options, bucket, Microsoft.Extensions.Logging.Abstractions.NullLogger<DuckDbStatsBuilder>.Instance).BuildAsync(parameters, CancellationToken.None);
        using var parts = await ((IBucket)bucket).OpenLocalPartsAsync(summary.StatsObject, CancellationToken.None);
        using var connection = DuckDb.Open(options.Value);
        using var command = DuckDb.Command(connection, $"SELECT user_id, days_since_last_order, count_orders, average_spend FROM {DuckDb.ReadParquet(parts)} ORDER BY user_id");
        using var reader = command.ExecuteReader();
        var rows = new List<(long, long, long, double)>();
        while (reader.Read()) rows.Add((reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetDouble(3)));
        return (summary, rows);
    }

    [Fact]
    public async Task Rfm_excludes_cancelled_and_returned_items_and_averages_per_order()
    {
        var (summary, rows) = await BuildAsync(Window(StatsPreset.Rfm), Fixtures.Path("order_items_small.csv"));

        // user 1: orders 100 (10 + 30) and 101 (20), order 102 cancelled; last counted item 2023-01-20.
        // user 2: order 200 returned; order 201 (5) on 2023-01-31 23:59:59.
        // user 3: only 302 (40) at exactly window_start counts; 300 is before, 301 at window_end is excluded.
        // user 4: only a cancelled item: no row.
        Assert.Equal([(1L, 12L, 2L, 30.0), (2L, 1L, 1L, 5.0), (3L, 31L, 1L, 40.0)], rows);
        Assert.Equal(3, summary.Customers);
        Assert.Equal(5, summary.ItemsCounted);
        Assert.Equal("runs/stats-test/customer_stats/", summary.StatsObject);
    }

    [Fact]
    public async Task Lab_counts_every_status_line_items_and_averages_item_prices()
    {
        var (summary, rows) = await BuildAsync(Window(StatsPreset.Lab), Fixtures.Path("order_items_small.csv"));

        Assert.Equal([(1L, 7L, 4L, 40.0), (2L, 1L, 2L, 27.5), (3L, 31L, 1L, 40.0), (4L, 17L, 1L, 25.0)], rows);
        Assert.Equal(8, summary.ItemsCounted);
    }

    [Fact]
    public async Task Recency_is_measured_from_as_of()
    {
        var (_, rows) = await BuildAsync(Window(StatsPreset.Rfm) with { AsOf = new DateOnly(2023, 3, 1) }, Fixtures.Path("order_items_small.csv"));
        Assert.Equal([40L, 29L, 59L], rows.Select(r => r.Days));
    }

    [Fact]
    public async Task Parquet_and_DuckDB_inputs_give_the_same_statistics_as_the_CSV()
    {
        var csv = Fixtures.Path("order_items_small.csv");
        var parquet = _bucketDirectory.File("items.parquet");
        var database = _bucketDirectory.File("items.duckdb");
        using (var connection = DuckDb.Open(new EmbeddedOptions()))
        {
            OrderItemsSource.AttachChecked(connection, csv);
            DuckDb.Execute(connection, $"COPY (SELECT order_id, user_id, status, created_at, sale_price FROM order_items) TO {DuckDb.Literal(parquet)} (FORMAT parquet)");
            DuckDb.Execute(connection, $"ATTACH {DuckDb.Literal(database)} AS target");
            DuckDb.Execute(connection, "CREATE TABLE target.order_items AS SELECT order_id, user_id, status, created_at, sale_price FROM order_items");
            DuckDb.Execute(connection, "DETACH target");
        }

        var expected = (await BuildAsync(Window(StatsPreset.Rfm), csv)).Rows;
        Assert.Equal(expected, (await BuildAsync(Window(StatsPreset.Rfm), parquet)).Rows);
        Assert.Equal(expected, (await BuildAsync(Window(StatsPreset.Rfm), database)).Rows);
    }

    [Theory]
    [InlineData("order_id,user_id,status,created_at\n1,1,Complete,2023-01-05 10:00:00 UTC\n", "lacks the required column sale_price")]
    [InlineData("order_id,user_id,status,created_at,sale_price\n1,1,Complete,yesterday,10\n", "created_at is not a timestamp such as 2022-03-04 05:06:07 UTC or 2022-03-04T05:06:07Z, e.g. 'yesterday'")]
    [InlineData("order_id,user_id,status,created_at,sale_price\n1,1,Complete,2023-01-05 10:00:00 UTC,ten\n", "sale_price is not a finite number, e.g. 'ten'")]
    [InlineData("order_id,user_id,status,created_at,sale_price\n1,abc,Complete,2023-01-05 10:00:00 UTC,10\n", "user_id is not a whole number, e.g. 'abc'")]
    [InlineData("order_id,user_id,status,created_at,sale_price\n1,1,Complete,,10\n", "with an empty created_at")]
    public async Task Bad_input_is_a_permanent_error_naming_the_problem(string csv, string reason)
    {
        var input = _bucketDirectory.Write("bad.csv", csv);
        var error = await Assert.ThrowsAsync<PermanentPipelineException>(() => BuildAsync(Window(StatsPreset.Rfm), input));
        Assert.Contains(reason, error.Message);
    }

    [Fact]
    public async Task A_CSV_in_one_export_format_is_read_typed_with_the_same_statistics()
    {
        // The fixture with every timestamp in BigQuery's export format (its first row's), so the typed read takes it all.
        var uniform = File.ReadAllText(Fixtures.Path("order_items_small.csv"))
            .Replace("2023-01-01T00:00:00Z", "2023-01-01 00:00:00 UTC", StringComparison.Ordinal)
            .Replace("10:00:00.123456 UTC", "10:00:00 UTC", StringComparison.Ordinal);
        var (summary, rows) = await BuildAsync(Window(StatsPreset.Rfm), _bucketDirectory.Write("uniform.csv", uniform));

        Assert.Equal([(1L, 12L, 2L, 30.0), (2L, 1L, 1L, 5.0), (3L, 31L, 1L, 40.0)], rows);
        Assert.Equal(5, summary.ItemsCounted);
    }

    [Theory]
    [InlineData("123", 123L)]
    [InlineData("-5", -5L)]
    [InlineData("0", 0L)]
    [InlineData("9223372036854775807", long.MaxValue)]
    [InlineData("+5", 5L)]
    [InlineData("007", 7L)]
    [InlineData(" 42 ", 42L)]
    [InlineData("1.5", null)]
    [InlineData("2.0", null)]
    [InlineData("1e3", null)]
    [InlineData("0x10", null)]
    [InlineData("1_000", null)]
    [InlineData("9223372036854775808", null)]
    [InlineData("", null)]
    [InlineData("abc", null)]
    public void An_id_read_as_text_is_a_whole_number_or_refused(string text, long? expected)
    {
        // The quick read-back check and the regular expression behind it must agree: the first takes plain ids,
        // the second the rest, and neither what DuckDB's cast would round or reinterpret.
        using var connection = DuckDb.Open(new EmbeddedOptions());
        using var command = DuckDb.Command(connection,
            $"SELECT {OrderItemsSource.Integer("id", new() { ["id"] = "VARCHAR" })} FROM (SELECT CAST($text AS VARCHAR) AS id)", ("text", text));
        var value = command.ExecuteScalar();
        Assert.Equal(expected, value is DBNull ? null : (long?)value);
    }

    [Fact]
    public async Task A_bad_value_after_thousands_of_good_rows_is_named()
    {
        // The typed CSV read fails on the last row; the text read then names the value.
        var csv = new System.Text.StringBuilder("order_id,user_id,status,created_at,sale_price\n");
        for (var i = 1; i <= 5000; i++) csv.Append(System.Globalization.CultureInfo.InvariantCulture, $"{i},{i % 50 + 1},Complete,2023-01-{i % 28 + 1:00} 10:00:00 UTC,{i % 90 + 1}.25\n");
        csv.Append("5001,7,Complete,2023-01-05 10:00:00 UTC,n/a\n");
        var error = await Assert.ThrowsAsync<PermanentPipelineException>(() => BuildAsync(Window(StatsPreset.Rfm), _bucketDirectory.Write("late.csv", csv.ToString())));
        Assert.Contains("has 1 row(s) whose sale_price is not a finite number, e.g. 'n/a'", error.Message);

        // In Parquet a missing value is a NULL, which the statistics pass counts.
        var parquet = _bucketDirectory.File("late.parquet");
        using (var connection = DuckDb.Open(new EmbeddedOptions()))
            DuckDb.Execute(connection, $"""
                COPY (SELECT i AS order_id, CASE WHEN i = 4000 THEN NULL ELSE i % 50 END AS user_id, 'Complete' AS status,
                             TIMESTAMP '2023-01-05 10:00:00' AS created_at, 10.0 AS sale_price FROM range(1, 5001) r(i))
                TO {DuckDb.Literal(parquet)} (FORMAT parquet)
                """);
        error = await Assert.ThrowsAsync<PermanentPipelineException>(() => BuildAsync(Window(StatsPreset.Rfm), parquet));
        Assert.Contains("has 1 row(s) with an empty user_id", error.Message);
    }

    [Fact]
    public async Task A_missing_input_file_is_a_permanent_error()
    {
        var error = await Assert.ThrowsAsync<PermanentPipelineException>(() => BuildAsync(Window(StatsPreset.Rfm), _bucketDirectory.File("nope.csv")));
        Assert.Contains("does not exist", error.Message);
    }

    [Fact]
    public async Task A_database_without_order_items_is_a_permanent_error()
    {
        var database = _bucketDirectory.File("empty.duckdb");
        using (var connection = DuckDb.Open(new EmbeddedOptions()))
            DuckDb.Execute(connection, $"ATTACH {DuckDb.Literal(database)} AS target; CREATE TABLE target.orders(x INTEGER); DETACH target");
        var error = await Assert.ThrowsAsync<PermanentPipelineException>(() => BuildAsync(Window(StatsPreset.Rfm), database));
        Assert.Contains("has no order_items table", error.Message);
    }
}
