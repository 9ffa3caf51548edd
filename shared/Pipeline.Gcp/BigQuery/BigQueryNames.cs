using System.Text.RegularExpressions;
using Pipeline.Core;

namespace Pipeline.Gcp;

/// <summary>
/// BigQuery's identifier rules, checked before a name reaches SQL: identifiers cannot be query parameters, so every
/// project, dataset, table and model name in a statement is validated here and then quoted with backticks.
/// </summary>
public static partial class BigQueryNames
{
    // Project ids: 6–30 lowercase letters, digits and hyphens, starting with a letter (optionally domain-scoped).
    [GeneratedRegex("^([a-z][a-z0-9.-]{0,61}[a-z0-9]:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$")]
    private static partial Regex ProjectId();

    // Datasets: letters, digits and underscores, at most 1,024.
    [GeneratedRegex("^[A-Za-z0-9_]{1,1024}$")]
    private static partial Regex DatasetId();

    // Tables and models: BigQuery allows more (Unicode letters, spaces, dashes), but this pipeline needs and allows
    // only the unambiguous subset, so that no name ever needs escaping inside backticks.
    [GeneratedRegex("^[A-Za-z0-9_-]{1,1024}$")]
    private static partial Regex TableId();

    // Job ids: letters, digits, dashes and underscores, at most 1,024.
    [GeneratedRegex("^[A-Za-z0-9_-]{1,1024}$")]
    private static partial Regex JobId();

    // Cloud Storage buckets: 3–63 lowercase letters, digits, dashes, underscores and dots (dotted names up to 222),
    // starting and ending with a letter or digit. It goes into EXPORT DATA's uri literal, so nothing else may pass.
    [GeneratedRegex("^[a-z0-9][a-z0-9_.-]{1,220}[a-z0-9]$")]
    private static partial Regex BucketName();

    public static bool IsProjectId(string value) => ProjectId().IsMatch(value);
    public static bool IsDatasetId(string value) => DatasetId().IsMatch(value);
    public static bool IsTableId(string value) => TableId().IsMatch(value);
    public static bool IsJobId(string value) => JobId().IsMatch(value);
    public static bool IsBucketName(string value) =>
        BucketName().IsMatch(value) && !value.Contains("..", StringComparison.Ordinal) && value.Split('.').All(p => p.Length is > 0 and <= 63);

    /// <summary>A <c>project.dataset.table</c> path whose three parts each pass their rule.</summary>
    public static bool IsTablePath(string value)
    {
        var parts = value.Split('.');
        return parts.Length == 3 && IsProjectId(parts[0]) && IsDatasetId(parts[1]) && IsTableId(parts[2]);
    }

    /// <summary>The quoted path of a table or model: <c>`project.dataset.name`</c>, after checking each part.</summary>
    public static string Quote(string project, string dataset, string name)
    {
        if (!IsProjectId(project)) throw new ArgumentException($"'{project}' is not a valid BigQuery project id", nameof(project));
        if (!IsDatasetId(dataset)) throw new ArgumentException($"'{dataset}' is not a valid BigQuery dataset name", nameof(dataset));
        if (!IsTableId(name)) throw new ArgumentException($"'{name}' is not a valid BigQuery table or model name", nameof(name));
        return $"`{project}.{dataset}.{name}`";
    }

    /// <summary>The quoted path of a <c>project.dataset.table</c> string, after checking each part.</summary>
    public static string Quote(string tablePath)
    {
        if (!IsTablePath(tablePath)) throw new ArgumentException($"'{tablePath}' is not a valid project.dataset.table path", nameof(tablePath));
        return $"`{tablePath}`";
    }

    /// <summary>
    /// The run id as it appears in table, model and job names: '-' becomes '_' (CONTRACT.md, "Trigger message").
    /// </summary>
    public static string RunSuffix(string runId)
    {
        if (!RunId.IsValid(runId)) throw new ArgumentException($"'{runId}' is not a valid run id", nameof(runId));
        return runId.Replace('-', '_');
    }
}
