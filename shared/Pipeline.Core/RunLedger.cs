using System.Text.Json;

namespace Pipeline.Core;

/// <summary>
/// Reads and updates runs' manifests and <c>latest.json</c> in the bucket. Every update is a read-modify-write
/// guarded by the object's generation, retried when another writer got there first.
/// </summary>
/// <param name="completionSinks">Told when a run completes or is released (e.g. the GCP backend's
/// <c>customer_segments_latest</c>); none on the embedded backend.</param>
public sealed class RunLedger(IBucket bucket, TimeProvider clock, IEnumerable<IRunCompletionSink>? completionSinks = null)
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

    /// <summary>
    /// Ends a run whose last stage is done: completed — <c>history.json</c> gains it and <c>latest.json</c> moves to
    /// it — unless the quality gate did not pass, in which case it is held (every output stays, nothing moves). A
    /// trigger's <c>accept_held</c> releases it at once. Safe to repeat: a redelivery finds the same outcome.
    /// </summary>
    public async Task<RunManifest> FinishRunAsync(string runId, RunParameters? parameters, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow();
        var finished = await UpdateAsync(runId, parameters, m => m.RunFinished(now), cancellationToken);
        if (finished.Status == RunStatus.Completed) await PublishCompletedAsync(finished, moveLatest: true, cancellationToken);
        return finished;
    }

    /// <summary>
    /// Releases a held run deliberately (<c>runs release</c>): it becomes completed, enters <c>history.json</c>, and
    /// becomes latest unless a completed run with a later <c>as_of</c> already is.
    /// </summary>
    public async Task<RunManifest> ReleaseAsync(string runId, string by, CancellationToken cancellationToken)
    {
        var manifest = await GetAsync(runId, cancellationToken)
            ?? throw new PermanentPipelineException($"run {runId} does not exist in {bucket.Describe(BucketLayout.RunPrefix(runId))}");
        if (manifest.Status != RunStatus.Held)
            throw new PermanentPipelineException($"run {runId} is {manifest.Status.ToString().ToLowerInvariant()}, not held: only a held run can be released");
        var now = clock.GetUtcNow();
        var released = await UpdateAsync(runId, null, m => m.Status == RunStatus.Held ? m.Released(by, now) : m, cancellationToken);

        var latest = await GetLatestAsync(cancellationToken);
        var latestAsOf = latest is null ? null : (await GetAsync(latest.RunId, cancellationToken))?.Parameters?.AsOf;
        var moveLatest = latestAsOf is null || released.Parameters is null || released.Parameters.AsOf >= latestAsOf;
        await PublishCompletedAsync(released, moveLatest, cancellationToken);
        return released;
    }

    /// <summary><c>history.json</c>, or an empty history before the first completed run.</summary>
    public async Task<RunHistory> GetHistoryAsync(CancellationToken cancellationToken)
    {
        var stored = await bucket.TryReadAsync(BucketLayout.History, cancellationToken);
        return stored is null ? RunHistory.Empty : PipelineJson.Deserialize<RunHistory>(stored.Content);
    }

    /// <summary>The runs that wait for a release: status held, in run id order.</summary>
    public async Task<IReadOnlyList<RunManifest>> ListHeldAsync(CancellationToken cancellationToken)
    {
        var held = new List<RunManifest>();
        foreach (var name in await bucket.ListAsync("runs/", cancellationToken))
        {
            var parts = name.Split('/');
            if (parts.Length != 3 || parts[2] != "manifest.json") continue;
            if (await GetAsync(parts[1], cancellationToken) is { Status: RunStatus.Held } manifest) held.Add(manifest);
        }
        return held;
    }

    /// <summary>A run's migration against the previous completed run, or null when it has none yet.</summary>
    public async Task<SegmentMigration?> GetMigrationAsync(string runId, CancellationToken cancellationToken)
    {
        var stored = await bucket.TryReadAsync(BucketLayout.MigrationJson(runId), cancellationToken);
        return stored is null ? null : PipelineJson.Deserialize<SegmentMigration>(stored.Content);
    }

    private async Task PublishCompletedAsync(RunManifest run, bool moveLatest, CancellationToken cancellationToken)
    {
        var entry = HistoryEntryOf(run, await GetMigrationAsync(run.RunId, cancellationToken), clock.GetUtcNow());
        await AddToHistoryAsync(entry, cancellationToken);
        if (moveLatest)
            await WriteLatestAsync(new LatestRun(run.RunId, clock.GetUtcNow(), BucketLayout.Files(run.RunId)), cancellationToken);
        foreach (var sink in completionSinks ?? [])
            if (run.Parameters is not null) await sink.RunCompletedAsync(run.Parameters, moveLatest, cancellationToken);
    }

    /// <summary>
    /// Adds (or replaces, on a redelivery) the run's entry, keeping entries in <c>as_of</c> order; a conditional write
    /// retried like the manifest's, so two runs finishing at once both land.
    /// </summary>
    private async Task AddToHistoryAsync(HistoryEntry entry, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            var stored = await bucket.TryReadAsync(BucketLayout.History, cancellationToken);
            var history = stored is null ? RunHistory.Empty : PipelineJson.Deserialize<RunHistory>(stored.Content);
            var runs = history.Runs.Where(r => r.RunId != entry.RunId).Append(entry)
                .OrderBy(r => r.AsOf).ThenBy(r => r.CompletedAt).ThenBy(r => r.RunId, StringComparer.Ordinal).ToList();
            try
            {
                await bucket.WriteAsync(BucketLayout.History, PipelineJson.Serialize(new RunHistory(runs), indented: true), ContentTypes.Json,
                    stored?.Generation ?? "0", cancellationToken);
                return;
            }
            catch (ConcurrentUpdateException) when (attempt < MaxAttempts)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(Random.Shared.Next(5, 20 * Math.Min(attempt, 10))), cancellationToken);
            }
        }
    }

    /// <summary>A completed run's line in <c>history.json</c>, from its manifest and its migration.</summary>
    public static HistoryEntry HistoryEntryOf(RunManifest run, SegmentMigration? migration, DateTimeOffset completedAt)
    {
        var parameters = run.Parameters ?? throw new InvalidDataException($"run {run.RunId}'s manifest has no parameters");
        var sizes = migration?.Segments ?? [];
        var customers = sizes.Sum(s => s.Customers);
        return new HistoryEntry(
            run.RunId, parameters.AsOf, parameters.WindowStart, parameters.WindowEnd,
            (int)run.Metrics.GetValueOrDefault("k", parameters.K ?? 0), parameters.Metrics, customers,
            sizes.Select(s => new HistorySegment(s.CentroidId, s.Segment, s.Customers,
                customers > 0 ? Math.Round((double)s.Customers / customers, 6) : 0)).ToList(),
            run.Metrics.GetValueOrDefault("davies_bouldin_index"), run.Metrics.GetValueOrDefault("mean_squared_distance"),
            migration?.ChangedShare, migration?.New ?? customers, migration?.Gone ?? 0, completedAt,
            Released: run.QualityGate?.Release is not null);
    }

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

    /// <summary>The run's last stage is done: completed, or held when its quality gate did not pass.</summary>
    public static RunManifest RunFinished(this RunManifest manifest, DateTimeOffset now) => manifest switch
    {
        { Status: RunStatus.Completed or RunStatus.Held } => manifest,
        { QualityGate: { Passed: false, Release: null } } when manifest.Parameters?.AcceptHeld == true => manifest.Released("trigger", now),
        { QualityGate: { Passed: false, Release: null } } => manifest with { Status = RunStatus.Held },
        _ => manifest.RunCompleted(),
    };

    /// <summary>A run that failed the quality gate, released deliberately.</summary>
    public static RunManifest Released(this RunManifest manifest, string by, DateTimeOffset now) => manifest with
    {
        Status = RunStatus.Completed,
        QualityGate = manifest.QualityGate is null ? null : manifest.QualityGate with { Release = new GateRelease(by, now) },
    };

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
