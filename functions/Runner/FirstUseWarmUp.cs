using Pipeline.Analytics;
using Pipeline.Campaigns;
using Pipeline.Core;
using Pipeline.Embedded;
using Pipeline.Functions.RenderChart;
using Pipeline.Reports;

namespace Pipeline.Runner;

/// <summary>
/// What a process pays the first time it uses the chain's libraries — DuckDB's and Skia's native code loaded, the
/// fonts found, ScottPlot set up, the campaign's JSON metadata built by reflection — paid ahead on a background thread
/// while <c>run</c> starts. A lab-sized run is one busy thread on a two-core machine, so this fixed cost moves to the
/// idle core. The run never sees it: no file, no lock, no output; only the libraries' process-wide state, which the
/// stages would create the same way. A step that fails is dropped, and the stage then pays the first use itself.
/// </summary>
public sealed class FirstUseWarmUp : IAsyncDisposable
{
    private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool _stopping;

    private FirstUseWarmUp() { }

    /// <summary>Completes when every step has run, failed or stopped; never faults.</summary>
    public Task Completion => _done.Task;

    /// <summary>
    /// What <c>run</c> warms, in the order the chain first needs it: DuckDB (BuildStats' first query), K-means
    /// (TrainModel), the chart (RenderChart), the campaign's JSON (GenerateCampaign's one document serialized by
    /// reflection) and the report's SVG charts. About 0.2 s of CPU in all, so every run gets it, whatever its size.
    /// </summary>
    public static IReadOnlyList<Action> Steps { get; } =
    [
        OpenDuckDb,
        TrainSmallModel,
        SegmentChart.WarmUp,
        () => PipelineJson.Options.GetTypeInfo(typeof(CampaignDocument)),
        () => ReportCharts.Sparkline([new SegmentSize(1, "Warm-up", 1)], "warm-up", "warm-up"),
    ];

    /// <summary>
    /// Runs <paramref name="steps"/> in order on a thread of their own (not the thread pool's, whose few threads the
    /// run's own work needs), and returns at once.
    /// </summary>
    public static FirstUseWarmUp Start(IReadOnlyList<Action> steps)
    {
        var warmUp = new FirstUseWarmUp();
        var thread = new Thread(() => warmUp.Run(steps)) { IsBackground = true, Name = "first-use warm-up" };
        thread.Start();
        return warmUp;
    }

    /// <summary>How long the command waits at its end for a step under way; a step stuck longer must not hold the exit.</summary>
    public static TimeSpan LongestWait { get; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Stops what is left and waits (up to <see cref="LongestWait"/>) for the step under way to end: the process should
    /// not exit while a native library is being loaded on the warm-up's thread. After a whole run the steps have long ended.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        _stopping = true;
        await Task.WhenAny(Completion, Task.Delay(LongestWait));
    }

    private void Run(IReadOnlyList<Action> steps)
    {
        foreach (var step in steps)
        {
            if (_stopping) break;
            try
            {
                step();
            }
            catch (Exception)
            {
                // Only ever a head start: whatever failed here, the stage meets again and reports.
            }
        }
        _done.SetResult();
    }

    /// <summary>Loads DuckDB and runs a small aggregate in a database of its own, set up as the stages' are.</summary>
    private static void OpenDuckDb()
    {
        using var connection = DuckDb.Open(new EmbeddedOptions());
        DuckDb.Scalar<long>(connection, "SELECT count(DISTINCT i % 7) FROM range(10000) t(i)");
    }

    /// <summary>
    /// A model trained on a few hundred made-up customers: K-means' vectorized loops and the model's figures and names
    /// are compiled before TrainModel needs them (measured: TrainModel ~60 ms shorter at the lab's size).
    /// </summary>
    private static void TrainSmallModel()
    {
        const int customers = 500;
        var values = new double[customers * CustomerFeatures.Dimensions];
        for (var i = 0; i < values.Length; i++) values[i] = i * 7919 % 101;
        var day = new DateOnly(2026, 1, 1);
        SegmentationTrainer.Train(new CustomerFeatures([.. Enumerable.Range(1, customers).Select(id => (long)id)], values),
            new RunParameters("warm-up", day.AddYears(-1), day, day, RunParameters.DefaultK, StatsPreset.Rfm, RunParameters.DefaultSeed,
                RunParameters.DefaultTestFraction), previous: null);
    }
}
