using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;

namespace Pipeline.Benchmarks;

/// <summary>One input measured: the floor, then the pipeline's <c>run</c> on the same file (a first run, or a second).</summary>
public sealed record PipelineMeasurement(
    string Input, double FloorSeconds, double BuildStatsSeconds, double RunSeconds, double AfterBuildStatsSeconds,
    IReadOnlyDictionary<string, double> StageSeconds, long PeakKiB)
{
    public double BuildStatsRatio => BuildStatsSeconds / FloorSeconds;
    public double RunRatio => RunSeconds / FloorSeconds;
}

/// <summary>
/// Runs the floor and the published Runner's <c>run</c> back to back on DuckDB-generated order items, then a second
/// run a month later in the same bucket (the scheduled case: Predict adds the movement against the first), and prints
/// the table of BENCHMARKS.md: seconds, ratios to the floor, per-stage seconds and the process's peak memory.
/// </summary>
public static class PipelineBenchmark
{
    public static readonly string[] AfterBuildStats = ["TrainModel", "Predict", "RenderChart", "GenerateCampaign"];

    /// <returns>The first run, then the second.</returns>
    public static IReadOnlyList<PipelineMeasurement> Measure(string runnerDll, string work, long items, string format)
    {
        var input = Path.Combine(work, $"items-{items}.{format}");
        ThelookOrderItems.EnsureFile(input, items);
        // The floor before, between and after the two runs: each run is compared with the mean of the floors on either
        // side of it, so that a machine whose speed drifts within minutes (as a shared VM's does) moves both sides.
        double MeasureFloor() => Floor.Measure(input, Path.Combine(work, "floor.parquet")).TotalSeconds;
        var floorBefore = MeasureFloor();

        // A new run id each time: a run id that completed before would be answered as a duplicate, without work.
        var runId = FormattableString.Invariant($"bench-{items}-{format}-{DateTime.UtcNow:yyyyMMddHHmmss}");
        // A bucket of its own: in a shared one the quality gate would compare this run with another size's and
        // could hold it (exit 3); the first run is measured as on a new bucket.
        var output = Path.Combine(work, $"out-{items}-{format}");
        if (Directory.Exists(output)) Directory.Delete(output, recursive: true);
        var label = $"{items:N0} items, {format}";
        var first = Run(runnerDll, input, output, runId, "2025-01-01", "2026-01-01", label);
        var floorBetween = MeasureFloor();
        // A month later, compared with the first: the gate may hold it for the movement, which is no failure here.
        var second = Run(runnerDll, input, output, $"{runId}-second", "2025-02-01", "2026-02-01", $"{label}, second run", "--accept-held");
        var floorAfter = MeasureFloor();
        return [first((floorBefore + floorBetween) / 2), second((floorBetween + floorAfter) / 2)];
    }

    /// <returns>The measurement, given the floor it is compared with.</returns>
    private static Func<double, PipelineMeasurement> Run(string runnerDll, string input, string output, string runId, string windowStart,
        string windowEnd, string label, params string[] options)
    {
        var (seconds, peak) = Timed("dotnet", [runnerDll, "run", "--input", input, "--out", output, "--window-start", windowStart,
            "--window-end", windowEnd, "--k", "5", "--metrics", "rfm", "--run-id", runId, .. options]);
        var stages = StageSeconds(Path.Combine(output, "runs", runId, "manifest.json"));
        return floor => new PipelineMeasurement(label, floor, stages["BuildStats"], seconds, AfterBuildStats.Sum(s => stages.GetValueOrDefault(s)), stages, peak);
    }

    /// <summary>The seconds of each stage, from a run's manifest.</summary>
    public static Dictionary<string, double> StageSeconds(string manifestPath)
    {
        var manifest = JsonNode.Parse(File.ReadAllText(manifestPath))!;
        if ((string?)manifest["status"] != "completed")
            throw new InvalidOperationException($"the run did not complete: {manifest["error"]?.ToJsonString()}");
        return manifest["stages"]!.AsObject().ToDictionary(s => s.Key, s => (double)s.Value!["seconds"]!);
    }

    /// <summary>Runs a process to its end under /usr/bin/time: wall seconds and peak resident memory (KiB).</summary>
    public static (double Seconds, long PeakKiB) Timed(string program, params string[] arguments)
    {
        var timeFile = Path.GetTempFileName();
        var start = new ProcessStartInfo("/usr/bin/time") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in (string[])["-f", "%e %M", "-o", timeFile, program, .. arguments]) start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        process.WaitForExit();
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{program} {string.Join(' ', arguments)} exited {process.ExitCode}:\n{stdout.Result}\n{stderr.Result}");
        var fields = File.ReadAllLines(timeFile).Last().Split(' ');
        File.Delete(timeFile);
        return (double.Parse(fields[0], CultureInfo.InvariantCulture), long.Parse(fields[1], CultureInfo.InvariantCulture));
    }

    public static string Table(IEnumerable<PipelineMeasurement> rows)
    {
        var lines = new List<string>
        {
            "| input | floor | BuildStats | ratio | whole `run` | ratio | after BuildStats | TrainModel | Predict | RenderChart | peak memory |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        };
        lines.AddRange(rows.Select(r => string.Create(CultureInfo.InvariantCulture,
            $"| {r.Input} | {r.FloorSeconds:0.00} s | {r.BuildStatsSeconds:0.00} s | {r.BuildStatsRatio:0.00}× | {r.RunSeconds:0.0} s | {r.RunRatio:0.00}× | " +
            $"{r.AfterBuildStatsSeconds:0.00} s | {r.StageSeconds.GetValueOrDefault("TrainModel"):0.00} | {r.StageSeconds.GetValueOrDefault("Predict"):0.00} | " +
            $"{r.StageSeconds.GetValueOrDefault("RenderChart"):0.00} | {r.PeakKiB / 1024.0:0} MiB |")));
        return string.Join('\n', lines);
    }
}
