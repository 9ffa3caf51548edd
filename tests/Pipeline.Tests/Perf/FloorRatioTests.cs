using System.Globalization;
using System.Text.Json.Nodes;
using Pipeline.Benchmarks;
using Pipeline.Core;
using Pipeline.Runner;
using Xunit.Abstractions;

namespace Pipeline.Tests.Perf;

/// <summary>
/// The benchmark of BENCHMARKS.md in small (1 million DuckDB-generated order items, Parquet and CSV): the pipeline's
/// time as a ratio of the floor's (DuckDB alone computing the same statistics) measured back to back, so the
/// machine's speed cancels out. Fails when a ratio is more than half again its recorded baseline
/// (Perf/baseline.json, measured with <c>dotnet test</c>, i.e. a Debug build).
/// </summary>
[Trait("Category", "Perf")]
public sealed class FloorRatioTests(ITestOutputHelper output) : IDisposable
{
    private const long Items = 1_000_000;
    private const double AllowedRegression = 1.5;

    // Generated data is deterministic, so it is kept between test runs.
    private static readonly string DataDirectory = Path.Combine(Path.GetTempPath(), "pipeline-perf-data");
    private readonly TempDirectory _out = new();

    public void Dispose() => _out.Dispose();

    [Fact]
    public async Task The_pipeline_stays_within_half_again_of_its_recorded_ratios_to_the_DuckDB_floor()
    {
        var baseline = JsonNode.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Perf", "baseline.json")))!["ratios"]!.AsObject();
        var measured = new Dictionary<string, double>();
        foreach (var format in new[] { "parquet", "csv" })
        {
            Directory.CreateDirectory(DataDirectory);
            var input = Path.Combine(DataDirectory, $"items-{Items}.{format}");
            ThelookOrderItems.EnsureFile(input, Items);

            // Best of two on both sides: a neighbour's burst of work should not decide the ratio.
            var floor = Math.Min(Floor.Measure(input, _out.File("floor.parquet")).TotalSeconds,
                Floor.Measure(input, _out.File("floor.parquet")).TotalSeconds);
            var first = await RunAsync(input, $"perf-{format}-1");
            var second = await RunAsync(input, $"perf-{format}-2");
            measured[$"build_stats_{format}"] = Math.Min(first.BuildStats, second.BuildStats) / floor;
            measured[$"after_build_stats_{format}"] = Math.Min(first.After, second.After) / floor;
        }

        var report = string.Join("; ", measured.Select(m => string.Create(CultureInfo.InvariantCulture,
            $"{m.Key} {m.Value:0.00} (baseline {(double)baseline[m.Key]!:0.00})")));
        output.WriteLine(report);
        Assert.True(measured.All(m => m.Value <= AllowedRegression * (double)baseline[m.Key]!),
            $"a ratio to the floor regressed by more than {AllowedRegression - 1:P0}: {report}");
    }

    private async Task<(double BuildStats, double After)> RunAsync(string input, string runId)
    {
        await using var pipeline = LocalPipeline.Create(_out.Path, input);
        var manifest = await pipeline.RunAsync(new JsonObject
        {
            ["run_id"] = runId, ["window_start"] = "2025-01-01", ["window_end"] = "2026-01-01", ["k"] = 5, ["metrics"] = "rfm",
        }, CancellationToken.None);
        Assert.Equal(RunStatus.Completed, manifest.Status);
        double Seconds(string stage) => manifest.Stages[stage].Seconds!.Value;
        return (Seconds(Stages.BuildStats), PipelineBenchmark.AfterBuildStats.Sum(Seconds));
    }
}
