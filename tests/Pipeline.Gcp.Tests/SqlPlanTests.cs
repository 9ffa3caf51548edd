using Pipeline.Core;

namespace Pipeline.Gcp.Tests;

/// <summary>The plan people review: every statement, in order, with parameters and job ids.</summary>
public sealed class SqlPlanTests
{
    private static GcpOptions Options => new() { ProjectId = "my-project", Dataset = "segmentation", Bucket = "my-bucket", Location = "US" };

    private static RunParameters Nightly(int? k) =>
        new("2023-01-01-nightly", new DateOnly(2022, 1, 1), new DateOnly(2023, 1, 1), new DateOnly(2023, 1, 1), k, StatsPreset.Rfm, 42, 0.2);

    [Fact]
    public void The_plan_for_k_5_reads_as_expected()
    {
        var text = new SqlPlan(Options, Nightly(5)).Render(30_000);

        Assert.Equal(Payload.Text("Expected/plan-rfm-k5.sql").ReplaceLineEndings("\n"), text);
    }

    [Fact]
    public void The_plan_command_prints_the_same_plan_without_contacting_Google()
    {
        var output = new StringWriter();
        var result = Runner.Commands.PlanCommand.Create().Parse(
            ["--backend", "gcp", "--project", "my-project", "--dataset", "segmentation", "--location", "US", "--bucket", "my-bucket",
             "--window-start", "2022-01-01", "--window-end", "2023-01-01", "--as-of", "2023-01-01", "--k", "5",
             "--metrics", "rfm", "--seed", "42", "--test-fraction", "0.2", "--run-id", "2023-01-01-nightly"]);

        var exit = result.Invoke(new System.CommandLine.InvocationConfiguration { Output = output, Error = output });

        Assert.Equal(0, exit);
        Assert.Equal(Payload.Text("Expected/plan-rfm-k5.sql").ReplaceLineEndings("\n"), output.ToString());
    }

    [Fact]
    public void The_plan_command_names_what_is_missing()
    {
        var output = new StringWriter();
        var exit = Runner.Commands.PlanCommand.Create().Parse(["--backend", "gcp", "--k", "auto"])
            .Invoke(new System.CommandLine.InvocationConfiguration { Output = output, Error = output });

        Assert.Equal(2, exit);
        Assert.Contains("--project (Gcp:ProjectId) is not set", output.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void With_auto_k_every_candidate_is_trained_evaluated_and_read()
    {
        var plan = new SqlPlan(Options, Nightly(null));
        var keys = plan.All(30_000).Select(s => s.Key).ToList();

        Assert.Equal(SqlPlan.AutoCandidates.Select(k => $"model_k{k}"), keys.Where(k => k.StartsWith("model_k", StringComparison.Ordinal) && !k.EndsWith("expiration", StringComparison.Ordinal)));
        foreach (var k in SqlPlan.AutoCandidates)
        {
            Assert.Contains($"model_2023_01_01_nightly_k{k}`", plan.Evaluate().Sql, StringComparison.Ordinal);
            Assert.Contains($"model_2023_01_01_nightly_k{k}`", plan.Centroids().Sql, StringComparison.Ordinal);
        }
        Assert.Contains("_k{k}`", plan.PlannedPredictions().Sql, StringComparison.Ordinal);
    }

    [Fact]
    public void The_lab_preset_counts_line_items_and_averages_item_prices_over_every_status()
    {
        var sql = new SqlPlan(Options, Nightly(5) with { Metrics = StatsPreset.Lab }).Stats().Sql;

        Assert.Contains("COUNT(order_id) AS count_orders", sql, StringComparison.Ordinal);
        Assert.Contains("AVG(sale_price) AS average_spend", sql, StringComparison.Ordinal);
        Assert.DoesNotContain("status", sql, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("my-project", "seg`; DROP TABLE x; --")]
    [InlineData("my-project", "seg.ments")]
    [InlineData("My_Project", "segmentation")]
    public void Names_that_break_BigQuery_identifier_rules_never_reach_SQL(string project, string dataset)
    {
        var options = new GcpOptions { ProjectId = project, Dataset = dataset, Bucket = "b" };
        Assert.Throws<ArgumentException>(() => new SqlPlan(options, Nightly(5)));
    }

    [Fact]
    public void A_changed_statement_gets_a_new_job_id_and_the_same_statement_the_same_one()
    {
        var plan = new SqlPlan(Options, Nightly(5));
        var otherSeed = new SqlPlan(Options, Nightly(5) with { Seed = 43 });

        Assert.Equal(plan.Split().JobId(), new SqlPlan(Options, Nightly(5)).Split().JobId());
        Assert.NotEqual(plan.Split().JobId(), otherSeed.Split().JobId());
        Assert.NotEqual(plan.Split().JobId(0), plan.Split().JobId(1));
        Assert.StartsWith("segmentation_2023_01_01_nightly_trainmodel_split_", plan.Split().JobId(), StringComparison.Ordinal);
    }
}
