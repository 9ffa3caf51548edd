using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Pipeline.Core;
using Pipeline.Embedded;

namespace Pipeline.Tests.Reliability;

/// <summary>The claim on a stage: one delivery works at a time; a crashed holder's stage is taken over once its lease ran out.</summary>
public sealed class StageClaimTests : IDisposable
{
    private static readonly RunParameters Parameters = new("r1", new(2025, 1, 1), new(2026, 1, 1), new(2026, 1, 1), 5, StatsPreset.Rfm, 42, 0.2);
    private readonly TempDirectory _directory = new();
    private readonly RunLedger _ledger;
    private readonly InProcessBus _bus = new(NullLogger<InProcessBus>.Instance);
    private readonly StageExecutor _executor;

    public StageClaimTests()
    {
        _ledger = new RunLedger(new FileSystemBucket(_directory.Path), TimeProvider.System);
        _executor = new StageExecutor(_ledger, _bus, TimeProvider.System, NullLogger<StageExecutor>.Instance,
            Options.Create(new PipelineOptions { StageLeaseSeconds = 3 }));
    }

    public void Dispose() => _directory.Dispose();

    private static readonly PipelineMessage Message = new(PipelineJson.Serialize(new StatsReady("r1", Parameters, "runs/r1/customer_stats.parquet", 10)),
        new Dictionary<string, string> { ["run_id"] = "r1", ["stage"] = Stages.BuildStats }, "m1", DateTimeOffset.UtcNow);

    private Task Handle(Func<Task> work) =>
        _executor.RunAsync<StatsReady>(Stages.TrainModel, Message, async (input, _) =>
        {
            await work();
            return new StageResult(Topics.ModelTrained, new ModelTrained(input.RunId, input.Parameters, "runs/r1/model.json", 5));
        }, CancellationToken.None);

    [Fact]
    public async Task A_second_delivery_while_the_first_works_is_answered_as_held_and_later_finds_the_stage_done()
    {
        var working = new TaskCompletionSource();
        var release = new TaskCompletionSource();
        var calls = 0;
        var first = Handle(async () =>
        {
            calls++;
            working.SetResult();
            await release.Task;
        });
        await working.Task;

        var held = await Assert.ThrowsAsync<StageHeldException>(() => Handle(() => { calls++; return Task.CompletedTask; }));
        Assert.Contains("TrainModel of run r1 is being worked on by", held.Message, StringComparison.Ordinal);
        release.SetResult();
        await first;
        await Handle(() => { calls++; return Task.CompletedTask; });

        Assert.Equal(1, calls);
        Assert.Single(_bus.Published);
        var manifest = await _ledger.GetAsync("r1", CancellationToken.None);
        Assert.Equal((StageStatus.Completed, 1), (manifest!.Stages[Stages.TrainModel].Status, manifest.Stages[Stages.TrainModel].Attempts));
        Assert.Equal(System.Text.Encoding.UTF8.GetString(Message.Data.Span), manifest.Stages[Stages.TrainModel].Input);
        Assert.Equal(Topics.ModelTrained, manifest.Stages[Stages.TrainModel].Output!.Topic);
    }

    [Fact]
    public async Task A_crashed_holders_stage_is_taken_over_once_its_lease_ran_out_and_not_before()
    {
        // What a process killed inside TrainModel leaves: the stage running, claimed, the lease still live.
        var crashedAt = DateTimeOffset.UtcNow;
        await _ledger.UpdateAsync("r1", Parameters, m => m.StageStarted(Stages.TrainModel, crashedAt,
            System.Text.Encoding.UTF8.GetString(Message.Data.Span), new StageClaim("host/1/m0/dead", crashedAt.AddSeconds(1.5))), CancellationToken.None);

        await Assert.ThrowsAsync<StageHeldException>(() => Handle(() => Task.CompletedTask));
        await Task.Delay(TimeSpan.FromSeconds(1.6));
        await Handle(() => Task.CompletedTask);

        var manifest = await _ledger.GetAsync("r1", CancellationToken.None);
        Assert.Equal((StageStatus.Completed, 2), (manifest!.Stages[Stages.TrainModel].Status, manifest.Stages[Stages.TrainModel].Attempts));
        Assert.Single(_bus.Published);
    }

    [Fact]
    public async Task The_holder_renews_its_lease_while_it_works()
    {
        var executor = new StageExecutor(_ledger, _bus, TimeProvider.System, NullLogger<StageExecutor>.Instance,
            Options.Create(new PipelineOptions { StageLeaseSeconds = 6 }));
        var reads = new List<(DateTimeOffset At, DateTimeOffset LeaseUntil)>();
        await executor.RunAsync<StatsReady>(Stages.TrainModel, Message, async (input, ct) =>
        {
            // Work longer than the lease: it must be renewed (every 2 s) so that it never lapses under the holder.
            for (var i = 0; i < 4; i++)
            {
                await Task.Delay(TimeSpan.FromSeconds(2.5), ct);
                reads.Add((DateTimeOffset.UtcNow, (await _ledger.GetAsync("r1", ct))!.Stages[Stages.TrainModel].Claim!.LeaseUntil));
            }
            return new StageResult(Topics.ModelTrained, new ModelTrained(input.RunId, input.Parameters, "runs/r1/model.json", 5));
        }, CancellationToken.None);

        Assert.All(reads, read => Assert.True(read.LeaseUntil > read.At, $"the lease lapsed: read at {read.At:O}, lease until {read.LeaseUntil:O}"));
        Assert.True(reads[^1].LeaseUntil > reads[0].LeaseUntil + TimeSpan.FromSeconds(4), string.Join(", ", reads));
        Assert.Single(_bus.Published);
    }

    [Fact]
    public async Task A_failed_publish_after_the_work_releases_the_claim_too()
    {
        var outage = new PublishOutage(_bus);
        var executor = new StageExecutor(_ledger, outage, TimeProvider.System, NullLogger<StageExecutor>.Instance,
            Options.Create(new PipelineOptions { StageLeaseSeconds = 60 }));
        Task Deliver() => executor.RunAsync<StatsReady>(Stages.TrainModel, Message, (input, _) =>
            Task.FromResult(new StageResult(Topics.ModelTrained, new ModelTrained(input.RunId, input.Parameters, "runs/r1/model.json", 5))),
            CancellationToken.None);

        await Assert.ThrowsAsync<HttpRequestException>(Deliver);
        var failed = (await _ledger.GetAsync("r1", CancellationToken.None))!.Stages[Stages.TrainModel];
        Assert.Equal((StageStatus.Running, null, "Pub/Sub answered 503"), (failed.Status, failed.Claim, failed.LastError));

        // Delivered again at once (well inside the 60 s lease), it is not held: it completes.
        await Deliver();

        Assert.Equal((StageStatus.Completed, 2), ((await _ledger.GetAsync("r1", CancellationToken.None))!.Stages[Stages.TrainModel].Status,
            (await _ledger.GetAsync("r1", CancellationToken.None))!.Stages[Stages.TrainModel].Attempts));
        Assert.Single(_bus.Published);
    }

    /// <summary>Pub/Sub refusing the first publish.</summary>
    private sealed class PublishOutage(IMessagePublisher inner) : IMessagePublisher
    {
        private int _calls;

        public Task<string> PublishAsync(string topic, ReadOnlyMemory<byte> data, IReadOnlyDictionary<string, string> attributes,
            CancellationToken cancellationToken) =>
            Interlocked.Increment(ref _calls) == 1
                ? throw new HttpRequestException("Pub/Sub answered 503")
                : inner.PublishAsync(topic, data, attributes, cancellationToken);
    }

    [Fact]
    public async Task A_transient_failure_releases_the_claim_so_that_the_redelivery_starts_at_once()
    {
        await Assert.ThrowsAsync<TimeoutException>(() => Handle(() => throw new TimeoutException("backend timed out")));
        var failed = await _ledger.GetAsync("r1", CancellationToken.None);
        Assert.Null(failed!.Stages[Stages.TrainModel].Claim);

        await Handle(() => Task.CompletedTask);

        Assert.Equal(StageStatus.Completed, (await _ledger.GetAsync("r1", CancellationToken.None))!.Stages[Stages.TrainModel].Status);
    }
}
