using System.CommandLine;
using System.Globalization;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Pipeline.Backends;
using Pipeline.Core;
using Pipeline.Embedded;
using Pipeline.Gcp;
using Pipeline.Reports;

namespace Pipeline.Runner.Commands;

/// <summary>
/// <c>runs</c>: the runs in a bucket (a local directory or <c>gs://bucket</c>) — <c>list</c> (history.json as a table,
/// and the held runs), <c>show RUN</c> (summary, quality gate, migration), <c>diff A B</c>, and <c>release RUN</c>
/// (a held run becomes completed, enters the history and, unless a later run is latest, becomes latest).
/// </summary>
public static class RunsCommand
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    public static Command Create()
    {
        var bucket = new Option<string>("--bucket", "-b") { Description = "The bucket: a local directory (as run's --out) or gs://BUCKET.", DefaultValueFactory = _ => "./out" };
        var project = new Option<string?>("--project") { Description = "For release on gs://: the Google Cloud project of the BigQuery dataset (moves customer_segments_latest)." };
        var dataset = new Option<string?>("--dataset") { Description = "For release on gs://: the BigQuery dataset (default Gcp:Dataset)." };
        var location = new Option<string?>("--location") { Description = "For release on gs://: the BigQuery location (default Gcp:Location, or US)." };
        var runArgument = new Argument<string>("RUN") { Description = "The run id." };
        var first = new Argument<string>("A") { Description = "The earlier run." };
        var second = new Argument<string>("B") { Description = "The later run." };

        var list = new Command("list", "Every completed run (history.json) as a table, then the held runs.");
        var show = new Command("show", "A run's summary, quality gate and migration matrix.") { runArgument };
        var diff = new Command("diff", "Two runs side by side: parameters, quality, segment sizes.") { first, second };
        var release = new Command("release", "Release a held run: it becomes completed, enters history.json and (unless a later run is) latest.json.") { runArgument };
        foreach (var option in new Option[] { project, dataset, location }) release.Options.Add(option);

        var command = new Command("runs", "The runs in a bucket: list, show RUN, diff A B, release RUN.") { list, show, diff, release };
        command.Options.Add(bucket);
        foreach (var sub in new[] { list, show, diff, release }) sub.Options.Add(bucket);

        list.SetAction((result, ct) => WithLedger(result, bucket, null, (runs, output) => ListAsync(runs.Ledger, output, ct)));
        show.SetAction((result, ct) => WithLedger(result, bucket, null, (runs, output) => ShowAsync(runs, result.GetValue(runArgument)!, output, ct)));
        diff.SetAction((result, ct) => WithLedger(result, bucket, null,
            (runs, output) => DiffAsync(runs.Ledger, result.GetValue(first)!, result.GetValue(second)!, output, ct)));
        release.SetAction((result, ct) => WithLedger(result, bucket,
            new GcpTarget(result.GetValue(project), result.GetValue(dataset), result.GetValue(location)),
            async (runs, output) =>
            {
                var runId = result.GetValue(runArgument)!;
                var released = await runs.Ledger.ReleaseAsync(runId, "runner", ct);
                var latest = await runs.Ledger.GetLatestAsync(ct);
                output.WriteLine($"Run {runId} released: completed, in history.json" +
                    (latest?.RunId == runId ? ", and latest." : $"; latest stays {latest?.RunId} (a later run)."));
                foreach (var check in released.QualityGate?.Failed ?? [])
                    output.WriteLine($"  accepted despite {check.Name}: {check.Detail}");
                // The run's report and the index show it released, as they would after a run that ends completed.
                await new ReportPublisher(runs.Bucket, runs.Ledger, TimeProvider.System, NullLogger<ReportPublisher>.Instance)
                    .RunEndedAsync(released, ct);
                RunCommand.PrintReport(runs.Bucket, runId, output);
                return 0;
            }));
        return command;
    }

    /// <summary>The BigQuery dataset a release on Cloud Storage also updates.</summary>
    private sealed record GcpTarget(string? Project, string? Dataset, string? Location);

    /// <summary>The bucket the command reads, and its run ledger.</summary>
    private sealed record RunsBucket(RunLedger Ledger, IBucket Bucket)
    {
        public RunsBucket(IBucket bucket) : this(new RunLedger(bucket, TimeProvider.System), bucket)
        {
        }
    }

    private static async Task<int> WithLedger(ParseResult result, Option<string> bucketOption, GcpTarget? gcp,
        Func<RunsBucket, TextWriter, Task<int>> action)
    {
        var output = result.InvocationConfiguration.Output;
        var location = result.GetValue(bucketOption)!;
        try
        {
            if (!location.StartsWith("gs://", StringComparison.Ordinal))
            {
                if (!Directory.Exists(location))
                {
                    result.InvocationConfiguration.Error.WriteLine($"{Path.GetFullPath(location)} is not a bucket directory (use --bucket DIR or gs://BUCKET)");
                    return 2;
                }
                return await action(new RunsBucket(new FileSystemBucket(Path.GetFullPath(location))), output);
            }

            var name = location["gs://".Length..].TrimEnd('/');
            if (gcp is null)
                return await action(new RunsBucket(GcpRegistration.CreateBucket(new GcpOptions { Bucket = name })), output);

            // A release on GCP also moves customer_segments_latest, so it needs the dataset: the GCP backend, as the functions run it.
            var settings = new Dictionary<string, string?>
            {
                [$"{PipelineOptions.SectionName}:{nameof(PipelineOptions.Backend)}"] = nameof(BackendKind.Gcp),
                [$"{GcpOptions.SectionName}:{nameof(GcpOptions.Bucket)}"] = name,
            };
            if (gcp.Project is not null) settings[$"{GcpOptions.SectionName}:{nameof(GcpOptions.ProjectId)}"] = gcp.Project;
            if (gcp.Dataset is not null) settings[$"{GcpOptions.SectionName}:{nameof(GcpOptions.Dataset)}"] = gcp.Dataset;
            if (gcp.Location is not null) settings[$"{GcpOptions.SectionName}:{nameof(GcpOptions.Location)}"] = gcp.Location;
            var configuration = new ConfigurationBuilder().AddEnvironmentVariables().AddInMemoryCollection(settings).Build();
            var services = new ServiceCollection().AddLogging().AddSingleton<IConfiguration>(configuration);
            services.AddPipelineBackend(configuration);
            await using var provider = services.BuildServiceProvider();
            return await action(new RunsBucket(provider.GetRequiredService<RunLedger>(), provider.GetRequiredService<IBucket>()), output);
        }
        catch (PermanentPipelineException e)
        {
            result.InvocationConfiguration.Error.WriteLine(e.Message);
            return 1;
        }
        catch (Microsoft.Extensions.Options.OptionsValidationException e)
        {
            result.InvocationConfiguration.Error.WriteLine($"release on Cloud Storage also moves customer_segments_latest in BigQuery: {string.Join("; ", e.Failures)} (or pass --project and --dataset)");
            return 2;
        }
    }

    private static async Task<int> ListAsync(RunLedger ledger, TextWriter output, CancellationToken cancellationToken)
    {
        var history = await ledger.GetHistoryAsync(cancellationToken);
        if (history.Runs.Count == 0) output.WriteLine("No completed run yet (history.json is absent or empty).");
        else
        {
            output.WriteLine($"{"run",-28} {"as_of",-10} {"window",-23} {"k",2} {"metrics",-7} {"customers",10} {"davies-b.",9} {"changed",8} {"new",7} {"gone",7}  segments");
            foreach (var r in history.Runs)
                output.WriteLine(string.Create(Invariant,
                    $"{r.RunId,-28} {r.AsOf:yyyy-MM-dd} {r.WindowStart:yyyy-MM-dd}..{r.WindowEnd:yyyy-MM-dd} {r.K,2} {r.Metrics.ToString().ToLowerInvariant(),-7} {r.Customers,10:N0} {r.DaviesBouldinIndex,9:0.###} {(r.ChangedShare is { } c ? c.ToString("P1", Invariant) : "-"),8} {r.New,7:N0} {r.Gone,7:N0}  ") +
                    string.Join(", ", r.Segments.Select(s => string.Create(Invariant, $"{s.CentroidId} {s.Segment} {s.Share:P0}"))) +
                    (r.Released ? "  (released)" : ""));
        }
        var held = await ledger.ListHeldAsync(cancellationToken);
        if (held.Count > 0)
        {
            output.WriteLine();
            output.WriteLine("Held (failed the quality gate; not latest, not in the history; release with: runs release RUN):");
            foreach (var run in held)
                output.WriteLine($"  {run.RunId,-28} {run.Parameters?.AsOf:yyyy-MM-dd}  failed: {string.Join(", ", run.QualityGate?.Failed.Select(c => c.Name) ?? [])}");
        }
        return 0;
    }

    private static async Task<int> ShowAsync(RunsBucket runs, string runId, TextWriter output, CancellationToken cancellationToken)
    {
        var ledger = runs.Ledger;
        var run = await ledger.GetAsync(runId, cancellationToken) ?? throw new PermanentPipelineException($"run {runId} has no manifest in the bucket");
        var p = run.Parameters;
        output.WriteLine($"Run {run.RunId}: {run.Status.ToString().ToLowerInvariant()}" + (run.Error is { } e ? $" in {e.Stage}: {e.Reason}" : ""));
        if (p is not null)
            output.WriteLine(string.Create(Invariant,
                $"  window {p.WindowStart:yyyy-MM-dd}..{p.WindowEnd:yyyy-MM-dd} (exclusive), as of {p.AsOf:yyyy-MM-dd}, k {(p.K?.ToString(Invariant) ?? "auto")}, metrics {p.Metrics.ToString().ToLowerInvariant()}, seed {p.Seed}"));
        foreach (var (name, value) in run.Metrics.OrderBy(m => m.Key, StringComparer.Ordinal))
            output.WriteLine(string.Create(Invariant, $"  {name,-24} {value:0.######}"));
        if (run.QualityGate is { } gate)
        {
            output.WriteLine($"Quality gate: {(gate.Passed ? "passed" : "FAILED")}" + (gate.Release is { } r ? $", released by {r.By} at {r.At:u}" : "") +
                (gate.ComparedTo is { } c ? $" (compared with {c})" : " (first run)"));
            foreach (var check in gate.Checks)
                output.WriteLine($"  {check.Outcome.ToString().ToLowerInvariant(),-8} {check.Name,-18} {check.Detail}");
        }
        var migration = await ledger.GetMigrationAsync(runId, cancellationToken);
        if (migration is not null) WriteMatrix(migration, output);
        if (await runs.Bucket.TryReadAsync(BucketLayout.Report(runId), cancellationToken) is not null)
            RunCommand.PrintReport(runs.Bucket, runId, output);
        return 0;
    }

    private static void WriteMatrix(SegmentMigration migration, TextWriter output)
    {
        if (migration.PreviousRunId is null)
        {
            output.WriteLine($"Migration: none — {migration.Note}");
            return;
        }
        output.WriteLine(string.Create(Invariant,
            $"Migration from {migration.PreviousRunId} ({migration.PreviousAsOf:yyyy-MM-dd}): {migration.Moved:N0} moved, {migration.Stayed:N0} stayed, {migration.New:N0} new, {migration.Gone:N0} gone"));
        var header = $"  {"from \\ to",-26}" + string.Concat(migration.Segments.Select(s => $" {Short(s),14}")) + $" {SegmentMigration.GoneColumn,8}";
        output.WriteLine(header);
        foreach (var row in migration.PreviousSegments.Select(s => ((int?)s.CentroidId, Short(s))).Append((null, SegmentMigration.NewRow)))
            output.WriteLine($"  {row.Item2,-26}" + string.Concat(migration.Segments.Select(s => string.Create(Invariant, $" {migration.Count(row.Item1, s.CentroidId),14:N0}"))) +
                (row.Item1 is null ? $" {"",8}" : string.Create(Invariant, $" {migration.Count(row.Item1, null),8:N0}")));
    }

    private static string Short(SegmentSize segment)
    {
        var text = $"{segment.CentroidId} {segment.Segment}";
        return text.Length <= 14 ? text : text[..14];
    }

    private static async Task<int> DiffAsync(RunLedger ledger, string a, string b, TextWriter output, CancellationToken cancellationToken)
    {
        var left = await ledger.GetAsync(a, cancellationToken) ?? throw new PermanentPipelineException($"run {a} has no manifest in the bucket");
        var right = await ledger.GetAsync(b, cancellationToken) ?? throw new PermanentPipelineException($"run {b} has no manifest in the bucket");
        output.WriteLine($"{"",-24} {a,20} {b,20}");
        void Row(string name, string? x, string? y) => output.WriteLine($"{name,-24} {x ?? "-",20} {y ?? "-",20}" + (x != y ? "  *" : ""));
        Row("status", left.Status.ToString().ToLowerInvariant(), right.Status.ToString().ToLowerInvariant());
        Row("as_of", left.Parameters?.AsOf.ToString("yyyy-MM-dd", Invariant), right.Parameters?.AsOf.ToString("yyyy-MM-dd", Invariant));
        Row("window", Window(left.Parameters), Window(right.Parameters));
        Row("metrics", left.Parameters?.Metrics.ToString().ToLowerInvariant(), right.Parameters?.Metrics.ToString().ToLowerInvariant());
        foreach (var metric in left.Metrics.Keys.Union(right.Metrics.Keys).Order(StringComparer.Ordinal))
            Row(metric, Number(left.Metrics, metric), Number(right.Metrics, metric));
        Row("quality gate", Gate(left.QualityGate), Gate(right.QualityGate));

        var leftSizes = (await ledger.GetMigrationAsync(a, cancellationToken))?.Segments ?? [];
        var rightMigration = await ledger.GetMigrationAsync(b, cancellationToken);
        var rightSizes = rightMigration?.Segments ?? [];
        output.WriteLine();
        output.WriteLine($"{"segment (stable id)",-24} {a,20} {b,20} {"change",10}");
        foreach (var id in leftSizes.Select(s => s.CentroidId).Union(rightSizes.Select(s => s.CentroidId)).Order())
        {
            var x = leftSizes.FirstOrDefault(s => s.CentroidId == id);
            var y = rightSizes.FirstOrDefault(s => s.CentroidId == id);
            var name = $"{id} {(y ?? x)!.Segment}";
            output.WriteLine(string.Create(Invariant,
                $"{(name.Length > 24 ? name[..24] : name),-24} {x?.Customers,20:N0} {y?.Customers,20:N0} {(y?.Customers ?? 0) - (x?.Customers ?? 0),10:+#,0;-#,0;0}") +
                (x is not null && y is not null && x.Segment != y.Segment ? $"  (was {x.Segment})" : ""));
        }
        if (rightMigration?.PreviousRunId == a)
        {
            output.WriteLine();
            WriteMatrix(rightMigration, output);
        }
        return 0;
    }

    private static string? Window(RunParameters? p) =>
        p is null ? null : string.Create(Invariant, $"{p.WindowStart:yyyy-MM-dd}..{p.WindowEnd:yyyy-MM-dd}");

    private static string? Number(IReadOnlyDictionary<string, double> metrics, string name) =>
        metrics.TryGetValue(name, out var v) ? v.ToString("0.####", Invariant) : null;

    private static string? Gate(QualityGate? gate) =>
        gate is null ? null : gate.Passed ? "passed" : $"failed: {string.Join(",", gate.Failed.Select(c => c.Name))}";
}
