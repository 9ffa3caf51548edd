using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;
using Pipeline.Campaigns;
using Pipeline.Core;

namespace Pipeline.Runner.Commands;

/// <summary><c>run</c>: the whole chain in one process on the embedded backend.</summary>
public static class RunCommand
{
    public static Command Create()
    {
        var input = new Option<string?>("--input", "-i") { Description = "order_items as CSV (BigQuery export or ISO 8601 timestamps), Parquet, or a DuckDB database with an order_items table. Default: generated sample data." };
        var output = new Option<string>("--out", "-o") { Description = "The bucket directory the outputs go to.", DefaultValueFactory = _ => "./out" };
        var sampleUsers = new Option<long>("--sample-users") { Description = "Customers in the generated sample when no --input is given (the lab's size: 100,000).", DefaultValueFactory = _ => 100_000 };
        var trigger = new TriggerOptions();
        var command = new Command("run", "Run the whole chain in one process on the embedded backend (DuckDB, a local directory, the offline campaign writer).");
        command.Options.Add(input);
        command.Options.Add(output);
        command.Options.Add(sampleUsers);
        trigger.AddTo(command);

        command.SetAction(async (result, cancellationToken) =>
        {
            var outDirectory = Path.GetFullPath(result.GetValue(output)!);
            var inputPath = result.GetValue(input);
            var clock = Stopwatch.StartNew();
            if (inputPath is null)
                inputPath = await SampleCommand.EnsureSampleAsync(outDirectory, result.GetValue(sampleUsers), result.GetValue(trigger.Seed) ?? RunParameters.DefaultSeed, cancellationToken);

            var runId = result.GetValue(trigger.RunId) ?? RunId.New(DateTimeOffset.UtcNow);
            await using var pipeline = LocalPipeline.Create(outDirectory, inputPath, ConsoleLogging);
            Console.WriteLine($"Run {runId}: input {inputPath}");
            var manifest = await pipeline.RunAsync(trigger.ToTrigger(result, runId), cancellationToken);
            await PrintSummaryAsync(pipeline, manifest, clock.Elapsed, cancellationToken);
            return ExitCode(manifest.Status);
        });
        return command;
    }

    /// <summary>0 completed, 1 failed, 3 held (outputs written, but not latest: the quality gate did not pass).</summary>
    public static int ExitCode(RunStatus status) => status switch
    {
        RunStatus.Completed => 0,
        RunStatus.Held => 3,
        _ => 1,
    };

    /// <summary>One line a log entry, with the time: progress of each stage as it happens.</summary>
    public static void ConsoleLogging(ILoggingBuilder builder) => builder
        .AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss ";
            o.ColorBehavior = LoggerColorBehavior.Disabled;
        })
        .SetMinimumLevel(LogLevel.Information)
        .AddFilter("Microsoft", LogLevel.Warning);

    private static async Task PrintSummaryAsync(LocalPipeline pipeline, RunManifest manifest, TimeSpan elapsed, CancellationToken cancellationToken)
    {
        var culture = CultureInfo.InvariantCulture;
        Console.WriteLine();
        if (manifest.Status == RunStatus.Held)
        {
            Console.Error.WriteLine($"Run {manifest.RunId} is HELD after {elapsed.TotalSeconds:0.0} s: it failed the quality gate, so latest.json and history.json are unchanged.");
            foreach (var check in manifest.QualityGate?.Failed ?? [])
                Console.Error.WriteLine($"  {check.Name}: {check.Detail}");
            Console.Error.WriteLine($"Its outputs are in {Path.GetDirectoryName(pipeline.Bucket.Describe(BucketLayout.Manifest(manifest.RunId)))}; " +
                $"release it with: runs release {manifest.RunId} --bucket {Path.GetDirectoryName(pipeline.Bucket.Describe(BucketLayout.Latest))}");
            return;
        }
        if (manifest.Status != RunStatus.Completed)
        {
            Console.Error.WriteLine($"Run {manifest.RunId} FAILED in {manifest.Error?.Stage ?? "?"}: {manifest.Error?.Reason ?? "no reason recorded"}");
            Console.Error.WriteLine($"Manifest: {pipeline.Bucket.Describe(BucketLayout.Manifest(manifest.RunId))}");
            return;
        }

        Console.WriteLine(string.Create(culture, $"Run {manifest.RunId} completed in {elapsed.TotalSeconds:0.0} s"));
        Console.WriteLine(string.Create(culture,
            $"  {manifest.Metrics.GetValueOrDefault("customers"):N0} customers, k = {manifest.Metrics.GetValueOrDefault("k"):0}, " +
            $"Davies-Bouldin index {manifest.Metrics.GetValueOrDefault("davies_bouldin_index"):0.###}, " +
            $"mean squared distance {manifest.Metrics.GetValueOrDefault("mean_squared_distance"):0.###} (held-out customers)"));
        foreach (var (stage, record) in manifest.Stages)
            Console.WriteLine(string.Create(culture, $"  {stage,-17} {record.Seconds,8:0.00} s"));
        if (manifest.QualityGate is { } gate)
        {
            Console.WriteLine(gate.Release is { } release
                ? $"  quality gate: failed ({string.Join(", ", gate.Failed.Select(c => c.Name))}), released by {release.By}"
                : "  quality gate: passed" + (gate.Skipped.Any() ? $" (skipped, nothing to compare with: {string.Join(", ", gate.Skipped.Select(c => c.Name))})" : ""));
        }

        var campaign = await pipeline.Bucket.TryReadAsync(BucketLayout.CampaignJson(manifest.RunId), cancellationToken);
        if (campaign is not null)
        {
            var document = PipelineJson.Deserialize<CampaignDocument>(campaign.Content);
            Console.WriteLine();
            Console.WriteLine("  id  segment                  customers    share   avg spend   orders    days");
            foreach (var c in document.Centroids)
                Console.WriteLine(string.Create(culture,
                    $"  {c.CentroidId,2}  {c.Segment,-22} {c.Customers,11:N0} {c.Share,8:P1} {c.AverageSpend,11:N2} {c.CountOrders,8:0.00} {c.DaysSinceLastOrder,7:0}"));
        }

        Console.WriteLine();
        Console.WriteLine($"Outputs: {Path.GetDirectoryName(pipeline.Bucket.Describe(BucketLayout.Manifest(manifest.RunId)))}{Path.DirectorySeparatorChar}");
        foreach (var file in BucketLayout.Files(manifest.RunId).Values)
            Console.WriteLine($"  {Path.GetFileName(file)}");
        Console.WriteLine($"Latest: {pipeline.Bucket.Describe(BucketLayout.Latest)}");
    }
}
