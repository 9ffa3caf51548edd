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
        var leases = new List<DateTimeOffset>();
        await Handle(async () =>
        {
            for (var i = 0; i < 3; i++)
            {
                await Task.Delay(TimeSpan.FromSeconds(1.2));
                leases.Add((await _ledger.GetAsync("r1", CancellationToken.None))!.Stages[Stages.TrainModel].Claim!.LeaseUntil);
            }
        });

        // Work of 3.6 s under a 3 s lease: renewed (every second) so that it never lapsed.
        Assert.True(leases[^1] > leases[0], string.Join(", ", leases));
        Assert.All(leases, lease => Assert.True(lease > DateTimeOffset.UtcNow.AddSeconds(-3.6)));
        Assert.Single(_bus.Published);
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
