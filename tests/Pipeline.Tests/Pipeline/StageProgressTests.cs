using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using Pipeline.Analytics;
using Pipeline.Core;
using Pipeline.Embedded;
using Pipeline.Embedded.SampleData;
using Pipeline.Tests.Reliability;

namespace Pipeline.Tests.Pipeline;

/// <summary>
/// Long stages show their progress: plain, throttled log lines when the Runner's output is redirected (what CI and a
/// log file keep, and what Cloud Run logs), a live status line on a terminal that leaves the end-of-run summary as it was.
/// </summary>
public sealed partial class StageProgressTests : IClassFixture<StageProgressTests.SampleFixture>
{
    private readonly SampleFixture _sample;

    public StageProgressTests(SampleFixture sample) => _sample = sample;

    /// <summary>Sample order items, written once for the tests that run the Runner.</summary>
    public sealed class SampleFixture : IAsyncLifetime, IDisposable
    {
        private readonly TempDirectory _directory = new();

        public string Input => _directory.File("order_items.parquet");

        public SampleSummary Summary { get; private set; } = null!;

        public string Bucket(string name) => _directory.File(name);

        public async Task InitializeAsync() =>
            Summary = await OrderItemsSample.WriteAsync(Input, new SampleOptions(Users: 3_000, Items: null, Seed: 5, EndDate: new DateOnly(2026, 1, 1)),
                null, CancellationToken.None);

        public Task DisposeAsync() => Task.CompletedTask;

        public void Dispose() => _directory.Dispose();
    }

    private string[] RunArguments(string runId, string bucket) =>
        ["run", "--input", _sample.Input, "--out", bucket, "--run-id", runId, "--window-start", "2025-01-01", "--window-end", "2026-01-01", "--k", "4", "--seed", "42"];

    [Fact]
    public async Task A_run_with_output_redirected_logs_plain_progress_lines_with_the_run_s_numbers()
    {
        var bucket = _sample.Bucket("redirected");

        var result = await RunnerProcess.RunAsync(RunArguments("progress", bucket));

        Assert.True(result.ExitCode == 0, result.Output + result.Error);
        var manifest = PipelineJson.Deserialize<RunManifest>(File.ReadAllBytes(Path.Combine(bucket, BucketLayout.Manifest("progress"))));
        var customers = (long)manifest.Metrics["customers"];
        var lines = result.Output.Split('\n').Where(l => l.Contains("LoggedStageProgress", StringComparison.Ordinal)).ToList();
        Assert.DoesNotContain('\u001b', result.Output);

        // BuildStats read every order item of the sample (Parquet knows its row count) and says what it counted.
        var items = _sample.Summary.Items;
        Assert.Contains(lines, l => l.Contains(
            string.Create(CultureInfo.InvariantCulture, $"BuildStats progress: reading order items, {items} of {items} rows, {(long)manifest.Metrics["items_counted"]:N0} items counted in the window, {customers:N0} customers (done)"),
            StringComparison.Ordinal));

        // TrainModel: each of the three starts ends with a final line; within a start the loss never rises, and the
        // start kept (lowest loss) took the iterations the model records.
        var iterations = lines.Select(l => IterationLine().Match(l)).Where(m => m.Success)
            .Select(m => (Start: int.Parse(m.Groups["start"].Value, CultureInfo.InvariantCulture),
                Iteration: int.Parse(m.Groups["iteration"].Value, CultureInfo.InvariantCulture),
                Loss: double.Parse(m.Groups["loss"].Value, CultureInfo.InvariantCulture), Final: m.Groups["done"].Success))
            .ToList();
        Assert.Equal([1, 2, 3], iterations.Where(i => i.Final).Select(i => i.Start));
        foreach (var start in iterations.GroupBy(i => i.Start))
        {
            var losses = start.Select(i => i.Loss).ToList();
            Assert.True(losses.Zip(losses.Skip(1)).All(p => p.Second <= p.First), $"start {start.Key}: loss rose: {string.Join(", ", losses)}");
            Assert.True(start.Last().Final);
            Assert.True(start.Select(i => i.Iteration).SequenceEqual(start.Select(i => i.Iteration).Order()));
        }
        var kept = iterations.Where(i => i.Final).MinBy(i => i.Loss);
        Assert.Equal(manifest.Metrics["iterations"], kept.Iteration);
        Assert.True(iterations.First().Iteration == 0 && iterations.First().Loss > kept.Loss, "the first line is the initialisation, above the final loss");

        // Predict assigned every customer; the last stages report their steps.
        Assert.Contains(lines, l => l.Contains($"Predict progress: assigning segments, {customers} of {customers} customers, 4 segments", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("Predict progress: profiles.json written, 4 of 4 segments (done)", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("RenderChart progress: chart.png drawn, 2 of 2 steps", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("GenerateCampaign progress: campaign.json and campaign.md written, 3 of 3 steps", StringComparison.Ordinal));

        // The summary is unchanged and still ends with where the report is.
        Assert.Contains("Run progress completed in", result.Output, StringComparison.Ordinal);
        Assert.EndsWith($"Index:  {Path.Combine(bucket, BucketLayout.Index)}", result.Output.TrimEnd(), StringComparison.Ordinal);
        Assert.Contains($"Report: {Path.Combine(bucket, BucketLayout.Report("progress"))}", result.Output, StringComparison.Ordinal);
    }

    [GeneratedRegex(@"TrainModel progress: k-means k = 4, start (?<start>\d) of 3 on [\d,]+ customers, (?<iteration>\d+) of 20 iterations, loss (?<loss>[\d.]+)(?<done> \(done\))?")]
    private static partial Regex IterationLine();

    /// <summary>A test that needs script(1) for a pseudo-terminal (Debian's bsdutils, always installed there).</summary>
    public sealed class PseudoTerminalFactAttribute : FactAttribute
    {
        public const string Script = "/usr/bin/script";

        public PseudoTerminalFactAttribute()
        {
            if (!File.Exists(Script)) Skip = $"{Script} (util-linux) is not installed: it gives the Runner a pseudo-terminal";
        }
    }

    [PseudoTerminalFact]
    public async Task A_run_on_a_terminal_draws_a_live_line_and_leaves_the_summary_intact()
    {
        // script(1) gives the Runner a pseudo-terminal, as a person's shell does.
        var bucket = _sample.Bucket("terminal");
        var command = string.Join(" ", new[] { "dotnet", RunnerProcess.Dll }.Concat(RunArguments("live", bucket)).Select(Quote));
        var start = new ProcessStartInfo(PseudoTerminalFactAttribute.Script) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[] { "-qec", command, "/dev/null" }) start.ArgumentList.Add(arg);
        start.Environment["TERM"] = "xterm";
        start.Environment["DOTNET_NOLOGO"] = "1";

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(deadline.Token);
        var text = (await output).Replace("\r\n", "\n", StringComparison.Ordinal);

        Assert.True(process.ExitCode == 0, text);
        // The status line was drawn in place (the first status always is; later ones at most every redraw interval, so
        // which ones depends on the machine's speed), each K-means start's result stays, and progress did not go to the log as well.
        Assert.Matches(new Regex($@"\r\u001b\[2K({string.Join("|", Stages.All)}) "), text);
        Assert.Contains("TrainModel k-means k = 4, start 1 of 3", text, StringComparison.Ordinal);
        Assert.DoesNotContain("LoggedStageProgress", text, StringComparison.Ordinal);
        // Each step's result stays as a line of its own.
        Assert.Matches(new Regex(@"\nBuildStats reading order items: [\d,]+ of [\d,]+ rows, .* \(done\)\n"), text);
        // The summary's lines are whole lines, with no status left in them.
        var summary = text[text.IndexOf("\nRun live completed in", StringComparison.Ordinal)..];
        Assert.DoesNotContain('\u001b', summary);
        foreach (var stage in Stages.All)
            Assert.Matches(new Regex($@"\n  {stage} +[\d.]+ s\n"), summary);
        Assert.Contains($"\nReport: {Path.Combine(bucket, BucketLayout.Report("live"))}\n", summary, StringComparison.Ordinal);
    }

    private static string Quote(string argument) => "'" + argument.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    [Fact]
    public void Logged_progress_keeps_at_most_one_line_a_second_per_stage_plus_every_final_one()
    {
        var clock = new ManualClock();
        var logger = new RecordingLogger();
        var progress = new LoggedStageProgress(logger, clock);
        StageProgress Iteration(string stage, int i, bool final = false) =>
            new("r1", stage, "k-means start 1 of 3", i, 20, "iterations", $"loss {1.0 / (i + 1):0.000}", final);

        for (var i = 0; i < 10; i++)
        {
            progress.Report(Iteration(Stages.TrainModel, i));
            clock.Advance(TimeSpan.FromMilliseconds(150));
        }
        progress.Report(Iteration(Stages.BuildStats, 0));
        progress.Report(Iteration(Stages.TrainModel, 10, final: true));
        progress.Report(Iteration(Stages.TrainModel, 11));

        // 0 at 0 ms, 7 at 1,050 ms; BuildStats has its own second; the final line always; 11 is within a second of it.
        Assert.Equal(
        [
            "TrainModel progress: k-means start 1 of 3, 0 of 20 iterations, loss 1.000",
            "TrainModel progress: k-means start 1 of 3, 7 of 20 iterations, loss 0.125",
            "BuildStats progress: k-means start 1 of 3, 0 of 20 iterations, loss 1.000",
            "TrainModel progress: k-means start 1 of 3, 10 of 20 iterations, loss 0.091 (done)",
        ], logger.Messages);
        Assert.All(logger.Levels, level => Assert.Equal(LogLevel.Information, level));
    }

    [Fact]
    public void K_means_reports_every_iteration_of_every_start_and_the_kept_start_matches_the_fit()
    {
        var random = new Random(3);
        var points = Enumerable.Range(0, 3_000).SelectMany(i => new[] { i % 3 * 5 + random.NextDouble(), random.NextDouble(), i % 2 * 4 + random.NextDouble() }).ToArray();
        var reports = new List<KMeansIteration>();

        var fit = KMeans.Fit(points, 3, 4, seed: 7, new KMeansOptions { Starts = 3 }, reports.Add);

        Assert.Equal(3, reports.Count(r => r.Last));
        foreach (var start in reports.GroupBy(r => r.Start))
        {
            Assert.Equal(Enumerable.Range(0, start.Count()), start.Select(r => r.Iteration));
            Assert.True(start.Zip(start.Skip(1)).All(p => p.Second.Loss <= p.First.Loss * (1 + 1e-12)));
            Assert.True(start.Last().Last);
        }
        var kept = reports.Where(r => r.Last).Single(r => r.Start == fit.Start);
        Assert.Equal(fit.Iterations, kept.Iteration);
        Assert.Equal(fit.Loss, kept.Loss, 12);
        // Without a listener the fit is the same.
        Assert.Equal(fit.Centroids, KMeans.Fit(points, 3, 4, seed: 7, new KMeansOptions { Starts = 3 }).Centroids);
    }

    [Fact]
    public void A_long_DuckDB_statement_reports_DuckDB_s_percentage_while_it_runs_and_nothing_after()
    {
        using var directory = new TempDirectory();
        using var connection = DuckDb.Open(new EmbeddedOptions { BucketDirectory = directory.Path });
        // DuckDB estimates progress for file scans (Parquet, CSV), as BuildStats and Predict read; not for range().
        var items = directory.File("items.parquet");
        DuckDb.Execute(connection, $"COPY (SELECT range AS id, hash(range) % 1000003 AS u, random() AS v FROM range(1500000)) TO {DuckDb.Literal(items)} (FORMAT parquet, ROW_GROUP_SIZE 100000)");
        var recorder = new RecordingProgress();
        var watch = Stopwatch.StartNew();

        DuckDbProgress.Run(connection, recorder, percentage => new StageProgress("r1", Stages.BuildStats, "reading", (long)percentage, 100, "%"),
            () => DuckDb.Execute(connection, $"CREATE TEMP TABLE sums AS SELECT u, count(*), avg(v), max(id), max(md5(repeat(v::VARCHAR, 8))) FROM read_parquet({DuckDb.Literal(items)}) GROUP BY u"));
        var reported = recorder.Reports.Count;
        Thread.Sleep(500);

        // The statement takes about a second here, a hash of a long text per row included (without it, 0.2 s on a fast
        // machine: over before the first poll); DuckDB's estimate is polled five times a second.
        Assert.True(reported >= 1, $"{reported} reports in {watch.Elapsed.TotalSeconds:0.0} s");
        Assert.Contains(recorder.Reports, r => r.Done is >= 0 and < 100);
        Assert.All(recorder.Reports, r => Assert.InRange(r.Done, 0, 100));
        // Nothing is reported once the statement has returned: the poller is done with the connection.
        Assert.Equal(reported, recorder.Reports.Count);
        // DuckDB did not print its own bar on our output.
        Assert.False(DuckDb.Scalar<bool>(connection, "SELECT current_setting('enable_progress_bar_print')"));
    }

    [Fact]
    public void Without_a_listener_a_DuckDB_statement_runs_without_progress_tracking()
    {
        using var connection = DuckDb.Open(new EmbeddedOptions { BucketDirectory = "unused" });

        DuckDbProgress.Run(connection, StageProgress.Silent, _ => throw new InvalidOperationException("nobody listens"),
            () => DuckDb.Execute(connection, "CREATE TEMP TABLE sums AS SELECT range % 7 AS g, count(*) FROM range(1000000) GROUP BY g"));

        Assert.False(DuckDb.Scalar<bool>(connection, "SELECT current_setting('enable_progress_bar')"));
    }

    private sealed class RecordingProgress : IStageProgress
    {
        public List<StageProgress> Reports { get; } = [];

        public void Report(StageProgress progress)
        {
            lock (Reports) Reports.Add(progress);
        }
    }

    private sealed class ManualClock : TimeProvider
    {
        private DateTimeOffset _now = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

        public override DateTimeOffset GetUtcNow() => _now;

        public void Advance(TimeSpan by) => _now += by;
    }

    private sealed class RecordingLogger : ILogger<LoggedStageProgress>
    {
        public List<string> Messages { get; } = [];

        public List<LogLevel> Levels { get; } = [];

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            Messages.Add(formatter(state, exception));
            Levels.Add(logLevel);
        }
    }
}
