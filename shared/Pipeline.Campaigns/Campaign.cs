using Pipeline.Core;

namespace Pipeline.Campaigns;

/// <summary>One row of <c>centroids.csv</c>: a segment's centroid in original units, its size and share.</summary>
public sealed record CentroidSummaryRow(
    int CentroidId,
    string Segment,
    double AverageSpend,
    double CountOrders,
    double DaysSinceLastOrder,
    long Customers,
    double Share,
    RfmScore Score);

/// <summary>
/// What a campaign writer is asked: the centroid table, the lab's prompt built from it, who each segment's customers
/// are (<c>profiles.json</c>; null for a run without one) and the movement since the previous completed run (null for
/// the first run). Writers use profiles and movement beside the prompt, never inside it.
/// </summary>
public sealed record CampaignRequest(string RunId, IReadOnlyList<CentroidSummaryRow> Centroids, string Prompt,
    ProfilesDocument? Profiles = null, SegmentMigration? Migration = null)
{
    /// <summary>The profiles as the LLM's context beside the prompt (<see cref="ProfileText.Context"/>), or null.</summary>
    public string? ProfileContext => Profiles is null ? null : ProfileText.Context(Profiles);

    /// <summary>The movement as an LLM receives it, beside the prompt (<see cref="CampaignMovement.Context"/>).</summary>
    public string? MovementContext => CampaignMovement.Context(Migration);
}

/// <summary>Per segment: a title, a persona and the next marketing step.</summary>
public sealed record CampaignSegment(int CentroidId, string Title, string Persona, string NextMarketingStep);

/// <summary>What a writer produced, and which writer and model produced it.</summary>
/// <param name="Notes">What the manifest should say, e.g. that an LLM answer was rejected and the offline text used.</param>
/// <param name="WriterInstructions">What the writer told the model besides the lab's prompt (a system instruction),
/// saved beside the prompt in <c>campaign.json</c>; null for the offline writer.</param>
public sealed record CampaignDraft(string Writer, string? Model, IReadOnlyList<CampaignSegment> Segments, IReadOnlyList<string> Notes,
    string? WriterInstructions = null);

/// <summary>
/// Writes the campaign for a run's segments: the offline rule-based writer by default, an LLM (Vertex AI Gemini,
/// any OpenAI-compatible endpoint) when one is configured.
/// </summary>
public interface ICampaignWriter
{
    Task<CampaignDraft> WriteAsync(CampaignRequest request, CancellationToken cancellationToken);
}

/// <summary><c>campaign.json</c>.</summary>
/// <param name="Prompt">The lab's prompt, byte for byte; nothing a writer adds is mixed into it.</param>
/// <param name="WriterInstructions">What the writer sent besides the prompt (e.g. a system instruction for
/// structured output), or null.</param>
/// <param name="Notes">
/// What readers of the campaign must know about how it was written, e.g. that the configured LLM's answer was
/// rejected and the offline writer's text is used (the same notes the manifest carries).
/// </param>
/// <param name="ProfileContext">What the writer was told besides the prompt about who each segment's customers are.</param>
/// <param name="MovementContext">What the writer received beside the prompt about the segments' movement since the
/// previous completed run (null for the first run).</param>
public sealed record CampaignDocument(
    string RunId,
    string Writer,
    string? Model,
    string Prompt,
    IReadOnlyList<CampaignSegment> Segments,
    IReadOnlyList<CentroidSummaryRow> Centroids,
    string? WriterInstructions = null,
    IReadOnlyList<string>? Notes = null,
    string? ProfileContext = null,
    string? MovementContext = null);
