using System.Text.Json.Nodes;
using Pipeline.Core;
using Pipeline.Runner;

namespace Pipeline.Tests.Pipeline;

/// <summary>
/// Each bad input ends the run with one clear reason in the manifest, a run-failed message, no latest.json, and a
/// non-zero exit from the <c>run</c> command.
/// </summary>
[Collection(ConsoleTests.Name)]
public sealed class BadInputTests(SampleDataFixture data) : IClassFixture<SampleDataFixture>, IDisposable
{
    private readonly TempDirectory _out = new();

    public void Dispose() => _out.Dispose();

    private async Task<RunManifest> FailsAsync(JsonObject trigger, string input, string stage, string reason)
    {
        await using var pipeline = LocalPipeline.Create(_out.Path, input);
        var manifest = await pipeline.RunAsync(trigger, CancellationToken.None);

        Assert.Equal(RunStatus.Failed, manifest.Status);
        Assert.Equal(stage, manifest.Error!.Stage);
        Assert.Contains(reason, manifest.Error.Reason);
        Assert.True(manifest.Error.Announced);
        Assert.Equal(StageStatus.Failed, manifest.Stages[stage].Status);
        var failed = Assert.Single(pipeline.Bus.Published, p => p.Topic == Topics.RunFailed);
        var message = PipelineJson.Deserialize<RunFailed>(failed.Message.Data.Span);
        Assert.Equal(manifest.Error.Reason, message.Reason);
        Assert.DoesNotContain(pipeline.Bus.Published, p => p.Topic == Topics.RunCompleted);
        Assert.False(File.Exists(Path.Combine(_out.Path, BucketLayout.Latest)));
        Assert.False(File.Exists(Path.Combine(_out.Path, BucketLayout.CampaignJson(manifest.RunId))));
        return manifest;
    }

    private static JsonObject Trigger(string runId, int k = 5) => new()
    {
        ["run_id"] = runId, ["window_start"] = "2025-01-01", ["window_end"] = "2026-01-01", ["k"] = k,
    };

    [Fact]
    public Task A_missing_file() =>
        FailsAsync(Trigger("missing"), _out.File("nowhere.csv"), Stages.BuildStats, "does not exist");

    [Fact]
    public Task A_file_without_the_required_columns() =>
        FailsAsync(Trigger("columns"), _out.Write("c.csv", "order_id,user_id,created_at\n1,2,2025-05-05 10:00:00 UTC\n"), Stages.BuildStats,
            "lacks the required columns status, sale_price");

    [Fact]
    public Task Unparseable_timestamps() =>
        FailsAsync(Trigger("timestamps"), _out.Write("t.csv", "order_id,user_id,status,created_at,sale_price\n1,2,Complete,05/05/2025 10:00,3.5\n"),
            Stages.BuildStats, "created_at is not a timestamp");

    [Fact]
    public Task Unparseable_prices() =>
        FailsAsync(Trigger("prices"), _out.Write("p.csv", "order_id,user_id,status,created_at,sale_price\n1,2,Complete,2025-05-05 10:00:00 UTC,$3.50\n"),
            Stages.BuildStats, "sale_price is not a finite number, e.g. '$3.50'");

    [Fact]
    public Task An_empty_window()
    {
        var trigger = Trigger("empty");
        trigger["window_start"] = "2010-01-01";
        trigger["window_end"] = "2011-01-01";
        return FailsAsync(trigger, data.Parquet, Stages.BuildStats, "no customer has a counted order item from 2010-01-01 to 2011-01-01");
    }

    [Fact]
    public Task Fewer_customers_than_k() =>
        FailsAsync(Trigger("few", k: 5), _out.Write("few.csv",
                "order_id,user_id,status,created_at,sale_price\n1,1,Complete,2025-05-05 10:00:00 UTC,10\n2,2,Complete,2025-06-05 10:00:00 UTC,20\n3,3,Complete,2025-07-05 10:00:00 UTC,30\n"),
            Stages.TrainModel, "too few customers for k = 5");

    [Fact]
    public Task K_out_of_range() =>
        FailsAsync(Trigger("k-range", k: 50), data.Parquet, Stages.BuildStats, "k must be from 2 to 20, not 50");

    [Fact]
    public Task Window_end_before_window_start()
    {
        var trigger = Trigger("backwards");
        trigger["window_end"] = "2024-01-01";
        return FailsAsync(trigger, data.Parquet, Stages.BuildStats, "window_end (2024-01-01) must be after window_start (2025-01-01)");
    }

    [Fact]
    public async Task A_bad_run_id_is_recorded_under_a_derived_one()
    {
        var manifest = await FailsAsync(Trigger("not a valid id"), data.Parquet, Stages.BuildStats, "run_id 'not a valid id' is invalid");
        Assert.True(RunId.IsValid(manifest.RunId));
    }

    [Fact]
    public async Task The_run_command_exits_non_zero_and_says_why()
    {
        var error = new StringWriter();
        var previous = Console.Error;
        Console.SetError(error);
        try
        {
            var exit = await Runner.Commands.RunCommand.Create().Parse(
                ["--input", _out.File("nowhere.parquet"), "--out", _out.Path, "--run-id", "cli-fail"]).InvokeAsync();
            Assert.NotEqual(0, exit);
        }
        finally
        {
            Console.SetError(previous);
        }
        Assert.Contains("Run cli-fail FAILED in BuildStats: the input file", error.ToString());
    }

    [Fact]
    public async Task The_run_command_exits_zero_on_success_and_names_the_outputs()
    {
        var output = new StringWriter();
        var previous = Console.Out;
        Console.SetOut(output);
        int exit;
        try
        {
            exit = await Runner.Commands.RunCommand.Create().Parse(
                ["--input", data.Csv, "--out", _out.Path, "--run-id", "cli-ok", "--window-start", "2025-01-01", "--window-end", "2026-01-01", "--k", "4"]).InvokeAsync();
        }
        finally
        {
            Console.SetOut(previous);
        }
        Assert.Equal(0, exit);
        Assert.Contains("Run cli-ok completed", output.ToString());
        Assert.Contains("chart.png", output.ToString());
    }
}

/// <summary>Tests that redirect the process's console run alone.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ConsoleTests
{
    public const string Name = "Console";
}
