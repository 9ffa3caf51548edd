using System.Text.Json.Nodes;
using Pipeline.Embedded;
using Pipeline.Embedded.SampleData;
using Pipeline.Functions.RenderChart;

namespace Pipeline.Runner;

/// <summary>
/// What a process pays the first time it runs the chain — native libraries loaded, framework code compiled for our
/// types, DuckDB's and Skia's first use — paid ahead on a background thread while <c>run</c> starts. A lab-sized run
/// is one busy thread on a two-core machine, so this fixed cost moves to the idle core. The real run never sees it:
/// no file of its bucket, no lock, no output; only the libraries' and the runtime's process-wide state, which the
/// stages would create the same way. A step that fails is dropped, and the stage then pays the first use itself.
/// </summary>
public sealed class FirstUseWarmUp : IAsyncDisposable
{
    /// <summary>Inputs up to this size get the small run too: beyond it the run is long and DuckDB keeps both cores busy.</summary>
    public const long SmallInputBytes = 64L << 20;

    private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _stop = new();

    private FirstUseWarmUp() { }

    /// <summary>Completes when every step has run, failed or stopped; never faults.</summary>
    public Task Completion => _done.Task;

    /// <summary>
    /// The steps for a run of <paramref name="input"/> (none: the generated sample), in the order the chain first
    /// needs them: DuckDB (BuildStats' first query), the chart (RenderChart), then, for a small input, a whole small run.
    /// </summary>
    public static IReadOnlyList<Action<CancellationToken>> StepsFor(string? input) =>
        input is null || (File.Exists(input) && new FileInfo(input).Length <= SmallInputBytes)
            ? [OpenDuckDb, _ => SegmentChart.WarmUp(), RunSmallChain]
            : [OpenDuckDb, _ => SegmentChart.WarmUp()];

    /// <summary>
    /// Runs <paramref name="steps"/> in order on a thread of their own (not the thread pool's, whose few threads the
    /// run's own work needs), and returns at once.
    /// </summary>
    public static FirstUseWarmUp Start(IReadOnlyList<Action<CancellationToken>> steps)
    {
        var warmUp = new FirstUseWarmUp();
        var thread = new Thread(() => warmUp.Run(steps)) { IsBackground = true, Name = "first-use warm-up" };
        thread.Start();
        return warmUp;
    }

    /// <summary>
    /// Stops what is left and waits for the step under way to end: the process must not exit while a native library
    /// is being loaded or torn down on the warm-up's thread. After a whole run the steps have long ended.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await Completion;
        _stop.Dispose();
    }

    private void Run(IReadOnlyList<Action<CancellationToken>> steps)
    {
        foreach (var step in steps)
        {
            if (_stop.IsCancellationRequested) break;
            try
            {
                step(_stop.Token);
            }
            catch (Exception)
            {
                // Only ever a head start: whatever failed here, the stage meets again and reports.
            }
        }
        _done.SetResult();
    }

    /// <summary>Loads DuckDB and runs a small aggregate in a database of its own, set up as the stages' are.</summary>
    private static void OpenDuckDb(CancellationToken cancellationToken)
    {
        using var connection = DuckDb.Open(new EmbeddedOptions());
        DuckDb.Scalar<long>(connection, "SELECT count(DISTINCT i % 7) FROM range(10000) t(i)");
    }

    /// <summary>
    /// The whole chain on a thousand generated users, in a bucket of its own under the temp directory, deleted
    /// after: every stage's code is then compiled, and DuckDB's statistics, profile and Parquet paths, the report
    /// and the campaign's JSON run once, before the real run's stages reach them.
    /// </summary>
    private static void RunSmallChain(CancellationToken cancellationToken)
    {
        var directory = Directory.CreateTempSubdirectory("pipeline-warm-up-");
        try
        {
            RunSmallChainAsync(directory.FullName, cancellationToken).GetAwaiter().GetResult();
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    private static async Task RunSmallChainAsync(string directory, CancellationToken cancellationToken)
    {
        var input = Path.Combine(directory, "order_items.parquet");
        var options = new SampleOptions(Users: 1_000, Items: null, Seed: 1, EndDate: DateOnly.FromDateTime(DateTime.UtcNow));
        var sample = await OrderItemsSample.WriteAsync(input, options, null, cancellationToken);
        var (users, products) = ProfileTablesSample.PathsBeside(input);
        await ProfileTablesSample.WriteAsync(users, products, sample.Users, options, cancellationToken);

        await using var pipeline = LocalPipeline.Create(Path.Combine(directory, "bucket"), input, settings: new Dictionary<string, string?>
        {
            [$"{EmbeddedOptions.SectionName}:{nameof(EmbeddedOptions.Users)}"] = users,
            [$"{EmbeddedOptions.SectionName}:{nameof(EmbeddedOptions.Products)}"] = products,
            // Whatever the environment sets for the real run, the warm-up's stays local and quiet: no cloud, no LLM,
            // no debug pause.
            [$"{Core.PipelineOptions.SectionName}:{nameof(Core.PipelineOptions.Backend)}"] = nameof(Core.BackendKind.Embedded),
            [$"{Gcp.CampaignOptions.SectionName}:{nameof(Gcp.CampaignOptions.Writer)}"] = nameof(Gcp.CampaignWriterKind.Offline),
            [StagePause.Setting] = "",
        });
        await pipeline.RunAsync(new JsonObject { ["run_id"] = "warm-up" }, cancellationToken);
    }
}
