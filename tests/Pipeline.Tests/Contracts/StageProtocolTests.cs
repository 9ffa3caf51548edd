using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Pipeline.Core;
using Pipeline.Embedded;

namespace Pipeline.Tests.Contracts;

/// <summary>The delivery protocol every stage shares, on a real local bucket.</summary>
public sealed class StageProtocolTests : IDisposable
{
    private readonly TempDirectory _directory = new();
    private readonly FileSystemBucket _bucket;
    private readonly RunLedger _ledger;
    private readonly InProcessBus _bus = new(NullLogger<InProcessBus>.Instance);
    private readonly StageExecutor _executor;

    public StageProtocolTests()
    {
        _bucket = new FileSystemBucket(_directory.Path);
        _ledger = new RunLedger(_bucket, TimeProvider.System);
        _executor = new StageExecutor(_ledger, _bus, TimeProvider.System, NullLogger<StageExecutor>.Instance);
    }

    public void Dispose() => _directory.Dispose();

    private static readonly RunParameters Parameters = new("r1", new(2025, 1, 1), new(2026, 1, 1), new(2026, 1, 1), 5, StatsPreset.Rfm, 42, 0.2);

    private static PipelineMessage Message(RunMessage body, string id = "m1") =>
        new(PipelineJson.Serialize(body), new Dictionary<string, string> { ["run_id"] = body.RunId }, id, DateTimeOffset.UtcNow);

    private Task Handle(PipelineMessage message, Func<StatsReady, Task<StageResult>> work) =>
        _executor.RunAsync<StatsReady>(Stages.TrainModel, message, (input, _) => work(input), CancellationToken.None);

    private static StageResult Next(StatsReady input) =>
        new(Topics.ModelTrained, new ModelTrained(input.RunId, input.Parameters, "runs/r1/model.json", 5));

    [Fact]
    public async Task A_transient_failure_propagates_and_a_redelivery_completes_the_stage_once()
    {
        var message = Message(new StatsReady("r1", Parameters, "runs/r1/customer_stats/", 10));
        var calls = 0;
        Task<StageResult> Flaky(StatsReady input) => ++calls == 1 ? throw new TimeoutException("backend timed out") : Task.FromResult(Next(input));

        await Assert.ThrowsAsync<TimeoutException>(() => Handle(message, Flaky));
        var afterFailure = await _ledger.GetAsync("r1", CancellationToken.None);
        Assert.Equal(StageStatus.Running, afterFailure!.Stages[Stages.TrainModel].Status);
        Assert.Equal("backend timed out", afterFailure.Stages[Stages.TrainModel].LastError);
        Assert.Empty(_bus.Published);

        await Handle(message, Flaky);
        await Handle(message, Flaky); // a duplicate after success
        var done = await _ledger.GetAsync("r1", CancellationToken.None);
        Assert.Equal(StageStatus.Completed, done!.Stages[Stages.TrainModel].Status);
        Assert.Equal(2, done.Stages[Stages.TrainModel].Attempts);
        Assert.Equal(2, calls);
        Assert.Equal([Topics.ModelTrained], _bus.Published.Select(p => p.Topic));
        Assert.Equal(new Dictionary<string, string> { ["run_id"] = "r1", ["stage"] = Stages.TrainModel }, _bus.Published[0].Message.Attributes);
    }

    [Fact]
    public async Task A_permanent_failure_is_recorded_announced_once_and_acknowledged()
    {
        var message = Message(new StatsReady("r1", Parameters, "runs/r1/customer_stats/", 3));
        await Handle(message, _ => throw new PermanentPipelineException("too few customers"));
        await Handle(message, _ => throw new InvalidOperationException("must not run again"));

        var manifest = await _ledger.GetAsync("r1", CancellationToken.None);
        Assert.Equal(RunStatus.Failed, manifest!.Status);
        Assert.Equal(new RunError(Stages.TrainModel, "too few customers", Announced: true), manifest.Error);
        var failed = Assert.Single(_bus.Published);
        Assert.Equal(Topics.RunFailed, failed.Topic);
        Assert.Equal(new RunFailed("r1", Stages.TrainModel, "too few customers", Parameters), PipelineJson.Deserialize<RunFailed>(failed.Message.Data.Span));
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("""{"run_id":"r1"}""")]
    [InlineData("""{"run_id":"r1","parameters":{},"stats_object":"x","customers":"many"}""")]
    public async Task A_malformed_message_fails_the_run_it_names_with_a_reason(string body)
    {
        var message = new PipelineMessage(Encoding.UTF8.GetBytes(body), new Dictionary<string, string> { ["run_id"] = "r1" }, "m9", DateTimeOffset.UtcNow);
        await Handle(message, input => Task.FromResult(Next(input)));

        var manifest = await _ledger.GetAsync("r1", CancellationToken.None);
        Assert.Equal(RunStatus.Failed, manifest!.Status);
        Assert.StartsWith("the message is not a valid StatsReady", manifest.Error!.Reason);
        Assert.Equal(Topics.RunFailed, Assert.Single(_bus.Published).Topic);
    }

    [Fact]
    public async Task Concurrent_manifest_updates_lose_nothing()
    {
        await Task.WhenAll(Enumerable.Range(0, 40).Select(i => Task.Run(() =>
            _ledger.UpdateAsync("r1", Parameters, m => m with { Notes = [.. m.Notes, $"note {i}"] }, CancellationToken.None))));
        var manifest = await _ledger.GetAsync("r1", CancellationToken.None);
        Assert.Equal(40, manifest!.Notes.Distinct().Count());
    }

    [Fact]
    public async Task A_conditional_write_fails_when_the_object_changed()
    {
        var generation = await _bucket.WriteAsync("runs/x/a.json", "1"u8.ToArray(), ContentTypes.Json, "0", CancellationToken.None);
        await Assert.ThrowsAsync<ConcurrentUpdateException>(() => _bucket.WriteAsync("runs/x/a.json", "2"u8.ToArray(), ContentTypes.Json, "0", CancellationToken.None));
        await _bucket.WriteAsync("runs/x/a.json", "3"u8.ToArray(), ContentTypes.Json, generation, CancellationToken.None);
        await Assert.ThrowsAsync<ConcurrentUpdateException>(() => _bucket.WriteAsync("runs/x/a.json", "4"u8.ToArray(), ContentTypes.Json, generation, CancellationToken.None));
        Assert.Equal("3"u8.ToArray(), (await _bucket.TryReadAsync("runs/x/a.json", CancellationToken.None))!.Content);
        Assert.Empty(Directory.GetFiles(Path.Combine(_directory.Path, "runs", "x"), "*.tmp"));
    }

    [Theory]
    [InlineData("../escape.json")]
    [InlineData("/etc/passwd")]
    [InlineData("runs//x")]
    public async Task Object_names_cannot_leave_the_bucket(string name)
    {
        await Assert.ThrowsAsync<ArgumentException>(() => _bucket.TryReadAsync(name, CancellationToken.None));
    }
}
