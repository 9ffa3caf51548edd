using System.ComponentModel.DataAnnotations;

namespace Pipeline.Core;

/// <summary>Which adapters the functions run on.</summary>
public enum BackendKind
{
    /// <summary>DuckDB, a local directory, the offline campaign writer: no cloud at all.</summary>
    Embedded,
    /// <summary>BigQuery and BigQuery ML, Cloud Storage, Vertex AI.</summary>
    Gcp,
}

/// <summary>
/// Settings every function shares, bound from the <c>Pipeline</c> section (environment: <c>Pipeline__Backend</c>,
/// <c>Pipeline__TopicPrefix</c>, …).
/// </summary>
public sealed class PipelineOptions
{
    public const string SectionName = "Pipeline";

    /// <summary>Embedded (default) or Gcp.</summary>
    public BackendKind Backend { get; set; } = BackendKind.Embedded;

    /// <summary>Prepended to every topic name (e.g. "prod-"), so several deployments can share a project.</summary>
    [RegularExpression("^[A-Za-z0-9._~%+-]*$", ErrorMessage = "Pipeline:TopicPrefix may hold only letters, digits and . _ ~ % + -")]
    public string TopicPrefix { get; set; } = "";

    /// <summary>
    /// How long a stage waits for a backend job within one delivery before answering non-2xx so that Pub/Sub
    /// delivers again (kept below the push subscription's 600 s deadline).
    /// </summary>
    [Range(10, 590)]
    public int StageWaitSeconds { get; set; } = 540;

    /// <summary>
    /// How long a delivery's claim on a stage lasts without renewal (the holder renews it every third of this
    /// while it works): after a crash, the stage can be taken over once this has passed.
    /// </summary>
    [Range(2, 3600)]
    public int StageLeaseSeconds { get; set; } = 60;

    /// <summary>
    /// A run still <c>running</c> this long after its last manifest update is failed by the watchdog's sweep and
    /// announced on <c>run-failed</c>, so that nobody waits for it for ever. Above the longest stage.
    /// </summary>
    [Range(60, 7 * 24 * 3600)]
    public int StalledRunSeconds { get; set; } = 6 * 3600;
}
