using System.Text;
using Pipeline.Core;
using Pipeline.Embedded;
using Pipeline.Runner;
using Watchdog = Pipeline.Functions.RunWatchdog.Function;

namespace Pipeline.Tests.Reliability;

/// <summary>The watchdog on the dead-letter topic: no run stays <c>running</c> without anyone being told.</summary>
public sealed class WatchdogTests : IDisposable
{
    private static readonly RunParameters Parameters = new("r1", new(2025, 1, 1), new(2026, 1, 1), new(2026, 1, 1), 5, StatsPreset.Rfm, 42, 0.2);
    private readonly TempDirectory _directory = new();
    private readonly LocalPipeline _pipeline;

    public WatchdogTests() => _pipeline = LocalPipeline.Create(_directory.Path, input: null);

    public void Dispose()
    {
        _pipeline.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _directory.Dispose();
    }

    private IPipelineFunction Function => _pipeline.Functions.OfType<Watchdog>().Single();

    /// <summary>A chain message as Pub/Sub forwards it to the dead-letter topic (attributes as the emulator sets them).</summary>
    private static PipelineMessage DeadLetter(RunMessage body, string publisher, int attempts) => new(PipelineJson.Serialize(body),
        new Dictionary<string, string>
        {
            ["run_id"] = body.RunId,
            ["stage"] = publisher,
            [Watchdog.DeliveryAttemptsAttribute] = attempts.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["CloudPubSubDeadLetterSourceSubscription"] = "stats-ready-trainmodel",
        }, "dl-1", DateTimeOffset.UtcNow);

    private static Task StartTrainModel(RunLedger ledger, string runId, string? lastError) =>
        ledger.UpdateAsync(runId, Parameters with { RunId = runId }, m => m
            .StageStarted(Stages.BuildStats, DateTimeOffset.UtcNow)
            .StageCompleted(Stages.BuildStats, DateTimeOffset.UtcNow, new StageResult(Topics.StatsReady, new RunTriggered(runId, Parameters)))
            .StageStarted(Stages.TrainModel, DateTimeOffset.UtcNow)
            .StageAttemptFailed(Stages.TrainModel, lastError ?? ""), CancellationToken.None);

    [Fact]
    public async Task A_message_Pub_Sub_gave_up_on_fails_its_run_with_stage_attempts_and_last_error_and_is_announced_once()
    {
        await StartTrainModel(_pipeline.Ledger, "r1", "DuckDB: Out of Memory Error");
        var message = DeadLetter(new StatsReady("r1", Parameters, "runs/r1/customer_stats.parquet", 10), Stages.BuildStats, 5);

        await Function.HandleAsync(message, CancellationToken.None);
        await Function.HandleAsync(message, CancellationToken.None); // Pub/Sub delivers at least once

        var manifest = await _pipeline.Ledger.GetAsync("r1", CancellationToken.None);
        Assert.Equal(RunStatus.Failed, manifest!.Status);
        Assert.Equal(Stages.TrainModel, manifest.Error!.Stage);
        Assert.Equal("Pub/Sub gave up on TrainModel's message after 5 delivery attempts; last error: DuckDB: Out of Memory Error", manifest.Error.Reason);
        Assert.Equal(StageStatus.Failed, manifest.Stages[Stages.TrainModel].Status);
        var failed = Assert.Single(_pipeline.Bus.Published, p => p.Topic == Topics.RunFailed);
        var announced = PipelineJson.Deserialize<RunFailed>(failed.Message.Data.Span);
        Assert.Equal(("r1", Stages.TrainModel), (announced.RunId, announced.Stage));
    }

    [Fact]
    public async Task A_dead_letter_for_a_stage_that_completed_or_is_still_being_worked_on_changes_nothing()
    {
        await StartTrainModel(_pipeline.Ledger, "r1", null);
        // BuildStats completed: a stale trigger that gave up is a duplicate.
        await Function.HandleAsync(DeadLetter(new RunTriggered("r1", Parameters), "trigger", 5), CancellationToken.None);
        // TrainModel held by a live delivery: a duplicate of its message gave up, the holder decides.
        await _pipeline.Ledger.UpdateAsync("r1", null, m => m.StageStarted(Stages.TrainModel, DateTimeOffset.UtcNow, null,
            new StageClaim("host/2/m2/live", DateTimeOffset.UtcNow.AddMinutes(1))), CancellationToken.None);
        await Function.HandleAsync(DeadLetter(new StatsReady("r1", Parameters, "runs/r1/customer_stats.parquet", 10), Stages.BuildStats, 5),
            CancellationToken.None);

        Assert.Equal(RunStatus.Running, (await _pipeline.Ledger.GetAsync("r1", CancellationToken.None))!.Status);
        Assert.Empty(_pipeline.Bus.Published);
    }

    [Fact]
    public async Task The_sweep_fails_runs_running_longer_than_the_limit_and_leaves_the_others()
    {
        var sevenHoursAgo = new RunLedger(_pipeline.Bucket, new FixedClock(DateTimeOffset.UtcNow.AddHours(-7)));
        await StartTrainModel(sevenHoursAgo, "stalled", "connection reset by peer");
        await StartTrainModel(_pipeline.Ledger, "recent", null);
        await sevenHoursAgo.UpdateAsync("done", Parameters with { RunId = "done" }, m => m.RunCompleted(), CancellationToken.None);

        await Function.HandleAsync(new PipelineMessage(Encoding.UTF8.GetBytes("""{"sweep":"stalled_runs"}"""),
            new Dictionary<string, string> { [Watchdog.SweepAttribute] = "stalled-runs" }, "s1", DateTimeOffset.UtcNow), CancellationToken.None);

        var stalled = await _pipeline.Ledger.GetAsync("stalled", CancellationToken.None);
        Assert.Equal((RunStatus.Failed, Stages.TrainModel), (stalled!.Status, stalled.Error!.Stage));
        Assert.Equal("still running 7 h after it started (limit Pipeline:StalledRunSeconds = 21600 s); TrainModel had 1 attempts, last error: connection reset by peer",
            stalled.Error.Reason);
        Assert.Equal(RunStatus.Running, (await _pipeline.Ledger.GetAsync("recent", CancellationToken.None))!.Status);
        Assert.Equal(RunStatus.Completed, (await _pipeline.Ledger.GetAsync("done", CancellationToken.None))!.Status);
        Assert.Equal(["stalled"], _pipeline.Bus.Published.Where(p => p.Topic == Topics.RunFailed).Select(p => p.Message.Attributes["run_id"]));
    }

    private sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}
