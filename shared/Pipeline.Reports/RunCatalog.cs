using Pipeline.Campaigns;
using Pipeline.Core;

namespace Pipeline.Reports;

/// <summary>
/// Every run in the bucket (each <c>runs/{run_id}/manifest.json</c>) with its segment sizes from
/// <c>campaign.json</c>, newest first: what the index lists and the report's sizes-over-time chart draws.
/// </summary>
public sealed class RunCatalog(IBucket bucket, RunLedger ledger)
{
    public async Task<IReadOnlyList<RunSummary>> ReadAsync(CancellationToken cancellationToken)
    {
        var runIds = (await bucket.ListAsync("runs/", cancellationToken))
            .Select(RunIdOfManifest)
            .OfType<string>()
            .Distinct()
            .ToList();
        var runs = new List<RunSummary>(runIds.Count);
        foreach (var runId in runIds)
        {
            // A run whose manifest vanished between listing and reading is simply not listed.
            if (await ledger.GetAsync(runId, cancellationToken) is not { } manifest) continue;
            runs.Add(new RunSummary(manifest, await ReadSizesAsync(runId, cancellationToken)));
        }
        return [.. runs.OrderByDescending(r => r.Manifest.CreatedAt).ThenByDescending(r => r.RunId, StringComparer.Ordinal)];
    }

    private async Task<IReadOnlyList<SegmentSize>> ReadSizesAsync(string runId, CancellationToken cancellationToken)
    {
        var stored = await bucket.TryReadAsync(BucketLayout.CampaignJson(runId), cancellationToken);
        if (stored is null) return [];
        try
        {
            var campaign = PipelineJson.Deserialize<CampaignDocument>(stored.Content);
            return [.. campaign.Centroids.Select(c => new SegmentSize(c.CentroidId, c.Segment, c.Customers))];
        }
        catch (System.Text.Json.JsonException)
        {
            // An unreadable campaign of an old run costs the index one sparkline, not the whole index.
            return [];
        }
    }

    /// <summary>The run id of <c>runs/{run_id}/manifest.json</c>, or null for any other object.</summary>
    internal static string? RunIdOfManifest(string objectName)
    {
        const string prefix = "runs/", suffix = "/manifest.json";
        if (!objectName.StartsWith(prefix, StringComparison.Ordinal) || !objectName.EndsWith(suffix, StringComparison.Ordinal)) return null;
        var runId = objectName[prefix.Length..^suffix.Length];
        return RunId.IsValid(runId) ? runId : null;
    }
}
