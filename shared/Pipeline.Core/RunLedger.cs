using System.Text.Json;

namespace Pipeline.Core;

/// <summary>
/// Reads and updates runs' manifests and <c>latest.json</c> in the bucket. Every update is a read-modify-write
/// guarded by the object's generation, retried when another writer got there first.
/// </summary>
public sealed class RunLedger(IBucket bucket, TimeProvider clock)
{
    private const int MaxAttempts = 50;

    public async Task<RunManifest?> GetAsync(string runId, CancellationToken cancellationToken)
    {
        var stored = await bucket.TryReadAsync(BucketLayout.Manifest(runId), cancellationToken);
        return stored is null ? null : ReadManifest(stored.Content);
    }

    /// <summary>
    /// Applies <paramref name="change"/> to the run's manifest (a new one if there is none) and stores it. A change
    /// that returns the manifest it was given unchanged writes nothing.
    /// </summary>
    public async Task<RunManifest> UpdateAsync(string runId, RunParameters? parameters,
        Func<RunManifest, RunManifest> change, CancellationToken cancellationToken)
    {
        var name = BucketLayout.Manifest(runId);
        for (var attempt = 1; ; attempt++)
        {
            var stored = await bucket.TryReadAsync(name, cancellationToken);
            var now = clock.GetUtcNow();
            var current = stored is null ? RunManifest.New(runId, parameters, now) : ReadManifest(stored.Content);
            if (current.Parameters is null && parameters is not null) current = current with { Parameters = parameters };
            var changed = change(current);
            if (stored is not null && ReferenceEquals(changed, current)) return current;
            var updated = changed with { UpdatedAt = now };
            try
            {
                await bucket.WriteAsync(name, PipelineJson.Serialize(updated, indented: true), ContentTypes.Json,
                    stored?.Generation ?? "0", cancellationToken);
                return updated;
            }
            catch (ConcurrentUpdateException) when (attempt < MaxAttempts)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(Random.Shared.Next(5, 20 * Math.Min(attempt, 10))), cancellationToken);
            }
        }
    }

    /// <summary>The last completed run, or null before the first.</summary>
    public async Task<LatestRun?> GetLatestAsync(CancellationToken cancellationToken)
    {
        var stored = await bucket.TryReadAsync(BucketLayout.Latest, cancellationToken);
        return stored is null ? null : PipelineJson.Deserialize<LatestRun>(stored.Content);
    }

    /// <summary>Points <c>latest.json</c> at a run that has completed.</summary>
    public Task WriteLatestAsync(LatestRun latest, CancellationToken cancellationToken) =>
        bucket.WriteAsync(BucketLayout.Latest, PipelineJson.Serialize(latest, indented: true), ContentTypes.Json, null, cancellationToken);

    private static RunManifest ReadManifest(byte[] content)
    {
        try
        {
            return PipelineJson.Deserialize<RunManifest>(content);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"the manifest is not readable: {e.Message}", e);
        }
    }
}

/// <summary>The manifest changes the stages make.</summary>
public static class ManifestChanges
{
    /// <summary>The stage is claimed by <paramref name="claim"/> and starts (again) from <paramref name="input"/>.</summary>
    public static RunManifest StageStarted(this RunManifest manifest, string stage, DateTimeOffset now, string? input = null,
        StageClaim? claim = null)
    {
        var previous = manifest.Stages.GetValueOrDefault(stage);
        return manifest with
        {
            Status = RunStatus.Running,
            Stages = With(manifest.Stages, stage, new StageRecord(StageStatus.Running, now, null, null, (previous?.Attempts ?? 0) + 1,
                previous?.LastError, input ?? previous?.Input, Claim: claim)),
        };
    }

    /// <summary>A transient failure: the error is kept and the claim released, so that the redelivery may start at once.</summary>
    public static RunManifest StageAttemptFailed(this RunManifest manifest, string stage, string error)
    {
        if (!manifest.Stages.TryGetValue(stage, out var record) || record.Status != StageStatus.Running) return manifest;
        return manifest with { Stages = With(manifest.Stages, stage, record with { LastError = error, Claim = null }) };
    }

    /// <summary>Extends the holder's lease; changes nothing when the stage is no longer held by <paramref name="holder"/>.</summary>
    public static RunManifest LeaseRenewed(this RunManifest manifest, string stage, string holder, DateTimeOffset leaseUntil)
    {
        if (manifest.Stages.GetValueOrDefault(stage) is not { Status: StageStatus.Running, Claim: { } claim } record || claim.Holder != holder)
            return manifest;
        return manifest with { Stages = With(manifest.Stages, stage, record with { Claim = claim with { LeaseUntil = leaseUntil } }) };
    }

    /// <param name="published">What the stage published, kept so that a resume can publish it again.</param>
    public static RunManifest StageCompleted(this RunManifest manifest, string stage, DateTimeOffset now, StageResult result,
        StageMessage? published = null)
    {
        var started = manifest.Stages.TryGetValue(stage, out var record) ? record : new StageRecord(StageStatus.Running, now, null, null, 1);
        return manifest with
        {
            Stages = With(manifest.Stages, stage, started with
            {
                Status = StageStatus.Completed,
                FinishedAt = now,
                Seconds = Math.Round((now - started.StartedAt).TotalSeconds, 3),
                LastError = null,
                Output = published ?? started.Output,
                Claim = null,
            }),
            Metrics = Merge(manifest.Metrics, result.Metrics),
            Files = Merge(manifest.Files, result.Files),
            Notes = [.. manifest.Notes, .. (result.Notes ?? []).Where(n => !manifest.Notes.Contains(n))],
        };
    }

    public static RunManifest RunCompleted(this RunManifest manifest) => manifest with { Status = RunStatus.Completed };

    public static RunManifest Failed(this RunManifest manifest, string stage, string reason, DateTimeOffset now)
    {
        // A message rejected before the stage started still leaves the stage's record, marked failed.
        var record = manifest.Stages.GetValueOrDefault(stage) ?? new StageRecord(StageStatus.Running, now, null, null, 1);
        var stages = With(manifest.Stages, stage, record with
        {
            Status = StageStatus.Failed,
            FinishedAt = now,
            Seconds = Math.Round((now - record.StartedAt).TotalSeconds, 3),
            LastError = reason,
            Claim = null,
        });
        return manifest with { Status = RunStatus.Failed, Stages = stages, Error = new RunError(stage, reason) };
    }

    private static Dictionary<string, TValue> With<TValue>(IReadOnlyDictionary<string, TValue> source, string key, TValue value) =>
        new(source) { [key] = value };

    private static Dictionary<string, TValue> Merge<TValue>(IReadOnlyDictionary<string, TValue> source,
        IReadOnlyDictionary<string, TValue>? added)
    {
        var merged = new Dictionary<string, TValue>(source);
        foreach (var (key, value) in added ?? new Dictionary<string, TValue>()) merged[key] = value;
        return merged;
    }
}
