using System.Globalization;
using Pipeline.Campaigns;
using Pipeline.Core;
using Pipeline.Embedded;

namespace Pipeline.Gcp.Tests;

/// <summary>
/// The GCP backend's profile SQL means what the embedded backend's does: each statement of the plan, translated
/// mechanically, runs on DuckDB over one fixture (with its customer statistics) and returns the same rows (both
/// presets; the embedded profiler's own quartiles are checked against quantile_cont in SegmentQuantilesTests); and an LLM answer that
/// names a country or category its segment's profile does not list is rejected.
/// </summary>
public sealed class ProfileSqlTests
{
    private const string Fixture = """
        CREATE TABLE order_items (order_id BIGINT, user_id BIGINT, product_id BIGINT, status VARCHAR, created_at TIMESTAMP, sale_price DOUBLE);
        INSERT INTO order_items VALUES
          (100, 1, 1, 'Complete',  TIMESTAMP '2022-03-05 10:00:00', 10.00),
          (100, 1, 2, 'Complete',  TIMESTAMP '2022-03-05 10:00:00', 30.00),
          (101, 1, 9, 'Shipped',   TIMESTAMP '2022-12-31 23:59:59', 20.00),
          (102, 1, 1, 'Cancelled', TIMESTAMP '2022-12-31 23:59:59', 100.00),
          (200, 2, 2, 'Returned',  TIMESTAMP '2022-06-01 00:00:00', 50.00),
          (201, 2, 3, 'Complete',  TIMESTAMP '2022-05-01 12:00:00', 5.50),
          (300, 3, 3, 'Complete',  TIMESTAMP '2022-07-01 00:00:00', 70.00),
          (400, 4, 1, 'Complete',  TIMESTAMP '2021-12-31 23:59:59', 99.00),
          (401, 4, 2, 'Processing', TIMESTAMP '2022-01-01 00:00:00', 12.25);
        CREATE TABLE predictions (user_id BIGINT, centroid_id BIGINT, days_since_last_order BIGINT, count_orders BIGINT, average_spend DOUBLE);
        INSERT INTO predictions VALUES (1, 1, 1, 2, 30.0), (2, 2, 245, 1, 5.5), (3, 2, 184, 1, 70.0), (4, 1, 365, 1, 12.25);
        CREATE TABLE users (id BIGINT, first_name VARCHAR, gender VARCHAR, age BIGINT, country VARCHAR, traffic_source VARCHAR, latitude DOUBLE);
        INSERT INTO users VALUES (1, 'Ann', 'F', 24, 'Japan', 'Search', 35.6), (2, 'Bo', 'M', 25, 'Brasil', 'Email', -23.5), (4, 'Cy', 'F', 70, NULL, 'Search', 1.0);
        CREATE TABLE products (id BIGINT, name VARCHAR, department VARCHAR, category VARCHAR, brand VARCHAR, cost DOUBLE);
        INSERT INTO products VALUES (1, 'a', 'Women', 'Jeans', 'Levi''s', 4.0), (2, 'b', 'Women', 'Intimates', 'Hanes', 12.0), (3, 'c', 'Men', 'Socks', 'Hanes', 1.0);
        """;

    [Theory]
    [InlineData(StatsPreset.Rfm)]
    [InlineData(StatsPreset.Lab)]
    public void The_plan_profile_statements_return_the_embedded_rows(StatsPreset preset)
    {
        var run = TestRuns.Parameters(k: 2, metrics: preset);
        var plan = new SqlPlan(FakeBigQuery.Options(), run);
        var embedded = new ProfileSql(ProfileSqlDialect.DuckDb,
            new ProfileTables("order_items", "customer_stats", "predictions", "users", "products"), preset);
        var tables = new Dictionary<string, string>
        {
            ["order_items"] = "order_items", ["users"] = "users", ["products"] = "products",
            [$"predictions_{BigQueryNames.RunSuffix(run.RunId)}"] = "predictions", [$"stats_{BigQueryNames.RunSuffix(run.RunId)}"] = "customer_stats",
        };
        var pairs = new (SqlStatement? BigQuery, string? DuckDb)[]
        {
            (plan.ProfileSegments(), embedded.Segments()), (plan.ProfileQuartiles(), embedded.Quartiles()),
            (plan.ProfilePeople(), embedded.People()), (plan.ProfileCatalogue(), embedded.Catalogue()),
        };
        foreach (var (bigQuery, duckDb) in pairs)
        {
            var fromBigQuery = Rows(BigQueryOnDuckDb.Translate(bigQuery!.Sql, tables), run, dateParameters: true);
            var fromDuckDb = Rows(duckDb!, run, dateParameters: false);
            Assert.NotEmpty(fromDuckDb);
            Assert.Equal(fromDuckDb, fromBigQuery);
        }

        // By hand (rfm): segment 1 is users 1 and 4; user 1's counted items are 10 + 30 + 20 (the cancelled one does not
        // count), user 4's only item in the window is the processing one, 12.25. Product 9 is not in products.
        var segments = Rows(embedded.Segments(), run, dateParameters: false);
        var catalogue = Rows(embedded.Catalogue()!, run, dateParameters: false);
        if (preset == StatsPreset.Rfm)
        {
            Assert.Equal("1|2|3|4|72.25|0|0", segments[0]);
            Assert.Equal("1|NULL|NULL|2|72.25|1|52.25|28", catalogue.Single(r => r.StartsWith("1|NULL|", StringComparison.Ordinal)));
            // Segment 2: user 2's returned item does not count; user 3 is not in users (1 item, 1 customer).
            Assert.Equal("2|2|2|2|75.5|1|1", segments[1]);
            Assert.Equal("2|NULL|NULL|2|75.5|0|75.5|2", catalogue.Single(r => r.StartsWith("2|NULL|", StringComparison.Ordinal)));
            // Jeans: product 1, user 1's 10.00 (user 4's item of it is outside the window).
            Assert.Contains("1|category|Jeans|1|10|0|10|4", catalogue);
        }
    }

    [Fact]
    public void The_plan_reads_users_and_products_only_for_the_profiled_columns_and_drops_them_when_not_configured()
    {
        var run = TestRuns.Parameters();
        var plan = new SqlPlan(FakeBigQuery.Options(), run);
        var all = string.Join("\n", plan.All(30_000).Select(s => s.Sql));
        Assert.Contains("`bigquery-public-data.thelook_ecommerce.users`", all, StringComparison.Ordinal);
        Assert.Contains("`bigquery-public-data.thelook_ecommerce.products`", all, StringComparison.Ordinal);
        foreach (var personal in new[] { "first_name", "last_name", "email", "street_address", "postal_code", "latitude", "longitude" })
            Assert.DoesNotContain(personal, all, StringComparison.Ordinal);

        var options = FakeBigQuery.Options();
        options.UsersTable = "";
        options.ProductsTable = "";
        var bare = new SqlPlan(options, run);
        Assert.Null(bare.ProfilePeople());
        Assert.Null(bare.ProfileCatalogue());
        Assert.DoesNotContain("thelook_ecommerce.users", string.Join("\n", bare.All(30_000).Select(s => s.Sql)), StringComparison.Ordinal);
    }

    [Fact]
    public void An_answer_naming_a_country_or_category_its_segment_does_not_list_is_rejected()
    {
        static ProfileBreakdown Cells(ProfileMeasure measure, params string[] values) =>
            new(measure, values.Length, 0, values.Select(v => new ProfileCell(v, 100, 0.5, null, 1.0, false)).ToList());
        SegmentProfile Profile(int? id, string[] countries, string[] categories) => new(id, "s", 100, 0.5, 100, 1000, 0.5, 1, 10,
            new RfmQuartiles(new(1, 2, 3), new(1, 1, 1), new(5, 6, 7)), null, null, Cells(ProfileMeasure.Customers, countries), null, null,
            Cells(ProfileMeasure.Revenue, categories), null, null);
        var profiles = new ProfilesDocument("run-1", 20, new ProfileCoverage("users", "products", 10, 0, 0, 0), [],
            Profile(null, ["China", "Japan"], ["Jeans", "Socks"]),
            [Profile(1, ["China"], ["Jeans"]), Profile(2, ["Japan"], ["Socks"])]);
        var table = CampaignWriterTests.Table.Where(r => r.CentroidId <= 2).ToList();
        CampaignSegment Segment(int id, string persona) => new(id, "A title", persona, "Send a note.");

        Assert.Empty(CampaignAnswerValidator.Problems(
            [Segment(1, "Shoppers in China who love Jeans."), Segment(2, "Active buyers in Japan, mostly Socks.")], table, profiles));
        var problems = CampaignAnswerValidator.Problems(
            [Segment(1, "Shoppers in Japan who love Jeans."), Segment(2, "Buyers in Japan, mostly Jeans.")], table, profiles);
        Assert.Equal(
            ["segment 1's persona names Japan, which its profile does not list", "segment 2's persona names Jeans, which its profile does not list"],
            problems);
    }

    private static List<string> Rows(string sql, RunParameters run, bool dateParameters)
    {
        using var connection = BigQueryOnDuckDb.Open();
        DuckDb.Execute(connection, Fixture);
        DuckDb.Execute(connection, DuckDbStatsBuilder.StatsSql(run.Metrics), ("as_of", run.AsOf.ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc)),
            ("window_start", run.WindowStart.ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc)), ("window_end", run.WindowEnd.ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc)));
        object Value(DateOnly date) => dateParameters ? date : date.ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc);
        var parameters = sql.Contains("window_start", StringComparison.Ordinal)
            ? new (string, object?)[] { ("window_start", Value(run.WindowStart)), ("window_end", Value(run.WindowEnd)) }
            : [];
        var rows = new List<string>();
        using var command = DuckDb.Command(connection, sql, parameters);
        using var reader = command.ExecuteReader();
        while (reader.Read())
            rows.Add(string.Join("|", Enumerable.Range(0, reader.FieldCount).Select(i =>
                reader.IsDBNull(i) ? "NULL" : Convert.ToString(reader.GetValue(i) is double d ? Math.Round(d, 9) : reader.GetValue(i), CultureInfo.InvariantCulture))));
        return rows;
    }
}
