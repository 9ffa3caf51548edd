using Pipeline.Core;
using Pipeline.Runner;

namespace Pipeline.Tests.Reliability;

/// <summary>
/// The warm-up <c>run</c> starts on a background thread: outputs the same as without it, and a warm-up that fails
/// costs the run nothing.
/// </summary>
public sealed class FirstUseWarmUpTests(ReferenceRunFixture reference) : IClassFixture<ReferenceRunFixture>, IDisposable
{
    private readonly TempDirectory _scratch = new();

    public void Dispose() => _scratch.Dispose();

    [Fact]
    public async Task A_run_with_the_warm_up_writes_the_same_outputs_as_one_without()
    {
        var warmed = _scratch.File("warmed");
        var cold = _scratch.File("cold");

        var withWarmUp = await RunnerProcess.RunAsync([.. reference.RunArguments, "--out", warmed]);
        var without = await RunnerProcess.RunAsync([.. reference.RunArguments, "--out", cold, "--no-warm-up"]);

        Assert.True(withWarmUp.ExitCode == 0, withWarmUp.Error);
        Assert.True(without.ExitCode == 0, without.Error);
        RunOutputs.AssertSame(cold, warmed, ReferenceRunFixture.RunId);
        RunOutputs.AssertSame(reference.Bucket, warmed, ReferenceRunFixture.RunId);
    }

    [Fact]
    public async Task A_failing_warm_up_step_is_dropped_the_next_still_runs_and_the_run_completes_unchanged()
    {
        var laterStepRan = false;
        var bucket = _scratch.File("bucket");

        RunManifest manifest;
        await using (var warmUp = FirstUseWarmUp.Start([() => throw new DllNotFoundException("libSkiaSharp"), () => laterStepRan = true]))
        {
            await using var pipeline = LocalPipeline.Create(bucket, reference.Input);
            manifest = await pipeline.RunAsync(ReferenceRunFixture.Trigger(ReferenceRunFixture.RunId), CancellationToken.None);
            await warmUp.Completion;
            Assert.True(warmUp.Completion.IsCompletedSuccessfully);
        }

        Assert.True(laterStepRan);
        Assert.Equal(RunStatus.Completed, manifest.Status);
        RunOutputs.AssertSame(reference.Bucket, bucket, ReferenceRunFixture.RunId);
    }

    [Fact]
    public void Every_step_of_the_warm_up_works_on_its_own()
    {
        // The warm-up drops failures silently, so a step broken by a library upgrade would only cost time: caught here.
        foreach (var step in FirstUseWarmUp.Steps) Assert.Null(Record.Exception(step));
    }

    [Fact]
    public async Task Disposing_stops_the_steps_not_yet_started_and_waits_for_the_one_under_way()
    {
        using var started = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var ended = false;
        var laterStepRan = false;

        var warmUp = FirstUseWarmUp.Start([() => { started.Set(); release.Wait(); ended = true; }, () => laterStepRan = true]);
        started.Wait();
        var disposing = warmUp.DisposeAsync().AsTask();
        Assert.False(disposing.IsCompleted);
        release.Set();
        await disposing;

        Assert.True(ended);
        Assert.False(laterStepRan);
    }
}
