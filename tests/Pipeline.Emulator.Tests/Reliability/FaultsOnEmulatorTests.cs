using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Pipeline.Core;
using Pipeline.Emulator.Tests.Support;
using Pipeline.Hosting.PubSub;
using Pipeline.Functions.RunWatchdog;
using Pipeline.Runner;

namespace Pipeline.Emulator.Tests.Reliability;

/// <summary>
/// Faults on the Pub/Sub emulator: a message the chain cannot take reaches the dead-letter topic and fails its run;
/// <c>serve</c> killed with SIGKILL inside each stage and started again finishes the run; the emulator killed and
/// restarted while a stage works, and serve wires the chain again and finishes the run; a trigger to a project
/// without the topics says so in one line.
/// </summary>
[Collection(EmulatorTests.Name)]
public sealed class FaultsOnEmulatorTests(PubSubEmulator emulator, SampleOrders sample)
{
    private static string Trigger(string runId) =>
        $$"""{"run_id":"{{runId}}","window_start":"2025-01-01","window_end":"2026-01-01","k":4}""";

    [Fact]
    [Trait("Category", "Fault")]
    public async Task A_message_the_emulator_gives_up_on_fails_its_run_through_the_watchdog_once()
    {
        // TrainModel can never publish (a Pub/Sub outage for it alone): every delivery of stats-ready fails.
        await using var chain = await ServedChain.StartAsync(emulator, sample, stage => stage == Stages.TrainModel
            ? services => services.AddSingleton<IMessagePublisher>(new UnreachablePublisher())
            : null, withWatchdog: true);
        const string runId = "dead-lettered";

        await chain.PublishAsync(Topics.Trigger, Trigger(runId));
        var failedMessage = await chain.WaitForAsync(Topics.RunFailed, runId, TimeSpan.FromSeconds(120));

        var failed = PipelineJson.Deserialize<RunFailed>(failedMessage.Data.Span);
        Assert.Equal(Stages.TrainModel, failed.Stage);
        var attempts = PushSubscriptionSettings.Default.MaxDeliveryAttempts;
        Assert.Equal($"Pub/Sub gave up on TrainModel's message after {attempts} delivery attempts; last error: Pub/Sub answered 503 (test)", failed.Reason);
        var manifest = chain.Manifest(runId);
        Assert.Equal((RunStatus.Failed, true), (manifest.Status, manifest.Error!.Announced));
        Assert.Equal(attempts, chain.Deliveries.Count(d => d.Stage == Stages.TrainModel));
        Assert.Single(chain.Deliveries, d => d.Stage == Function.Name);
        await chain.SettleAsync(TimeSpan.FromSeconds(2));
        Assert.Single(chain.Published(Topics.RunFailed, runId));
    }

    [Fact]
    public async Task A_trigger_to_a_project_without_the_topics_says_so_in_one_line()
    {
        var result = await RunnerAsync(["trigger", "--project", "no-such-project"], TimeSpan.FromSeconds(60));

        Assert.Equal(1, result.ExitCode);
        Assert.Equal(
            $"Not published: no topic segmentation-trigger in project no-such-project on the emulator at {emulator.HostPort} — " +
            "is `serve` running with the same project (it prints the one it uses; pass --project or set PUBSUB_PROJECT_ID for both)?",
            result.Error.Trim());
        Assert.Contains("Project no-such-project (from --project)", result.Output, StringComparison.Ordinal);
    }

    public static TheoryData<string> EachStage => [.. Stages.All];

    [Theory]
    [MemberData(nameof(EachStage))]
    [Trait("Category", "Fault")]
    public async Task Serve_killed_inside_a_stage_and_started_again_finishes_the_run_with_the_same_outputs(string stage)
    {
        using var run = new ServedRun(sample, "serve-killed");

        using var first = await run.ServeUntilPausedAsync(emulator.HostPort, stage);
        var held = run.Manifest();
        Assert.Equal((RunStatus.Running, StageStatus.Running), (held.Status, held.Stages[stage].Status));
        Assert.NotNull(held.Stages[stage].Claim);

        // The replacement starts before the crash, as Cloud Run has a new instance up: with no serve listening for a
        // while, the emulator would spend its 5 delivery attempts on a dead port and dead-letter the message (the
        // watchdog then fails the run, which is right, but not what this test is about).
        using (var second = ServeProcess.Start(run.ServeArguments, emulator.HostPort, pauseIn: null))
        {
            await second.WaitForAsync(second.Output, "Ctrl+C stops.", TimeSpan.FromSeconds(90));
            first.Kill();
            // The emulator delivers the interrupted message again; it waits out the dead process's claim (2 s).
            await WaitUntilAsync(() => run.Manifest().Status != RunStatus.Running, TimeSpan.FromSeconds(60), second);
            var manifest = run.Manifest();
            Assert.True(manifest.Status == RunStatus.Completed, $"the run did not complete: {manifest.Status} {manifest.Error}\n{second.Log}");
            Assert.True(manifest.Stages[stage].Attempts >= 2);
            Assert.All(Stages.All.TakeWhile(s => s != stage), s => Assert.Equal(1, manifest.Stages[s].Attempts));
        }
        await run.AssertOutputsOfAnUndisturbedRunAsync();
    }

    [Fact]
    [Trait("Category", "Fault")]
    public async Task The_emulator_restarted_while_a_stage_works_and_serve_wires_it_again_the_run_completes_with_the_same_outputs()
    {
        using var run = new ServedRun(sample, "emulator-restarted");
        // An emulator of this test's own: the collection's is shared and must not go away.
        var port = FreePort.Next();
        using var own = new PubSubEmulator();
        await own.StartAsync(port);
        using var served = await run.ServeUntilPausedAsync(own.HostPort, Stages.Predict);

        own.KillProcessGroup();
        // The connection that carried Predict's delivery is gone: the delivery is abandoned, its claim released.
        await WaitUntilAsync(() => run.Manifest().Stages[Stages.Predict].Claim is null, TimeSpan.FromSeconds(30), served);
        var abandoned = run.Manifest();
        Assert.Equal((RunStatus.Running, StageStatus.Running), (abandoned.Status, abandoned.Stages[Stages.Predict].Status));
        Assert.False(File.Exists(Path.Combine(run.Bucket, BucketLayout.Latest)));

        // The same port, an empty emulator: no topic, no subscription, no message.
        await own.StartAsync(port);
        // The manifest says completed just before latest.json is written: wait for both.
        await WaitUntilAsync(() => run.Manifest().Status != RunStatus.Running && (run.Manifest().Status != RunStatus.Completed
            || File.Exists(Path.Combine(run.Bucket, BucketLayout.Latest))), TimeSpan.FromSeconds(60), served);

        var manifest = run.Manifest();
        Assert.True(manifest.Status == RunStatus.Completed, $"the run did not complete: {manifest.Status} {manifest.Error}\n{served.Log}");
        Assert.Contains(served.Output, line => line.Contains("had forgotten the chain's topics and subscriptions", StringComparison.Ordinal));
        Assert.Contains(served.Output, line => line.Contains($"run {run.RunId} resumed at {Stages.Predict}", StringComparison.Ordinal));
        Assert.Equal(2, manifest.Stages[Stages.Predict].Attempts);
        Assert.All(Stages.All.Where(s => s != Stages.Predict), s => Assert.Equal(1, manifest.Stages[s].Attempts));
        Assert.Equal(run.RunId, PipelineJson.Deserialize<LatestRun>(File.ReadAllBytes(Path.Combine(run.Bucket, BucketLayout.Latest))).RunId);
        await run.AssertOutputsOfAnUndisturbedRunAsync();
    }

    private static async Task WaitUntilAsync(Func<bool> condition, TimeSpan timeout, ServeProcess served)
    {
        var deadline = DateTimeOffset.UtcNow + timeout;
        while (!condition())
        {
            if (DateTimeOffset.UtcNow > deadline) throw new TimeoutException($"not within {timeout.TotalSeconds:0} s; serve's output:\n{served.Log}");
            await Task.Delay(250);
        }
    }

    /// <summary>
    /// One run served on the emulator by the Runner as a child process: its own topic prefix and bucket directory,
    /// and a second bucket for the same run undisturbed in one process, to compare with. Both go at the end.
    /// </summary>
    private sealed class ServedRun(SampleOrders sample, string runId) : IDisposable
    {
        private readonly string _prefix = $"f{Guid.NewGuid():N}"[..9] + "-";

        public string RunId => runId;

        public string Bucket => Path.Combine(Path.GetTempPath(), "pipeline-" + runId + "-" + _prefix.TrimEnd('-'));

        private string Reference => Bucket + "-reference";

        public string[] ServeArguments => ["serve", "--project", PubSubEmulator.ProjectId, "--topic-prefix", _prefix, "--base-port", "0",
            "--input", sample.Parquet, "--out", Bucket];

        public RunManifest Manifest() => PipelineJson.Deserialize<RunManifest>(File.ReadAllBytes(Path.Combine(Bucket, BucketLayout.Manifest(runId))));

        /// <summary>Starts serve, publishes the run's trigger, and returns once serve holds inside <paramref name="stage"/>.</summary>
        public async Task<ServeProcess> ServeUntilPausedAsync(string emulatorHost, string stage)
        {
            var served = ServeProcess.Start(ServeArguments, emulatorHost, pauseIn: stage);
            await served.WaitForAsync(served.Output, "Ctrl+C stops.", TimeSpan.FromSeconds(90));
            using (var publisher = new PubSubRestPublisher(new PubSubOptions { EmulatorHost = emulatorHost, ProjectId = PubSubEmulator.ProjectId }, _prefix))
                await publisher.PublishAsync(Topics.Trigger, Encoding.UTF8.GetBytes(Trigger(runId)), new Dictionary<string, string> { ["stage"] = "trigger" },
                    CancellationToken.None);
            await served.WaitForAsync(served.Error, StagePause.Marker, TimeSpan.FromSeconds(90));
            return served;
        }

        /// <summary>The same run, undisturbed and in one process, writes the same model, centroids, chart and campaign.</summary>
        public async Task AssertOutputsOfAnUndisturbedRunAsync()
        {
            await using (var local = LocalPipeline.Create(Reference, sample.Parquet))
                Assert.Equal(RunStatus.Completed, (await local.RunAsync(System.Text.Json.Nodes.JsonNode.Parse(Trigger(runId))!.AsObject(), CancellationToken.None)).Status);
            foreach (var name in new[] { "model.json", "centroids.csv", "chart.png", "campaign.json", "campaign.md" })
                Assert.True(File.ReadAllBytes(Path.Combine(Reference, "runs", runId, name)).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(Bucket, "runs", runId, name))),
                    $"{name} differs from the undisturbed run's");
        }

        public void Dispose()
        {
            foreach (var directory in new[] { Bucket, Reference })
                if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true);
        }
    }

    private async Task<(int ExitCode, string Output, string Error)> RunnerAsync(string[] args, TimeSpan timeout)
    {
        using var process = ServeProcess.Start(args, emulator.HostPort, pauseIn: null);
        using var deadline = new CancellationTokenSource(timeout);
        await process.Process.WaitForExitAsync(deadline.Token);
        process.Process.WaitForExit(); // the output events have all been raised
        return (process.Process.ExitCode, string.Join('\n', process.Output), string.Join('\n', process.Error));
    }

    private sealed class UnreachablePublisher : IMessagePublisher
    {
        public Task<string> PublishAsync(string topic, ReadOnlyMemory<byte> data, IReadOnlyDictionary<string, string> attributes,
            CancellationToken cancellationToken) => throw new HttpRequestException("Pub/Sub answered 503 (test)");
    }

    /// <summary>The Runner as a child process against the test emulator, its output lines collected as they come.</summary>
    private sealed class ServeProcess : IDisposable
    {
        private ServeProcess(Process process) => Process = process;

        public Process Process { get; }

        public ConcurrentQueue<string> Output { get; } = new();

        public ConcurrentQueue<string> Error { get; } = new();

        public string Log => string.Join('\n', Output) + "\n" + string.Join('\n', Error);

        public static ServeProcess Start(IEnumerable<string> args, string emulatorHost, string? pauseIn)
        {
            var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "pipeline.dll"));
            foreach (var arg in args) start.ArgumentList.Add(arg);
            foreach (var name in new[] { "PUBSUB_PROJECT_ID", "GOOGLE_CLOUD_PROJECT" }) start.Environment.Remove(name);
            start.Environment["PUBSUB_EMULATOR_HOST"] = emulatorHost;
            // A short lease, so that the restarted serve takes the killed one's stage over within seconds.
            start.Environment["Pipeline__StageLeaseSeconds"] = "2";
            if (pauseIn is not null) start.Environment["Runner__PauseInStage"] = pauseIn;
            var served = new ServeProcess(System.Diagnostics.Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start"));
            served.Process.OutputDataReceived += (_, e) => { if (e.Data is not null) served.Output.Enqueue(e.Data); };
            served.Process.ErrorDataReceived += (_, e) => { if (e.Data is not null) served.Error.Enqueue(e.Data); };
            served.Process.BeginOutputReadLine();
            served.Process.BeginErrorReadLine();
            return served;
        }

        public async Task WaitForAsync(ConcurrentQueue<string> lines, string text, TimeSpan timeout)
        {
            var deadline = DateTimeOffset.UtcNow + timeout;
            while (!lines.Any(line => line.Contains(text, StringComparison.Ordinal)))
            {
                if (Process.HasExited || DateTimeOffset.UtcNow > deadline)
                    throw new TimeoutException($"no line with '{text}' (exited: {Process.HasExited}):\n{Log}");
                await Task.Delay(100);
            }
        }

        /// <summary>SIGKILL: nothing is flushed, no handler runs.</summary>
        public void Kill()
        {
            Process.Kill(entireProcessTree: true);
            Process.WaitForExit();
        }

        public void Dispose()
        {
            if (!Process.HasExited) Kill();
            Process.Dispose();
        }
    }
}
