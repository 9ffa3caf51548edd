using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Pipeline.Campaigns;
using Pipeline.Core;
using Pipeline.Embedded;

namespace Pipeline.Runner.Commands;

/// <summary><c>run</c>: the whole chain in one process on the embedded backend.</summary>
public static class RunCommand
{
    public static Command Create()
    {
        var input = new Option<string?>("--input", "-i") { Description = "order_items as CSV (BigQuery export or ISO 8601 timestamps), Parquet, or a DuckDB database with an order_items table. Default: generated sample data." };
        var output = new Option<string>("--out", "-o") { Description = "The bucket directory the outputs go to.", DefaultValueFactory = _ => "./out" };
        var users = new Option<string?>("--users") { Description = "thelook's users (CSV or Parquet: id, gender, age, country, traffic_source) for the segments' profiles. Default: the users table of a DuckDB --input, or the sample's." };
        var products = new Option<string?>("--products") { Description = "thelook's products (CSV or Parquet: id, department, category, brand, cost) for the segments' profiles. Default: the products table of a DuckDB --input, or the sample's." };
        var sampleUsers = new Option<long>("--sample-users") { Description = "Customers in the generated sample when no --input is given (the lab's size: 100,000).", DefaultValueFactory = _ => 100_000 };
        var noWarmUp = new Option<bool>("--no-warm-up") { Description = "Do not pay the libraries' first-use costs ahead on a background thread (to measure what that saves).", Hidden = true };
        var trigger = new TriggerOptions();
        var command = new Command("run", "Run the whole chain in one process on the embedded backend (DuckDB, a local directory, the offline campaign writer).");
        command.Options.Add(input);
        command.Options.Add(output);
        command.Options.Add(users);
        command.Options.Add(products);
        command.Options.Add(sampleUsers);
        command.Options.Add(noWarmUp);
        trigger.AddTo(command);

        command.SetAction(async (result, cancellationToken) =>
        {
            await using var warmUp = result.GetValue(noWarmUp) ? null : FirstUseWarmUp.Start(FirstUseWarmUp.Steps);
            var outDirectory = Path.GetFullPath(result.GetValue(output)!);
            var inputPath = result.GetValue(input);
            var usersPath = result.GetValue(users);
            var productsPath = result.GetValue(products);
            var clock = Stopwatch.StartNew();
            if (inputPath is null)
            {
                var sample = await SampleCommand.EnsureSampleAsync(outDirectory, result.GetValue(sampleUsers), result.GetValue(trigger.Seed) ?? RunParameters.DefaultSeed, cancellationToken);
                (inputPath, usersPath, productsPath) = (sample.OrderItems, usersPath ?? sample.Users, productsPath ?? sample.Products);
            }

            var runId = result.GetValue(trigger.RunId) ?? RunId.New(DateTimeOffset.UtcNow);
            // Opened before the pipeline, whose console logger then writes through it.
            using var live = LiveProgressLine.IsSupported() ? LiveProgressLine.Open() : null;
            await using var pipeline = LocalPipeline.Create(outDirectory, inputPath, ConsoleLogging(result.GetValue(RunnerCommandLine.Verbose)), new Dictionary<string, string?>
            {
                [$"{EmbeddedOptions.SectionName}:{nameof(EmbeddedOptions.Users)}"] = usersPath is null ? null : Path.GetFullPath(usersPath),
                [$"{EmbeddedOptions.SectionName}:{nameof(EmbeddedOptions.Products)}"] = productsPath is null ? null : Path.GetFullPath(productsPath),
            }, overrideServices: services => LiveProgressLine.Register(services, live));
            var existing = RunId.IsValid(runId) ? await pipeline.Ledger.GetAsync(runId, cancellationToken) : null;
            RunManifest manifest;
            switch (existing?.Status)
            {
                case null:
                    Console.WriteLine($"Run {runId}: input {inputPath}");
                    manifest = await pipeline.RunAsync(trigger.ToTrigger(result, runId), cancellationToken);
                    break;
                case RunStatus.Completed:
                    Console.WriteLine($"Run {runId} already completed ({existing.UpdatedAt:yyyy-MM-dd HH:mm:ss} UTC); nothing changed. " +
                        $"Its outputs: {Path.GetDirectoryName(pipeline.Bucket.Describe(BucketLayout.Manifest(runId)))}");
                    return 0;
                case RunStatus.Held:
                    Console.WriteLine($"Run {runId} is held: it failed the quality gate; release it with: runs release {runId} --bucket {outDirectory}");
                    return ExitCode(RunStatus.Held);
                case RunStatus.Failed:
                    throw new CommandFailedException($"Run {runId} failed in {existing.Error?.Stage}: {existing.Error?.Reason} — " +
                        "a failed run is not resumed; fix the cause and start a new run (another --run-id, or none).");
                default:
                    manifest = await ResumeAsync(pipeline, existing, cancellationToken);
                    break;
            }
            // The summary is printed as it always was, with the status line gone.
            live?.Dispose();
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

    /// <summary>
    /// Resumes an interrupted run from its manifest, with the parameters it recorded. A crashed process's claim on
    /// its stage is waited out first (Pipeline:StageLeaseSeconds), since only then may another delivery take over.
    /// </summary>
    private static async Task<RunManifest> ResumeAsync(LocalPipeline pipeline, RunManifest manifest, CancellationToken cancellationToken)
    {
        var next = RunResumption.NextDelivery(manifest);
        Console.WriteLine($"Run {manifest.RunId} did not finish: resuming it at {next.Stage} with its recorded parameters (other run options are ignored)");
        while (RunResumption.LiveClaim(manifest, next.Stage, DateTimeOffset.UtcNow) is { } claim)
        {
            Console.WriteLine($"  {next.Stage} is still claimed by {claim.Holder} until {claim.LeaseUntil:HH:mm:ss} UTC; waiting for the claim to lapse");
            await Task.Delay(claim.LeaseUntil - DateTimeOffset.UtcNow + TimeSpan.FromMilliseconds(100), cancellationToken);
            manifest = await pipeline.Ledger.GetAsync(manifest.RunId, cancellationToken) ?? manifest;
        }
        return await pipeline.ResumeAsync(manifest, cancellationToken);
    }

    /// <summary>One line a log entry, with the time: progress of each stage as it happens; stack traces only with --verbose.</summary>
    public static Action<ILoggingBuilder> ConsoleLogging(bool stackTraces) => builder => builder
        .AddConsole(o => o.FormatterName = RunProgressFormatter.FormatterName)
        .AddConsoleFormatter<RunProgressFormatter, RunProgressFormatterOptions>(o => o.StackTraces = stackTraces)
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
        if (manifest.Status == RunStatus.Running)
        {
            // Nothing could record a failure (the manifest itself may not be writable): say where it stopped.
            var stopped = Stages.All.FirstOrDefault(s => manifest.Stages.GetValueOrDefault(s)?.Status != StageStatus.Completed) ?? "?";
            Console.Error.WriteLine($"Run {manifest.RunId} did not finish: {stopped} stopped ({pipeline.LastDeliveryError ?? manifest.Stages.GetValueOrDefault(stopped)?.LastError ?? "no error recorded"}) — " +
                $"fix the cause and run the same command again to resume it (manifest: {pipeline.Bucket.Describe(BucketLayout.Manifest(manifest.RunId))})");
            return;
        }
        if (manifest.Status != RunStatus.Completed)
        {
            // One line: what failed and why (the reason says what to fix), and where the record is.
            Console.Error.WriteLine($"Run {manifest.RunId} FAILED in {manifest.Error?.Stage ?? "?"}: {manifest.Error?.Reason ?? "no reason recorded"} " +
                $"(manifest: {pipeline.Bucket.Describe(BucketLayout.Manifest(manifest.RunId))})");
            PrintReport(pipeline.Bucket, manifest.RunId, Console.Out);
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
        // Objects by file name; a table or folder (a prefix ending in '/') by its folder name and the slash.
        var runFolder = BucketLayout.RunPrefix(manifest.RunId);
        foreach (var file in BucketLayout.Files(manifest.RunId).Values.Append(BucketLayout.Audiences(manifest.RunId)))
            Console.WriteLine($"  {(file.StartsWith(runFolder, StringComparison.Ordinal) ? file[runFolder.Length..] : file)}");
        Console.WriteLine($"Latest: {pipeline.Bucket.Describe(BucketLayout.Latest)}");
        PrintReport(pipeline.Bucket, manifest.RunId, Console.Out);
    }

    /// <summary>Where the run's report and the index of runs are: the last lines, what a person opens next.</summary>
    public static void PrintReport(IBucket bucket, string runId, TextWriter output)
    {
        output.WriteLine($"Report: {bucket.Describe(BucketLayout.Report(runId))}");
        output.WriteLine($"Index:  {bucket.Describe(BucketLayout.Index)}");
    }
}
