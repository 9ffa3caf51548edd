namespace Pipeline.Core;

/// <summary>A run's status; <see cref="Held"/>: every output written, but the quality gate did not pass (CONTRACT.md, "The bucket").</summary>
public enum RunStatus { Running, Completed, Failed, Held }

public enum StageStatus { Running, Completed, Failed }

/// <summary>
/// <c>runs/{run_id}/manifest.json</c>: the run's status, parameters, per-stage timings, metrics and error.
/// Each stage updates it with a conditional write, so concurrent writers never lose each other's changes.
/// </summary>
public sealed record RunManifest(
    string RunId,
    RunStatus Status,
    RunParameters? Parameters,
    IReadOnlyDictionary<string, StageRecord> Stages,
    IReadOnlyDictionary<string, double> Metrics,
    IReadOnlyDictionary<string, string> Files,
    IReadOnlyList<string> Notes,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    RunError? Error = null,
    QualityGate? QualityGate = null)
{
    public static RunManifest New(string runId, RunParameters? parameters, DateTimeOffset now) =>
        new(runId, RunStatus.Running, parameters, new Dictionary<string, StageRecord>(), new Dictionary<string, double>(),
            new Dictionary<string, string>(), [], now, now);
}

/// <summary>One stage's record in the manifest.</summary>
/// <param name="Input">The body of the message the stage started from, so that a resume can deliver it again.</param>
/// <param name="Output">The message the stage published, so that a resume can publish it again.</param>
/// <param name="Claim">Who is working on the stage, while it runs.</param>
public sealed record StageRecord(
    StageStatus Status,
    DateTimeOffset StartedAt,
    DateTimeOffset? FinishedAt,
    double? Seconds,
    int Attempts,
    string? LastError = null,
    string? Input = null,
    StageMessage? Output = null,
    StageClaim? Claim = null);

/// <summary>A message as published: its logical topic and its JSON body.</summary>
public sealed record StageMessage(string Topic, string Data);

/// <summary>
/// A delivery's hold on a stage: only the holder works on it until <paramref name="LeaseUntil"/>, which the holder
/// renews while it works; a holder that crashed stops renewing, and once the lease has run out another delivery
/// (a redelivery, a resume) takes the stage over.
/// </summary>
/// <param name="Holder">host/process/delivery, for people reading the manifest.</param>
public sealed record StageClaim(string Holder, DateTimeOffset LeaseUntil)
{
    public bool IsLive(DateTimeOffset now) => LeaseUntil > now;
}

/// <summary>Why a run failed, and where; <paramref name="Announced"/> once <c>run-failed</c> was published.</summary>
public sealed record RunError(string Stage, string Reason, bool Announced = false);

/// <summary><c>latest.json</c>: the last completed run and its files.</summary>
public sealed record LatestRun(string RunId, DateTimeOffset CompletedAt, IReadOnlyDictionary<string, string> Files);

/// <summary>The bucket layout (CONTRACT.md, "The bucket").</summary>
public static class BucketLayout
{
    public const string Latest = "latest.json";
    public static string RunPrefix(string runId) => $"runs/{runId}/";
    public static string Manifest(string runId) => $"runs/{runId}/manifest.json";
    /// <summary>The prefix of the customer statistics' Parquet parts (<c>part-*.parquet</c>).</summary>
    public static string CustomerStats(string runId) => $"runs/{runId}/customer_stats/";
    public static string Model(string runId) => $"runs/{runId}/model.json";
    /// <summary>The prefix of the predictions' Parquet parts (<c>part-*.parquet</c>).</summary>
    public static string Predictions(string runId) => $"runs/{runId}/predictions/";
    public static string Centroids(string runId) => $"runs/{runId}/centroids.csv";
    /// <summary>Who the customers of each segment are (<see cref="ProfilesDocument"/>).</summary>
    public static string Profiles(string runId) => $"runs/{runId}/profiles.json";
    public static string Chart(string runId) => $"runs/{runId}/chart.png";
    public static string CampaignJson(string runId) => $"runs/{runId}/campaign.json";
    public static string CampaignMarkdown(string runId) => $"runs/{runId}/campaign.md";
    /// <summary>The run for people: one self-contained HTML page.</summary>
    public static string Report(string runId) => $"runs/{runId}/report.html";
    /// <summary>Every run, newest first, each linking its report.</summary>
    public const string Index = "index.html";

    /// <summary>Every completed run, oldest first (<see cref="RunHistory"/>).</summary>
    public const string History = "history.json";
    /// <summary>The from → to matrix against the previous completed run, for spreadsheets.</summary>
    public static string MigrationCsv(string runId) => $"runs/{runId}/migration.csv";
    /// <summary>The same matrix with its totals (<see cref="SegmentMigration"/>).</summary>
    public static string MigrationJson(string runId) => $"runs/{runId}/migration.json";
    /// <summary>The prefix of the run's audience files, one CSV of user ids per segment.</summary>
    public static string Audiences(string runId) => $"runs/{runId}/audiences/";
    /// <summary>One segment's audience: its user ids, the control group left out.</summary>
    public static string Audience(string runId, string segment) => $"runs/{runId}/audiences/{SegmentSlug(segment)}.csv";

    /// <summary>A segment name as a file name: "Can't Lose Them" → "cant-lose-them".</summary>
    public static string SegmentSlug(string segment)
    {
        var slug = new System.Text.StringBuilder(segment.Length);
        foreach (var c in segment.ToLowerInvariant())
        {
            if (char.IsAsciiLetterOrDigit(c)) slug.Append(c);
            else if (c is '\'' or '\u2019') continue;
            else if (slug.Length > 0 && slug[^1] != '-') slug.Append('-');
        }
        var text = slug.ToString().Trim('-');
        return text.Length > 0 ? text : "segment";
    }

    /// <summary>
    /// The name of one Parquet part under a table's prefix: <c>part-00000.parquet</c>, … The embedded backend writes one
    /// part; BigQuery's <c>EXPORT DATA</c> writes as many as it likes, with names of its own under the same prefix.
    /// </summary>
    public static string Part(string tablePrefix, int index) =>
        $"{tablePrefix}part-{index.ToString("D5", System.Globalization.CultureInfo.InvariantCulture)}.parquet";

    /// <summary>Whether an object under a table's prefix is one of its Parquet parts (not a temporary or marker object).</summary>
    public static bool IsPart(string tablePrefix, string objectName) =>
        objectName.StartsWith(tablePrefix, StringComparison.Ordinal)
        && objectName.EndsWith(".parquet", StringComparison.Ordinal)
        && objectName.IndexOf('/', tablePrefix.Length) < 0
        && !objectName.AsSpan(tablePrefix.Length).StartsWith(".");

    /// <summary>Every output of a completed run, by a short name (a table by its prefix).</summary>
    public static IReadOnlyDictionary<string, string> Files(string runId) => new Dictionary<string, string>
    {
        ["manifest"] = Manifest(runId),
        ["customer_stats"] = CustomerStats(runId),
        ["model"] = Model(runId),
        ["predictions"] = Predictions(runId),
        ["centroids"] = Centroids(runId),
        ["profiles"] = Profiles(runId),
        ["chart"] = Chart(runId),
        ["campaign_json"] = CampaignJson(runId),
        ["campaign_md"] = CampaignMarkdown(runId),
        ["report"] = Report(runId),
        ["migration_csv"] = MigrationCsv(runId),
        ["migration_json"] = MigrationJson(runId),
    };
}
