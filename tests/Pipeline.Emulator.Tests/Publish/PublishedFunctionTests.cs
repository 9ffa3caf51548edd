using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Pipeline.Core;
using Pipeline.Emulator.Tests.Support;
using Xunit.Abstractions;

namespace Pipeline.Emulator.Tests.Publish;

/// <summary>
/// What Cloud Run runs: each function's <c>dotnet publish -c Release</c> output, started as <c>dotnet Function.dll</c>
/// with <c>PORT</c> and <c>K_SERVICE</c> set. Each process must answer its health check and a real delivery (the
/// message the previous function published), log JSON lines, and say how long a cold start took. Slow (a Release
/// build of the five functions): filter it out with <c>--filter Category!=Publish</c> in a quick loop.
/// </summary>
[Collection(EmulatorTests.Name)]
[Trait("Category", "Publish")]
public sealed class PublishedFunctionTests(PubSubEmulator emulator, SampleOrders sample, ITestOutputHelper output)
{
    private static readonly string[] Functions = ["BuildStats", "TrainModel", "Predict", "RenderChart", "GenerateCampaign"];

    [Fact]
    public async Task Each_published_function_starts_with_dotnet_and_answers_health_and_a_delivery_on_PORT()
    {
        var root = RepositoryRoot();
        var published = Path.Combine(root, "artifacts", "publish-check");
        // Its own artifacts path: the developer's (or the test run's own) bin and obj are left alone, and a second run is incremental.
        await RunAsync("dotnet", root, "build", "functions/Runner/Runner.csproj", "-c", "Release", "--artifacts-path", published, "-v", "quiet", "-nologo");
        foreach (var function in Functions)
            await RunAsync("dotnet", root, "publish", $"functions/{function}/{function}.csproj", "-c", "Release", "--no-build",
                "--artifacts-path", published, "-o", Path.Combine(published, "out", function), "-v", "quiet", "-nologo");

        var prefix = $"p{Guid.NewGuid():N}"[..9] + "-";
        foreach (var topic in Topics.All)
        {
            await emulator.Admin.CreateTopicAsync(prefix + topic, default);
            await emulator.Admin.CreatePullSubscriptionAsync(prefix + topic + "-watch", prefix + topic, default);
        }
        var bucket = Path.Combine(Path.GetTempPath(), "pipeline-publish-check-" + prefix.TrimEnd('-'));
        Directory.CreateDirectory(bucket);
        const string runId = "published-functions";
        var trigger = Encoding.UTF8.GetBytes($$"""{"run_id":"{{runId}}","window_start":"2025-01-01","window_end":"2026-01-01"}""");
        var next = new PipelineMessage(trigger, new Dictionary<string, string> { ["stage"] = "trigger" }, "1", DateTimeOffset.UtcNow);
        var timings = new List<string> { "| function | process start → /health 200 | → first POST 2xx | first POST itself |", "| --- | ---: | ---: | ---: |" };
        try
        {
            foreach (var function in Functions)
            {
                var declaration = Pipeline.Hosting.FunctionHost.Describe(Runner.FunctionCatalog.Types[Array.IndexOf(Functions, function)]);
                var started = await StartAndDeliverAsync(Path.Combine(published, "out", function), function, prefix, bucket, next);
                timings.Add(string.Create(CultureInfo.InvariantCulture,
                    $"| {function} | {started.Health.TotalMilliseconds:0} ms | {started.FirstDelivery.TotalMilliseconds:0} ms | {(started.FirstDelivery - started.Health).TotalMilliseconds:0} ms |"));
                next = await emulator.PullOneAsync(prefix + declaration.Publishes + "-watch");
                Assert.Equal(runId, next.Attributes["run_id"]);
            }
        }
        finally
        {
            output.WriteLine(string.Join('\n', timings));
            Console.WriteLine(string.Join('\n', timings));
        }

        var manifest = PipelineJson.Deserialize<RunManifest>(File.ReadAllBytes(Path.Combine(bucket, BucketLayout.Manifest(runId))));
        Assert.Equal(RunStatus.Completed, manifest.Status);
        Directory.Delete(bucket, recursive: true);
    }

    private sealed record ColdStart(TimeSpan Health, TimeSpan FirstDelivery);

    private async Task<ColdStart> StartAndDeliverAsync(string directory, string function, string prefix, string bucket, PipelineMessage message)
    {
        Assert.True(File.Exists(Path.Combine(directory, function + ".dll")), $"{function}.dll is not in the publish output");
        var port = FreePort.Next();
        var start = new ProcessStartInfo("dotnet")
        {
            ArgumentList = { function + ".dll" },
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            Environment =
            {
                ["PORT"] = port.ToString(CultureInfo.InvariantCulture),
                ["K_SERVICE"] = function.ToLowerInvariant(),
                ["PUBSUB_EMULATOR_HOST"] = emulator.HostPort,
                ["GOOGLE_CLOUD_PROJECT"] = PubSubEmulator.ProjectId,
                ["Pipeline__TopicPrefix"] = prefix,
                ["Embedded__BucketDirectory"] = bucket,
                ["Embedded__Input"] = sample.Parquet,
            },
        };
        var lines = new ConcurrentQueue<string>();
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/"), Timeout = TimeSpan.FromSeconds(60) };
        var clock = Stopwatch.StartNew();
        using var process = Process.Start(start)!;
        process.OutputDataReceived += (_, e) => { if (e.Data is { Length: > 0 }) lines.Enqueue(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is { Length: > 0 }) lines.Enqueue("stderr: " + e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            var health = await WaitForHealthAsync(http, process, lines, clock);
            using var response = await http.PostAsync("/", new StringContent(PushEnvelope.For(message, $"projects/test-project/subscriptions/{function}"),
                Encoding.UTF8, "application/json"));
            var delivered = clock.Elapsed;
            Assert.True(response.StatusCode == HttpStatusCode.NoContent,
                $"{function} answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}\n{string.Join('\n', lines)}");

            // Cloud Run's stdout, read as Cloud Logging reads it: one JSON object a line, the run's lines naming the run.
            var json = lines.Select(line => JsonDocument.Parse(line)).ToList();
            Assert.All(json, line => Assert.True(line.RootElement.TryGetProperty("severity", out _) && line.RootElement.TryGetProperty("message", out _)));
            Assert.Contains(json, line => line.RootElement.TryGetProperty("run_id", out var id) && id.GetString() == message.Attributes.GetValueOrDefault("run_id", "published-functions"));
            return new ColdStart(health, delivered);
        }
        finally
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
    }

    private static async Task<TimeSpan> WaitForHealthAsync(HttpClient http, Process process, ConcurrentQueue<string> lines, Stopwatch clock)
    {
        while (clock.Elapsed < TimeSpan.FromSeconds(60))
        {
            if (process.HasExited) Assert.Fail($"the process exited with code {process.ExitCode}:\n{string.Join('\n', lines)}");
            try
            {
                using var response = await http.GetAsync("/health");
                if (response.StatusCode == HttpStatusCode.OK) return clock.Elapsed;
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }
            await Task.Delay(10);
        }
        throw new TimeoutException($"no answer on /health within 60 s:\n{string.Join('\n', lines)}");
    }

    private static async Task RunAsync(string program, string workingDirectory, params string[] arguments)
    {
        var start = new ProcessStartInfo(program) { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"{program} {string.Join(' ', arguments)} failed:\n{await stdout}\n{await stderr}");
    }

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
            if (File.Exists(Path.Combine(directory.FullName, "Pipeline.sln"))) return directory.FullName;
        throw new InvalidOperationException($"no Pipeline.sln above {AppContext.BaseDirectory}");
    }
}
