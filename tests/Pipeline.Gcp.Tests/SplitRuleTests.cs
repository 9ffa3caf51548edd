using System.Globalization;
using CsCheck;
using DuckDB.NET.Data;
using Pipeline.Analytics;
using Pipeline.Embedded;

namespace Pipeline.Gcp.Tests;

/// <summary>The hold-out split in BigQuery SQL is the same rule as <see cref="HoldOutSplit.IsHeldOut"/>.</summary>
public sealed class SplitRuleTests
{
    [Theory]
    [InlineData(42, 0.2)]
    [InlineData(0, 0.05)]
    [InlineData(2147483647, 0.5)]
    [InlineData(7, 0.3333)]
    public void The_BigQuery_split_holds_out_exactly_the_customers_HoldOutSplit_holds_out(int seed, double testFraction)
    {
        var run = TestRuns.Parameters() with { Seed = seed, TestFraction = testFraction };
        var sql = BigQueryOnDuckDb.Translate(new SqlPlan(FakeBigQuery.Options(), run).Split().Sql,
            new Dictionary<string, string> { ["stats_run_1"] = "stats" });
        Assert.Equal(3, sql.Split("xor(").Length - 1);
        Assert.DoesNotContain("^", sql, StringComparison.Ordinal); // DuckDB's ^ is a power, not XOR
        using var connection = BigQueryOnDuckDb.Open();
        // 100,000 user ids: small, large (up to 2^50) and negative ones.
        DuckDb.Execute(connection, """
            CREATE TABLE stats AS
            SELECT user_id, 1 AS days_since_last_order, 1 AS count_orders, 1.0 AS average_spend FROM (
              SELECT CAST(range AS BIGINT) AS user_id FROM range(0, 60000)
              UNION ALL SELECT CAST(range * 28147497671 + 13 AS BIGINT) FROM range(0, 30000)
              UNION ALL SELECT -CAST(range * 7919 + 1 AS BIGINT) FROM range(0, 10000))
            """);

        var heldOut = 0;
        var rows = 0;
        using (var command = DuckDb.Command(connection, sql, ("seed", (long)seed), ("test_fraction", testFraction)))
        using (var reader = command.ExecuteReader())
        {
            while (reader.Read())
            {
                var userId = reader.GetInt64(reader.GetOrdinal("user_id"));
                var held = reader.GetBoolean(reader.GetOrdinal("held_out"));
                Assert.True(HoldOutSplit.IsHeldOut(userId, seed, testFraction) == held,
                    $"user {userId}: BigQuery SQL says {(held ? "held out" : "training")}, HoldOutSplit disagrees");
                rows++;
                if (held) heldOut++;
            }
        }

        Assert.Equal(100_000, rows);
        Assert.InRange(heldOut / 100_000.0, testFraction - 0.01, testFraction + 0.01);
    }

    /// <summary>Random cases of <see cref="The_BigQuery_split_agrees_with_HoldOutSplit_on_random_ids_seeds_and_fractions"/>.</summary>
    public const int RandomCases = 30;

    [Fact]
    public void The_BigQuery_split_agrees_with_HoldOutSplit_on_random_ids_seeds_and_fractions() =>
        (from seed in Gen.Int[0, int.MaxValue]
         from fraction in Gen.Double[0.0001, 0.5]
         from ids in Gen.Long[-(1L << 62), 1L << 62].Array[1, 300]
         select (seed, fraction, ids)).Sample((seed, fraction, ids) =>
        {
            var run = TestRuns.Parameters() with { Seed = seed, TestFraction = fraction };
            var sql = BigQueryOnDuckDb.Translate(new SqlPlan(FakeBigQuery.Options(), run).Split().Sql,
                new Dictionary<string, string> { ["stats_run_1"] = "stats" });
            using var connection = BigQueryOnDuckDb.Open();
            var values = string.Join(",", ids.Distinct().Select(id => $"({id.ToString(CultureInfo.InvariantCulture)})"));
            DuckDb.Execute(connection, $"""
                CREATE TABLE stats AS SELECT CAST(v AS BIGINT) AS user_id, 1 AS days_since_last_order, 1 AS count_orders, 1.0 AS average_spend
                FROM (VALUES {values}) t(v)
                """);
            using var command = DuckDb.Command(connection, sql, ("seed", (long)seed), ("test_fraction", fraction));
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                var userId = reader.GetInt64(reader.GetOrdinal("user_id"));
                Assert.True(HoldOutSplit.IsHeldOut(userId, seed, fraction) == reader.GetBoolean(reader.GetOrdinal("held_out")),
                    $"user {userId}, seed {seed}, fraction {fraction}: the BigQuery SQL and HoldOutSplit disagree");
            }
        }, iter: RandomCases, threads: 1);
}
