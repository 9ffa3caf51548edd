using Microsoft.Extensions.Logging;
using Pipeline.Campaigns;

namespace Pipeline.Gcp;

/// <summary>
/// Guards an LLM writer: an answer that fails (error, timeout, 429, blocked) or does not pass
/// <see cref="CampaignAnswerValidator"/> is asked for once more; if the second answer fails too, the offline writer's
/// text is used, and the draft's notes (which go into the manifest) say so and why.
/// </summary>
public sealed class ValidatingCampaignWriter(ChatCampaignWriter llm, ICampaignWriter fallback, ILogger<ValidatingCampaignWriter> logger)
    : ICampaignWriter
{
    public const int Attempts = 2;

    public async Task<CampaignDraft> WriteAsync(CampaignRequest request, CancellationToken cancellationToken)
    {
        var rejections = new List<string>();
        for (var attempt = 1; attempt <= Attempts; attempt++)
        {
            try
            {
                var draft = await llm.WriteAsync(request, cancellationToken);
                var problems = CampaignAnswerValidator.Problems(draft.Segments, request.Centroids, request.Profiles,
                    CampaignMovement.Numbers(request.Migration));
                if (problems.Count == 0)
                {
                    var notes = rejections.Count == 0
                        ? draft.Notes
                        : [.. draft.Notes, $"The first {Describe()} campaign answer was rejected ({rejections[0]}); the second was used."];
                    return draft with { Segments = Ordered(draft.Segments, request), Notes = notes };
                }
                rejections.Add(string.Join("; ", problems));
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                rejections.Add(e is CampaignAnswerException ? e.Message : $"{e.GetType().Name}: {e.Message}");
            }
            logger.LogWarning("Campaign answer {Attempt} of {Writer} rejected for run {RunId}: {Reason}",
                attempt, Describe(), request.RunId, rejections[^1]);
        }

        var offline = await fallback.WriteAsync(request, cancellationToken);
        var note = $"The {Describe()} campaign answer was rejected twice ({string.Join(" | ", rejections)}); the offline writer's text is used.";
        // Never silent: the manifest and campaign.json carry the note, and the log says it at warning level.
        logger.LogWarning("Campaign of run {RunId} falls back to the offline writer: {Writer} was rejected twice ({Reasons})",
            request.RunId, Describe(), string.Join(" | ", rejections));
        return offline with { Notes = [.. offline.Notes, note] };
    }

    private string Describe() => $"{llm.Writer} ({llm.Model})";

    private static List<CampaignSegment> Ordered(IReadOnlyList<CampaignSegment> segments, CampaignRequest request) =>
        request.Centroids.Select(r => segments.Single(s => s.CentroidId == r.CentroidId)).ToList();
}
