using Pipeline.Analytics;
using Pipeline.Core;
using Pipeline.Embedded;

namespace Pipeline.Gcp.Tests;

/// <summary>
/// The GCP backend's movement statement (previous segment, segment_since, run_as_of, control group) and migration
/// query, run on DuckDB: the same rows as the embedded backend's <see cref="EmbeddedSegmentationEngine.MovementSql"/>
/// and the same control group as <see cref="ControlGroup"/>.
/// </summary>
public sealed class MovementRuleTests
{
    private static readonly DateOnly PreviousAsOf = new(2022, 12, 1);
    private static readonly DateOnly AsOf = new(2023, 1, 1);

    private static int PreviousSegment(long user) => (int)(user % 3) + 1;
    private static int Segment(long user) => user % 4 == 0 ? PreviousSegment(user) % 3 + 1 : PreviousSegment(user);

    private static void CreateTables(DuckDB.NET.Data.DuckDBConnection connection)
    {
        // Last run: users 1-1,000 (one other run's rows beside them); this run: users 101-1,100, every fourth moved.
        DuckDb.Execute(connection, """
            CREATE TABLE customer_segments AS
            SELECT 'prev' AS run_id, DATE '2022-12-01' AS run_as_of, CAST(u AS BIGINT) AS user_id, CAST(u % 3 + 1 AS BIGINT) AS centroid_id,
                   CASE WHEN u % 2 = 0 THEN DATE '2022-06-01' ELSE DATE '2022-12-01' END AS segment_since
            FROM range(1, 1001) AS t(u)
            UNION ALL
            SELECT 'older', DATE '2022-11-01', CAST(u AS BIGINT), 1, DATE '2022-11-01' FROM range(1, 2001) AS t(u)
            """);
        DuckDb.Execute(connection, """
            CREATE TABLE assignments AS
            SELECT CAST(u AS BIGINT) AS user_id,
                   CAST(CASE WHEN u % 4 = 0 THEN (u % 3 + 1) % 3 + 1 ELSE u % 3 + 1 END AS BIGINT) AS centroid_id,
                   0.5 AS distance, 'segment' AS segment, CAST(10 AS BIGINT) AS days_since_last_order, CAST(2 AS BIGINT) AS count_orders, 50.0 AS average_spend
            FROM range(101, 1101) AS t(u)
            """);
    }

    private static readonly Dictionary<string, string> Tables = new()
    {
        ["assignments_run_1"] = "assignments",
        ["predictions_run_1"] = "predictions",
        ["customer_segments"] = "customer_segments",
    };

    [Fact]
    public void The_BigQuery_movement_statement_gives_each_customer_the_embedded_backends_columns()
    {
        var audiences = new AudienceOptions { ControlGroupShare = 0.15, ControlGroupSalt = "spring-2023" };
        var plan = new SqlPlan(FakeBigQuery.Options(), TestRuns.Parameters() with { AsOf = AsOf });
        var sql = BigQueryOnDuckDb.Translate(plan.Movement("prev", PreviousAsOf, audiences).Sql, Tables);
        using var connection = BigQueryOnDuckDb.Open();
        CreateTables(connection);
        var parameters = plan.Movement("prev", PreviousAsOf, audiences).Parameters
            .Select(p => (p.Name, p.Type switch
            {
                "DATE" => (object?)DateOnly.Parse(p.Value!, System.Globalization.CultureInfo.InvariantCulture),
                "INT64" => long.Parse(p.Value!, System.Globalization.CultureInfo.InvariantCulture),
                _ => p.Value,
            })).ToArray();
        DuckDb.Execute(connection, $"CREATE TABLE predictions AS {sql}", parameters);
        DuckDb.Execute(connection, $"CREATE TABLE embedded AS {EmbeddedSegmentationEngine.MovementSql("assignments",
            "SELECT user_id, centroid_id, segment_since FROM customer_segments WHERE run_id = 'prev'", AsOf, audiences)}");

        using var command = DuckDb.Command(connection, """
            SELECT b.user_id, b.centroid_id, b.previous_segment_id, b.segment_since, b.run_as_of, b.control_group,
                   e.previous_segment_id, e.segment_since, e.control_group
            FROM predictions AS b JOIN embedded AS e USING (user_id) ORDER BY b.user_id
            """);
        using var reader = command.ExecuteReader();
        var rows = 0;
        var control = 0;
        while (reader.Read())
        {
            rows++;
            var user = reader.GetInt64(0);
            int? previous = user <= 1000 ? PreviousSegment(user) : null;
            var since = previous == Segment(user) ? (user % 2 == 0 ? new DateOnly(2022, 6, 1) : PreviousAsOf) : AsOf;
            var inControl = ControlGroup.Contains(user, audiences.ControlGroupSalt, audiences.ControlGroupShare);
            Assert.Equal((Segment(user), previous, since, AsOf, inControl),
                (Convert.ToInt32(reader.GetValue(1), System.Globalization.CultureInfo.InvariantCulture),
                 reader.IsDBNull(2) ? (int?)null : Convert.ToInt32(reader.GetValue(2), System.Globalization.CultureInfo.InvariantCulture),
                 DateOnly.FromDateTime(reader.GetDateTime(3)), DateOnly.FromDateTime(reader.GetDateTime(4)), reader.GetBoolean(5)));
            Assert.Equal((reader.IsDBNull(2), reader.GetDateTime(3), reader.GetBoolean(5)), (reader.IsDBNull(6), reader.GetDateTime(7), reader.GetBoolean(8)));
            if (inControl) control++;
        }
        Assert.Equal(1000, rows);
        Assert.InRange(control, 110, 190);
    }

    [Fact]
    public void The_BigQuery_migration_query_counts_new_moved_and_gone_customers()
    {
        var plan = new SqlPlan(FakeBigQuery.Options(), TestRuns.Parameters() with { AsOf = AsOf });
        using var connection = BigQueryOnDuckDb.Open();
        CreateTables(connection);
        var movement = plan.Movement("prev", PreviousAsOf, new AudienceOptions());
        DuckDb.Execute(connection, $"CREATE TABLE predictions AS {BigQueryOnDuckDb.Translate(movement.Sql, Tables)}",
            ("previous_run_id", "prev"), ("previous_as_of", PreviousAsOf), ("as_of", AsOf),
            ("control_seed", (long)ControlGroup.SaltSeed("x")), ("control_threshold", 1000L));

        var flows = new List<MigrationFlow>();
        using (var command = DuckDb.Command(connection, BigQueryOnDuckDb.Translate(plan.MigrationFlows("prev", PreviousAsOf).Sql, Tables),
            ("previous_run_id", "prev"), ("previous_as_of", PreviousAsOf)))
        using (var reader = command.ExecuteReader())
            while (reader.Read())
                flows.Add(new MigrationFlow(reader.IsDBNull(0) ? null : Convert.ToInt32(reader.GetValue(0), System.Globalization.CultureInfo.InvariantCulture),
                    reader.IsDBNull(1) ? null : Convert.ToInt32(reader.GetValue(1), System.Globalization.CultureInfo.InvariantCulture), reader.GetInt64(2)));

        var previousSizes = Enumerable.Range(1, 3).Select(id => new SegmentSize(id, $"s{id}", Enumerable.Range(1, 1000).Count(u => PreviousSegment(u) == id))).ToList();
        var sizes = Enumerable.Range(1, 3).Select(id => new SegmentSize(id, $"s{id}", Enumerable.Range(101, 1000).Count(u => Segment(u) == id))).ToList();
        var migration = MigrationMatrix.Build("run-1", AsOf, new MigrationMatrix.PreviousRun("prev", PreviousAsOf, previousSizes), sizes, flows);

        Assert.Equal(100L, migration.New);     // users 1,001-1,100
        Assert.Equal(100L, migration.Gone);    // users 1-100
        Assert.Equal(225L, migration.Moved);   // every fourth of users 101-1,000
        Assert.Equal(675L, migration.Stayed);
        Assert.Equal(Enumerable.Range(1, 100).Count(u => PreviousSegment(u) == 2), migration.Count(2, null));
    }
}
