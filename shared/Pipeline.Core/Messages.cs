namespace Pipeline.Core;

/// <summary>What every message of a run carries: its id and its resolved parameters.</summary>
public abstract record RunMessage(string RunId, RunParameters Parameters);

/// <summary>On <c>stats-ready</c>: the run's customer statistics exist.</summary>
public sealed record StatsReady(string RunId, RunParameters Parameters, string StatsObject, long Customers)
    : RunMessage(RunId, Parameters);

/// <summary>On <c>model-trained</c>: the run's K-means model exists.</summary>
public sealed record ModelTrained(string RunId, RunParameters Parameters, string ModelObject, int K)
    : RunMessage(RunId, Parameters);

/// <summary>On <c>predictions-ready</c>: every customer has a segment.</summary>
public sealed record PredictionsReady(
    string RunId, RunParameters Parameters, string ModelObject, string PredictionsObject,
    IReadOnlyList<SegmentSize> Segments) : RunMessage(RunId, Parameters);

/// <summary>On <c>chart-rendered</c>: the chart is in the bucket.</summary>
public sealed record ChartRendered(
    string RunId, RunParameters Parameters, string ModelObject, string ChartObject,
    IReadOnlyList<SegmentSize> Segments) : RunMessage(RunId, Parameters);

/// <summary>
/// On <c>run-completed</c>: every output is in the bucket. <paramref name="Status"/> is <see cref="RunStatus.Held"/>
/// when the run failed the quality gate (<paramref name="FailedChecks"/> names the checks): it is not latest.
/// </summary>
public sealed record RunCompleted(string RunId, RunParameters Parameters, IReadOnlyDictionary<string, string> Files,
    RunStatus Status = RunStatus.Completed, IReadOnlyList<string>? FailedChecks = null)
    : RunMessage(RunId, Parameters);

/// <summary>On <c>run-failed</c>: a stage failed permanently; the reason is in the manifest too.</summary>
public sealed record RunFailed(string RunId, string Stage, string Reason, RunParameters? Parameters = null);

/// <summary>How many customers a segment (centroid) has.</summary>
public sealed record SegmentSize(int CentroidId, string Segment, long Customers);

/// <summary>A trigger resolved to its run: what BuildStats works from.</summary>
public sealed record RunTriggered(string RunId, RunParameters Parameters) : RunMessage(RunId, Parameters);
