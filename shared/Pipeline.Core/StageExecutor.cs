using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Pipeline.Core;

/// <summary>
/// The delivery protocol every stage shares (CONTRACT.md, "Delivery semantics"): decode the message, skip a
/// duplicate, claim the stage in the manifest (recording the message it starts from), do the work, publish the next
/// message, and only then mark the stage completed. A permanent failure is recorded and announced on
/// <c>run-failed</c> and the delivery is acknowledged; any other exception propagates so that the transport
/// delivers again. The claim is a conditional write with a lease the holder renews while it works: a second
/// delivery of the same message at the same time finds the stage held and is answered as a transient failure
/// (<see cref="StageHeldException"/>), so it comes back later and finds the stage completed — or, if the holder
/// crashed, takes the stage over once the lease has run out. When a run ends, the <see cref="IRunEndHook"/> (if one
/// is registered) runs before the end is announced.
/// </summary>
public sealed class StageExecutor(RunLedger ledger, IMessagePublisher publisher, TimeProvider clock, ILogger<StageExecutor> logger,
    IOptions<PipelineOptions>? options = null, IEnumerable<IStageObserver>? observers = null, IRunEndHook? runEnd = null)
{
    private readonly TimeSpan _lease = TimeSpan.FromSeconds((options?.Value ?? new PipelineOptions()).StageLeaseSeconds);

    /// <summary>Runs a stage whose trigger is a <see cref="RunMessage"/> of type <typeparamref name="TIn"/>.</summary>
    public Task RunAsync<TIn>(string stage, PipelineMessage message,
        Func<TIn, CancellationToken, Task<StageResult>> work, CancellationToken cancellationToken) where TIn : RunMessage =>
        RunAsync(stage, message, Decode<TIn>, work, cancellationToken);

    /// <summary>Runs a stage with its own decoder (the trigger, which resolves defaults and names the run).</summary>
    public async Task RunAsync<TIn>(string stage, PipelineMessage message, Func<PipelineMessage, TIn> decode,
        Func<TIn, CancellationToken, Task<StageResult>> work, CancellationToken cancellationToken) where TIn : RunMessage
    {
        TIn input;
        try
        {
            input = decode(message);
        }
        catch (InvalidMessageException e)
        {
            var runId = e.RunId ?? RunIdAttribute(message) ?? RunId.FromMessage(message.MessageId, message.PublishTime);
            using (logger.BeginScope(new Dictionary<string, object> { ["RunId"] = runId, ["Stage"] = stage }))
            {
                logger.LogError("Rejected message {MessageId}: {Reason}", message.MessageId, e.Message);
                await FailAsync(runId, stage, null, e.Message, cancellationToken);
            }
            return;
        }

        using var scope = logger.BeginScope(new Dictionary<string, object> { ["RunId"] = input.RunId, ["Stage"] = stage });
        var manifest = await ledger.GetAsync(input.RunId, cancellationToken);
        if (manifest?.Stages.GetValueOrDefault(stage)?.Status == StageStatus.Completed)
        {
            logger.LogInformation("{Stage} already completed for run {RunId}; duplicate message {MessageId} ignored",
                stage, input.RunId, message.MessageId);
            return;
        }
        if (manifest is { Status: RunStatus.Failed, Error: { } error })
        {
            if (!error.Announced) await AnnounceFailureAsync(input.RunId, error, manifest.Parameters, cancellationToken);
            logger.LogWarning("Run {RunId} already failed in {FailedStage}; message {MessageId} ignored",
                input.RunId, error.Stage, message.MessageId);
            return;
        }

        var holder = $"{Environment.MachineName}/{Environment.ProcessId}/{message.MessageId}/{Guid.NewGuid():N}";
        var started = await ledger.UpdateAsync(input.RunId, input.Parameters, m =>
        {
            var now = clock.GetUtcNow();
            return m.Stages.GetValueOrDefault(stage) switch
            {
                { Status: StageStatus.Completed } => m,
                { Status: StageStatus.Running, Claim: { } claim } when claim.IsLive(now) => m,
                _ when m.Status == RunStatus.Failed => m,
                _ => m.StageStarted(stage, now, System.Text.Encoding.UTF8.GetString(message.Data.Span), new StageClaim(holder, now + _lease)),
            };
        }, cancellationToken);
        var record = started.Stages.GetValueOrDefault(stage);
        if (record?.Claim?.Holder != holder)
        {
            if (record is { Status: StageStatus.Running, Claim: { } other })
                throw new StageHeldException(stage, input.RunId, other);
            // Completed or failed by another delivery between the first read and the claim.
            logger.LogInformation("{Stage} of run {RunId} was finished by another delivery; message {MessageId} ignored", stage, input.RunId, message.MessageId);
            return;
        }
        logger.LogInformation("{Stage} started for run {RunId}", stage, input.RunId);

        using var renewal = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var renewing = RenewLeaseAsync(input.RunId, stage, holder, renewal.Token);
        try
        {
            foreach (var observer in observers ?? []) await observer.StageClaimedAsync(stage, input.RunId, cancellationToken);
            if (StageGarbage.CollectIfLarge() is { } held)
                logger.LogDebug("Collected the garbage of earlier work ({HeldMiB} MiB on the heap) before {Stage}", held >> 20, stage);
            var result = await work(input, cancellationToken);

            // The gate's verdict is in the manifest before the next stage can start, so the run's end finds it.
            if (result.Gate is { } gate)
                await ledger.UpdateAsync(input.RunId, input.Parameters, m => m with { QualityGate = gate }, cancellationToken);
            var outgoing = result.Message;
            if (result.CompletesRun)
            {
                // The run is complete (latest.json and history.json updated) or held before run-completed is
                // published, so a reader woken by that message finds everything in place.
                var finished = await ledger.FinishRunAsync(input.RunId, input.Parameters, cancellationToken);
                if (finished.Status == RunStatus.Held && outgoing is RunCompleted completed)
                {
                    var failedChecks = finished.QualityGate!.Failed.Select(c => c.Name).ToList();
                    outgoing = completed with { Status = RunStatus.Held, FailedChecks = failedChecks };
                    logger.LogWarning("Run {RunId} is held: it failed the quality gate ({FailedChecks}); latest.json and history.json are unchanged",
                        input.RunId, string.Join(", ", failedChecks));
                }
                if (runEnd is not null) await runEnd.RunEndedAsync(finished, cancellationToken);
            }
            var published = await PublishAsync(result.Topic, outgoing, input.RunId, stage, cancellationToken);
            var final = await ledger.UpdateAsync(input.RunId, input.Parameters,
                m => m.StageCompleted(stage, clock.GetUtcNow(), result, new StageMessage(result.Topic, System.Text.Encoding.UTF8.GetString(published))),
                cancellationToken);
            logger.LogInformation("{Stage} completed for run {RunId} in {Seconds} s; published {Topic}",
                stage, input.RunId, final.Stages[stage].Seconds, result.Topic);
        }
        catch (PermanentPipelineException e)
        {
            logger.LogError("{Stage} failed permanently for run {RunId}: {Reason}", stage, input.RunId, e.Message);
            await FailAsync(input.RunId, stage, input.Parameters, e.Message, cancellationToken);
        }
        catch (Exception e)
        {
            // Transient (the work, the publish or the manifest failed; or the delivery was abandoned): leave a trace
            // in the manifest and release the claim, then let the transport deliver again.
            if (e is not OperationCanceledException)
                logger.LogWarning(e, "{Stage} failed for run {RunId} and will be retried: {Reason}", stage, input.RunId, e.Message);
            await ledger.UpdateAsync(input.RunId, input.Parameters, m => m.StageAttemptFailed(stage, e.Message), CancellationToken.None);
            throw;
        }
        finally
        {
            await renewal.CancelAsync();
            await renewing;
        }
    }

    /// <summary>
    /// Fails a run from outside its stages (the watchdog: a message Pub/Sub gave up on, a run stalled too long):
    /// recorded in the manifest and announced on <c>run-failed</c> once, as a stage's permanent failure is.
    /// </summary>
    public Task FailRunAsync(string runId, string stage, string reason, CancellationToken cancellationToken) =>
        FailAsync(runId, stage, null, reason, cancellationToken);

    private async Task FailAsync(string runId, string stage, RunParameters? parameters, string reason, CancellationToken cancellationToken)
    {
        var manifest = await ledger.GetAsync(runId, cancellationToken);
        if (manifest is { Status: RunStatus.Failed, Error.Announced: true })
        {
            logger.LogWarning("Run {RunId} is already recorded as failed; nothing more to do", runId);
            return;
        }
        var failed = manifest is { Status: RunStatus.Failed, Error: not null }
            ? manifest
            : await ledger.UpdateAsync(runId, parameters, m => m.Failed(stage, reason, clock.GetUtcNow()), cancellationToken);
        await AnnounceFailureAsync(runId, failed.Error!, failed.Parameters, cancellationToken);
    }

    private async Task AnnounceFailureAsync(string runId, RunError error, RunParameters? parameters, CancellationToken cancellationToken)
    {
        // Here rather than where the failure is recorded: a redelivery after a failed hook announces again.
        if (runEnd is not null && await ledger.GetAsync(runId, cancellationToken) is { } failed)
            await runEnd.RunEndedAsync(failed, cancellationToken);
        await PublishAsync(Topics.RunFailed, new RunFailed(runId, error.Stage, error.Reason, parameters), runId, error.Stage, cancellationToken);
        await ledger.UpdateAsync(runId, parameters, m => m with { Error = m.Error! with { Announced = true } }, cancellationToken);
    }

    /// <summary>Publishes and returns the body published.</summary>
    private async Task<byte[]> PublishAsync<T>(string topic, T message, string runId, string stage, CancellationToken cancellationToken)
    {
        var body = PipelineJson.Serialize(message);
        await publisher.PublishAsync(topic, body, new Dictionary<string, string> { ["run_id"] = runId, ["stage"] = stage }, cancellationToken);
        return body;
    }

    /// <summary>Keeps the claim alive while the work runs; a lost claim is logged, the work goes on (its outputs are whole and deterministic).</summary>
    private async Task RenewLeaseAsync(string runId, string stage, string holder, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(_lease / 3, clock);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                var renewed = await ledger.UpdateAsync(runId, null, m => m.LeaseRenewed(stage, holder, clock.GetUtcNow() + _lease), cancellationToken);
                if (renewed.Stages.GetValueOrDefault(stage)?.Claim?.Holder != holder)
                    logger.LogWarning("{Stage} of run {RunId}: the claim passed to another delivery while this one worked", stage, runId);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The work ended.
        }
        catch (Exception e) when (e is IOException or ConcurrentUpdateException or InvalidDataException)
        {
            // A renewal that cannot be written only shortens the claim; the work itself decides the delivery's outcome.
            logger.LogWarning("{Stage} of run {RunId}: the claim could not be renewed: {Reason}", stage, runId, e.Message);
        }
    }

    private static string? RunIdAttribute(PipelineMessage message) =>
        message.Attributes.TryGetValue("run_id", out var runId) && RunId.IsValid(runId) ? runId : null;

    /// <summary>Reads a chain message strictly: unknown fields, missing fields and wrong types are permanent errors.</summary>
    public static T Decode<T>(PipelineMessage message) where T : RunMessage
    {
        T value;
        try
        {
            value = PipelineJson.Deserialize<T>(message.Data.Span);
        }
        catch (Exception e) when (e is JsonException or NotSupportedException or ArgumentException)
        {
            throw new InvalidMessageException($"the message is not a valid {typeof(T).Name}: {e.Message}", RunIdAttribute(message));
        }
        if (!RunId.IsValid(value.RunId))
            throw new InvalidMessageException($"run_id '{value.RunId}' is invalid", RunIdAttribute(message));
        return value;
    }
}

/// <summary>
/// Told when a delivery has claimed a stage, just before the work starts. Production registers none; the Runner's
/// debug setting <c>Runner:PauseInStage</c> registers one that holds the process there, so that fault tests can kill
/// it inside a stage deterministically.
/// </summary>
public interface IStageObserver
{
    Task StageClaimedAsync(string stage, string runId, CancellationToken cancellationToken);
}
