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
}
