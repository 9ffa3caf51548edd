using System.Text.Json;

namespace Pipeline.Core;

/// <summary>Reads and writes <c>model.json</c> files, and finds the last completed run's model.</summary>
public sealed class SegmentModelStore(IBucket bucket, RunLedger ledger)
{
    public async Task<SegmentModel> ReadAsync(string objectName, CancellationToken cancellationToken)
    {
        var stored = await bucket.TryReadAsync(objectName, cancellationToken)
            ?? throw new PermanentPipelineException($"the model {bucket.Describe(objectName)} does not exist");
        return PipelineJson.Deserialize<SegmentModel>(stored.Content);
    }

    public Task WriteAsync(string objectName, SegmentModel model, CancellationToken cancellationToken) =>
        bucket.WriteAsync(objectName, PipelineJson.Serialize(model, indented: true), ContentTypes.Json, null, cancellationToken);

    /// <summary>
    /// The model of the last completed run, which new centroids are matched to so that segment ids keep their
    /// meaning; null before the first run, or when that model cannot be read (then ids start afresh).
    /// </summary>
    public async Task<SegmentModel?> ReadPreviousAsync(string currentRunId, CancellationToken cancellationToken)
    {
        var latest = await ledger.GetLatestAsync(cancellationToken);
        if (latest is null || latest.RunId == currentRunId) return null;
        var stored = await bucket.TryReadAsync(BucketLayout.Model(latest.RunId), cancellationToken);
        if (stored is null) return null;
        try
        {
            return PipelineJson.Deserialize<SegmentModel>(stored.Content);
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
