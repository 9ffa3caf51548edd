using Microsoft.Extensions.Logging;

namespace Pipeline.Core;

/// <summary>
/// How far a long stage has come in one of its steps: rows read, a K-means start's iteration and loss, customers
/// assigned. <see cref="Final"/> marks a step's last report (its result), which every display shows.
/// </summary>
/// <param name="Step">What the stage is doing, e.g. <c>reading order items</c> or <c>k-means start 2 of 3</c>.</param>
/// <param name="Done">How much of the step is done, in <paramref name="Unit"/>.</param>
/// <param name="Total">The step's size when known (for K-means, the most iterations a start may take).</param>
/// <param name="Unit">What <paramref name="Done"/> counts, e.g. <c>rows</c>, <c>iterations</c>.</param>
/// <param name="Detail">A measure beside the count, e.g. <c>loss 0.412345</c>.</param>
public sealed record StageProgress(string RunId, string Stage, string Step, long Done, long? Total, string Unit,
    string? Detail = null, bool Final = false)
{
    /// <summary>Nobody listens: reports cost a method call, and stages skip what only a listener needs.</summary>
    public static IStageProgress Silent { get; } = new SilentStageProgress();

    /// <summary>One line for people, e.g. <c>TrainModel k-means start 1 of 3: 7 of 20 iterations, loss 0.41 (done)</c>.</summary>
    public string Describe()
    {
        var culture = System.Globalization.CultureInfo.InvariantCulture;
        var count = Total is { } total ? string.Create(culture, $"{Done:N0} of {total:N0} {Unit}") : string.Create(culture, $"{Done:N0} {Unit}");
        return $"{Stage} {Step}: {count}{(Detail is null ? "" : ", " + Detail)}{(Final ? " (done)" : "")}";
    }

    private sealed class SilentStageProgress : IStageProgress
    {
        public bool Listening => false;

        public void Report(StageProgress progress)
        {
        }
    }
}

/// <summary>
/// Where stages report their progress. The Runner draws it on a terminal or logs it; Cloud Run functions log it;
/// without a listener (<see cref="StageProgress.Silent"/>) it costs nothing.
/// </summary>
public interface IStageProgress
{
    /// <summary>False when nothing is shown: a stage may then skip work done only to report (DuckDB's progress polling).</summary>
    bool Listening => true;

    /// <summary>Called on the stage's thread, often (every K-means iteration): must return quickly.</summary>
    void Report(StageProgress progress);
}

/// <summary>
/// Progress as log lines at Information, throttled: at most one a second per stage of a run, plus every step's
/// final report. What Cloud Run functions log (one structured line each, with the numbers as fields), and what the
/// Runner prints when its output is not a terminal.
/// </summary>
public sealed class LoggedStageProgress(ILogger<LoggedStageProgress> logger, TimeProvider? clock = null) : IStageProgress
{
    /// <summary>The least time between two reports of one stage that are not final.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    private readonly TimeProvider _clock = clock ?? TimeProvider.System;
    // By stage alone: a function instance serves one stage, so this stays as small as the chain.
    private readonly Dictionary<string, DateTimeOffset> _lastLogged = [];

    public void Report(StageProgress progress)
    {
        var now = _clock.GetUtcNow();
        lock (_lastLogged)
        {
            if (!progress.Final && _lastLogged.TryGetValue(progress.Stage, out var last) && now - last < Interval) return;
            _lastLogged[progress.Stage] = now;
        }
        // The report itself as a scope: Cloud Logging's formatter writes its numbers as fields of the line.
        using var scope = logger.BeginScope(progress);
        var (stage, step, done, unit) = (progress.Stage, progress.Step, progress.Done, progress.Unit);
        switch (progress.Total, progress.Detail)
        {
            case ({ } total, { } detail):
                logger.LogInformation("{Stage} progress: {Step}, {Done} of {Total} {Unit}, {Detail}{Final}", stage, step, done, total, unit, detail, FinalMark(progress));
                break;
            case ({ } total, null):
                logger.LogInformation("{Stage} progress: {Step}, {Done} of {Total} {Unit}{Final}", stage, step, done, total, unit, FinalMark(progress));
                break;
            case (null, { } detail):
                logger.LogInformation("{Stage} progress: {Step}, {Done} {Unit}, {Detail}{Final}", stage, step, done, unit, detail, FinalMark(progress));
                break;
            default:
                logger.LogInformation("{Stage} progress: {Step}, {Done} {Unit}{Final}", stage, step, done, unit, FinalMark(progress));
                break;
        }
    }

    private static string FinalMark(StageProgress progress) => progress.Final ? " (done)" : "";
}
