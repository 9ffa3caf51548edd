using Microsoft.Extensions.DependencyInjection;
using Pipeline.Core;
using Pipeline.Runner;

namespace Pipeline.Tests.Reliability;

/// <summary>
/// Faults injected for real into the embedded run: the process killed with SIGKILL inside each stage and started
/// again, the disk full in each stage, the bucket directory really read-only or full (a tmpfs), two runs at once on
/// one bucket, one stage message delivered twice at once.
/// Each is compared with an undisturbed run of the same input and run id.
/// </summary>
[Trait("Category", "Fault")]
public sealed class RunnerFaultTests(ReferenceRunFixture reference) : IClassFixture<ReferenceRunFixture>, IDisposable
{
    private readonly TempDirectory _scratch = new();

    public void Dispose() => _scratch.Dispose();

    public static TheoryData<string> EachStage => [.. Stages.All];

    /// <summary>A short lease, so that the restarted process takes the killed one's stage over within seconds.</summary>
    private static readonly Dictionary<string, string> ShortLease = new() { ["Pipeline__StageLeaseSeconds"] = "2" };

    [Theory]
    [MemberData(nameof(EachStage))]
    public async Task A_run_killed_inside_a_stage_and_run_again_ends_with_the_outputs_of_an_undisturbed_run(string stage)
    {
        var bucket = _scratch.File("bucket");
        string[] arguments = [.. reference.RunArguments, "--out", bucket];

        using (var process = RunnerProcess.Start(arguments, new Dictionary<string, string>(ShortLease) { ["Runner__PauseInStage"] = stage }))
        {
            await RunnerProcess.WaitForErrorLineAsync(process, StagePause.Marker, TimeSpan.FromSeconds(90));
            process.Kill(); // SIGKILL: no handler runs, nothing is flushed or cleaned up
            await process.WaitForExitAsync();
        }

        var killed = await ManifestAsync(bucket);
        Assert.Equal(RunStatus.Running, killed.Status);
        Assert.Equal(StageStatus.Running, killed.Stages[stage].Status);
        Assert.NotNull(killed.Stages[stage].Claim);
        Assert.False(File.Exists(Path.Combine(bucket, BucketLayout.Latest)));
        // What the killed process left is whole: every object it wrote is the undisturbed run's.
        RunOutputs.AssertSubsetOf(reference.Bucket, bucket, ReferenceRunFixture.RunId);

        var again = await RunnerProcess.RunAsync(arguments, ShortLease);

        Assert.True(again.ExitCode == 0, again.Output + again.Error);
        Assert.Contains($"resuming it at {stage}", again.Output, StringComparison.Ordinal);
        var resumed = await ManifestAsync(bucket);
        Assert.Equal(RunStatus.Completed, resumed.Status);
        Assert.All(resumed.Stages.Values, s => Assert.Equal(StageStatus.Completed, s.Status));
        Assert.Equal(2, resumed.Stages[stage].Attempts);
        // The stages before the killed one were not run again.
        Assert.All(Stages.All.TakeWhile(s => s != stage), s => Assert.Equal(1, resumed.Stages[s].Attempts));
        RunOutputs.AssertSame(reference.Bucket, bucket, ReferenceRunFixture.RunId);
        Assert.Equal(ReferenceRunFixture.RunId, PipelineJson.Deserialize<LatestRun>(File.ReadAllBytes(Path.Combine(bucket, BucketLayout.Latest))).RunId);
    }

    [Fact]
    public async Task A_completed_run_run_again_says_so_and_changes_nothing()
    {
        var bucket = _scratch.File("bucket");
        string[] arguments = [.. reference.RunArguments, "--out", bucket];
        var first = await RunnerProcess.RunAsync(arguments);
        Assert.True(first.ExitCode == 0, first.Output + first.Error);
        var files = Directory.EnumerateFiles(bucket, "*", SearchOption.AllDirectories).ToDictionary(f => f, File.GetLastWriteTimeUtc);

        var again = await RunnerProcess.RunAsync(arguments);

        Assert.Equal(0, again.ExitCode);
        Assert.Contains($"Run {ReferenceRunFixture.RunId} already completed", again.Output, StringComparison.Ordinal);
        Assert.Equal(files, Directory.EnumerateFiles(bucket, "*", SearchOption.AllDirectories).ToDictionary(f => f, File.GetLastWriteTimeUtc));
    }

    public static TheoryData<string, string> DiskFullInEachStage => new()
    {
        { Stages.BuildStats, "customer_stats" },
        { Stages.TrainModel, "model.json" },
        { Stages.Predict, "predictions" },
        { Stages.RenderChart, "chart.png" },
        { Stages.GenerateCampaign, "campaign.json" },
    };

    [Theory]
    [MemberData(nameof(DiskFullInEachStage))]
    public async Task A_full_disk_fails_the_run_in_its_stage_with_the_reason_and_keeps_what_was_written(string stage, string objectName)
    {
        var bucket = _scratch.File("bucket");
        var faulty = new FaultyBucket(bucket, name => name.Contains(objectName, StringComparison.Ordinal));
        await using var pipeline = LocalPipeline.Create(bucket, reference.Input, overrideServices: services => services.AddSingleton<IBucket>(faulty));

        var manifest = await pipeline.RunAsync(ReferenceRunFixture.Trigger(ReferenceRunFixture.RunId), CancellationToken.None);

        Assert.Equal(RunStatus.Failed, manifest.Status);
        Assert.Equal(stage, manifest.Error!.Stage);
        Assert.Contains($"gave up on {stage}'s message after {pipeline.Bus.MaxDeliveryAttempts} delivery attempts", manifest.Error.Reason, StringComparison.Ordinal);
        Assert.Contains("No space left on device", manifest.Error.Reason, StringComparison.Ordinal);
        Assert.True(manifest.Error.Announced);
        Assert.Equal(pipeline.Bus.MaxDeliveryAttempts, faulty.RefusedWrites);
        Assert.Single(pipeline.Bus.Published, p => p.Topic == Topics.RunFailed);
        Assert.False(File.Exists(Path.Combine(bucket, BucketLayout.Latest)));
        // Nothing already written was lost or damaged: the earlier stages' outputs are the undisturbed run's.
        Assert.All(Stages.All.TakeWhile(s => s != stage), s => Assert.Equal(StageStatus.Completed, manifest.Stages[s].Status));
        RunOutputs.AssertSubsetOf(reference.Bucket, bucket, ReferenceRunFixture.RunId);
    }

    public static TheoryData<string> BucketFaults => ["read-only", "full"];

    [TmpfsTheory]
    [MemberData(nameof(BucketFaults))]
    public async Task A_bucket_that_turns_read_only_or_full_stops_the_run_with_the_reason_and_loses_nothing(string fault)
    {
        using var bucket = TmpfsBucket.Mount("32m");
        string[] arguments = [.. reference.RunArguments, "--out", bucket.Path];
        // An earlier run completed in the bucket (latest.json names it), and the run's segments are matched to its:
        // the undisturbed run to compare with has the same earlier run before it.
        var undisturbed = _scratch.File("undisturbed");
        foreach (var (directory, runs) in new[] { (bucket.Path, new[] { "earlier" }), (undisturbed, new[] { "earlier", ReferenceRunFixture.RunId }) })
            foreach (var runId in runs)
            {
                await using var pipeline = LocalPipeline.Create(directory, reference.Input);
                Assert.Equal(RunStatus.Completed, (await pipeline.RunAsync(ReferenceRunFixture.Trigger(runId), CancellationToken.None)).Status);
            }
        // This run killed inside Predict: its statistics and model are written, its manifest says running.
        using (var process = RunnerProcess.Start(arguments, new Dictionary<string, string>(ShortLease) { ["Runner__PauseInStage"] = Stages.Predict }))
        {
            await RunnerProcess.WaitForErrorLineAsync(process, StagePause.Marker, TimeSpan.FromSeconds(90));
            process.Kill();
            await process.WaitForExitAsync();
        }
        var written = Snapshot(bucket.Path);

        const string filler = "filler";
        if (fault == "full") Assert.True(bucket.Fill(filler) > 0);
        else bucket.RemountReadOnly();
        var stopped = await RunnerProcess.RunAsync(arguments, ShortLease, TimeSpan.FromSeconds(60));

        Assert.Equal(1, stopped.ExitCode);
        Assert.Contains($"resuming it at {Stages.Predict}", stopped.Output, StringComparison.Ordinal);
        var line = Assert.Single(stopped.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        Assert.StartsWith($"Run {ReferenceRunFixture.RunId} did not finish: {Stages.Predict} stopped (", line, StringComparison.Ordinal);
        Assert.Contains(fault == "full" ? "No space left on device : '" + bucket.Path : "Read-only file system : '" + bucket.Path, line, StringComparison.Ordinal);
        Assert.Contains("run the same command again", line, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", stopped.Output + stopped.Error, StringComparison.Ordinal);
        // Nothing already written was lost or damaged: the earlier run, latest.json, this run's outputs and manifest.
        Assert.Equal(written, Snapshot(bucket.Path).Where(f => f.Key != filler));
        var manifest = await ManifestAsync(bucket.Path);
        Assert.Equal((RunStatus.Running, StageStatus.Running), (manifest.Status, manifest.Stages[Stages.Predict].Status));

        // With room again, the same command resumes the run and ends as an undisturbed run.
        if (fault == "full") File.Delete(Path.Combine(bucket.Path, filler));
        else bucket.RemountReadWrite();
        var again = await RunnerProcess.RunAsync(arguments, ShortLease, TimeSpan.FromSeconds(60));
        Assert.True(again.ExitCode == 0, again.Output + again.Error);
        RunOutputs.AssertSame(undisturbed, bucket.Path, ReferenceRunFixture.RunId);
        Assert.Equal(ReferenceRunFixture.RunId, PipelineJson.Deserialize<LatestRun>(File.ReadAllBytes(Path.Combine(bucket.Path, BucketLayout.Latest))).RunId);
    }

    /// <summary>Every file under the bucket and a hash of its bytes.</summary>
    private static Dictionary<string, string> Snapshot(string bucket) =>
        Directory.EnumerateFiles(bucket, "*", SearchOption.AllDirectories).ToDictionary(
            path => Path.GetRelativePath(bucket, path), path => Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(path))));

    [Fact]
    public async Task Two_runs_at_once_on_one_bucket_both_complete_with_their_own_outputs()
    {
        var bucket = _scratch.File("bucket");
        async Task<RunManifest> Run(string runId)
        {
            await using var pipeline = LocalPipeline.Create(bucket, reference.Input);
            return await pipeline.RunAsync(ReferenceRunFixture.Trigger(runId), CancellationToken.None);
        }

        var runs = await Task.WhenAll(Run("left"), Run("right"));

        Assert.All(runs, run => Assert.Equal(RunStatus.Completed, run.Status));
        Assert.All(runs, run => Assert.All(run.Stages.Values, s => Assert.Equal((StageStatus.Completed, 1), (s.Status, s.Attempts))));
        foreach (var runId in new[] { "left", "right" })
            Assert.Equal(RunOutputs.Objects(reference.Bucket, ReferenceRunFixture.RunId), RunOutputs.Objects(bucket, runId));
        // The customers are the same input's: the statistics agree with the undisturbed run's, row for row.
        var stats = RunOutputs.Objects(bucket, "left").First(n => n.StartsWith("customer_stats", StringComparison.Ordinal));
        Assert.Equal(RunOutputs.Content(reference.Bucket, ReferenceRunFixture.RunId, stats), RunOutputs.Content(bucket, "left", stats));
        Assert.Equal(RunOutputs.Content(reference.Bucket, ReferenceRunFixture.RunId, stats), RunOutputs.Content(bucket, "right", stats));
        var latest = PipelineJson.Deserialize<LatestRun>(File.ReadAllBytes(Path.Combine(bucket, BucketLayout.Latest)));
        Assert.Contains(latest.RunId, new[] { "left", "right" });
    }

    [Fact]
    public async Task Two_run_processes_at_once_on_one_bucket_both_complete_with_their_own_outputs()
    {
        var bucket = _scratch.File("bucket");
        string[] Arguments(string runId) => [.. reference.RunArguments.Select(a => a == ReferenceRunFixture.RunId ? runId : a), "--out", bucket];

        // Two processes: the manifests, latest.json and index.html are shared through the bucket's file locks alone.
        var runs = await Task.WhenAll(RunnerProcess.RunAsync(Arguments("left")), RunnerProcess.RunAsync(Arguments("right")));

        Assert.All(runs, run => Assert.True(run.ExitCode == 0, run.Output + run.Error));
        foreach (var runId in new[] { "left", "right" })
        {
            var manifest = PipelineJson.Deserialize<RunManifest>(File.ReadAllBytes(Path.Combine(bucket, BucketLayout.Manifest(runId))));
            Assert.Equal(RunStatus.Completed, manifest.Status);
            Assert.All(manifest.Stages.Values, s => Assert.Equal((StageStatus.Completed, 1), (s.Status, s.Attempts)));
            Assert.Equal(RunOutputs.Objects(reference.Bucket, ReferenceRunFixture.RunId), RunOutputs.Objects(bucket, runId));
        }
        var stats = RunOutputs.Objects(bucket, "left").First(n => n.StartsWith("customer_stats", StringComparison.Ordinal));
        Assert.Equal(RunOutputs.Content(bucket, "left", stats), RunOutputs.Content(bucket, "right", stats));
        Assert.Equal(RunOutputs.Content(reference.Bucket, ReferenceRunFixture.RunId, stats), RunOutputs.Content(bucket, "left", stats));
        var latest = PipelineJson.Deserialize<LatestRun>(File.ReadAllBytes(Path.Combine(bucket, BucketLayout.Latest)));
        Assert.Contains(latest.RunId, new[] { "left", "right" });
    }

    [Fact]
    public async Task The_same_stage_message_delivered_twice_at_once_is_worked_on_once()
    {
        var bucket = _scratch.File("bucket");
        await using var pipeline = LocalPipeline.Create(bucket, reference.Input);
        var functions = pipeline.Functions;
        var trigger = new PipelineMessage(System.Text.Encoding.UTF8.GetBytes(ReferenceRunFixture.Trigger("twice").ToJsonString()),
            new Dictionary<string, string>(), "t1", DateTimeOffset.UtcNow);
        await functions[0].HandleAsync(trigger, CancellationToken.None);
        var statsReady = pipeline.Bus.Published.Single(p => p.Topic == Topics.StatsReady).Message;

        // Two deliveries of one message, racing: one claims TrainModel, the other finds it held or done.
        var outcomes = await Task.WhenAll(Enumerable.Range(0, 2).Select(_ => Task.Run<StageHeldException?>(async () =>
        {
            try
            {
                await functions[1].HandleAsync(statsReady, CancellationToken.None);
                return null;
            }
            catch (StageHeldException e)
            {
                return e;
            }
        })));
        // The held one comes back later, as Pub/Sub redelivers a non-2xx answer, and finds the stage completed.
        await functions[1].HandleAsync(statsReady, CancellationToken.None);

        Assert.Single(pipeline.Bus.Published, p => p.Topic == Topics.ModelTrained);
        var manifest = await pipeline.Ledger.GetAsync("twice", CancellationToken.None);
        Assert.Equal((StageStatus.Completed, 1), (manifest!.Stages[Stages.TrainModel].Status, manifest.Stages[Stages.TrainModel].Attempts));
        Assert.Null(manifest.Stages[Stages.TrainModel].Claim);
        Assert.InRange(outcomes.Count(o => o is not null), 0, 1);
    }

    private static async Task<RunManifest> ManifestAsync(string bucket) =>
        PipelineJson.Deserialize<RunManifest>(await File.ReadAllBytesAsync(Path.Combine(bucket, BucketLayout.Manifest(ReferenceRunFixture.RunId))));
}
