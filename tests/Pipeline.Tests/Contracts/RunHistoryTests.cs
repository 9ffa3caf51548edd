using Pipeline.Core;
using Pipeline.Embedded;

namespace Pipeline.Tests.Contracts;

/// <summary><c>history.json</c> when runs finish at once, on a real local bucket.</summary>
public sealed class RunHistoryTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task Runs_that_finish_at_the_same_time_each_land_in_history_json_once_in_as_of_order_and_held_ones_do_not()
    {
        var bucket = new FileSystemBucket(_directory.Path);
        var runs = Enumerable.Range(1, 12).Select(i => new RunParameters($"r{i:00}", new(2025, 1, 1), new(2026, 1, 1),
            new DateOnly(2026, 1, 1).AddDays(13 - i), 3, StatsPreset.Rfm, 42, 0.2)).ToList();
        var failedGate = new QualityGate(false, [new QualityCheck(QualityChecks.FreshData, CheckOutcome.Failed, 30, 14, "newest order 30 days before as_of")], null);
        // Every third run failed the quality gate: it ends held and stays out of the history.
        string[] held = ["r03", "r06", "r09", "r12"];
        foreach (var run in runs)
            await new RunLedger(bucket, TimeProvider.System).UpdateAsync(run.RunId, run,
                m => m with { QualityGate = held.Contains(run.RunId) ? failedGate : null }, CancellationToken.None);

        // One ledger per run, as separate function instances would have, all finishing together.
        using var start = new SemaphoreSlim(0);
        var finishing = runs.Select(run => Task.Run(async () =>
        {
            await start.WaitAsync();
            return await new RunLedger(bucket, TimeProvider.System).FinishRunAsync(run.RunId, run, CancellationToken.None);
        })).ToList();
        start.Release(runs.Count);
        var finished = await Task.WhenAll(finishing);

        Assert.Equal(8, finished.Count(m => m.Status == RunStatus.Completed));
        Assert.Equal(4, finished.Count(m => m.Status == RunStatus.Held));
        var history = await new RunLedger(bucket, TimeProvider.System).GetHistoryAsync(CancellationToken.None);
        var expected = runs.Where(r => !held.Contains(r.RunId)).OrderBy(r => r.AsOf).Select(r => r.RunId);
        Assert.Equal(expected, history.Runs.Select(r => r.RunId));

        // Finishing a run again (a redelivery) replaces its entry rather than adding a second one.
        await new RunLedger(bucket, TimeProvider.System).FinishRunAsync("r01", runs[0], CancellationToken.None);
        Assert.Single((await new RunLedger(bucket, TimeProvider.System).GetHistoryAsync(CancellationToken.None)).Runs, r => r.RunId == "r01");
    }
}
