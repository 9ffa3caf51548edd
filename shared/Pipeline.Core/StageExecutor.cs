using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace Pipeline.Core;

/// <summary>
/// The delivery protocol every stage shares (CONTRACT.md, "Delivery semantics"): decode the message, skip a
/// duplicate, record the stage in the manifest, do the work, publish the next message, and only then mark the
/// stage completed. A permanent failure is recorded and announced on <c>run-failed</c> and the delivery is
/// acknowledged; any other exception propagates so that the transport delivers again.
/// </summary>
public sealed class StageExecutor(RunLedger ledger, IMessagePublisher publisher, TimeProvider clock, ILogger<StageExecutor> logger)
{
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

        await ledger.UpdateAsync(input.RunId, input.Parameters, m => m.StageStarted(stage, clock.GetUtcNow()), cancellationToken);
        logger.LogInformation("{Stage} started for run {RunId}", stage, input.RunId);

        StageResult result;
        try
        {
            result = await work(input, cancellationToken);
        }
        catch (PermanentPipelineException e)
        {
            logger.LogError("{Stage} failed permanently for run {RunId}: {Reason}", stage, input.RunId, e.Message);
            await FailAsync(input.RunId, stage, input.Parameters, e.Message, cancellationToken);
            return;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Transient: leave a trace in the manifest, then let the transport deliver again.
            logger.LogWarning(e, "{Stage} failed for run {RunId} and will be retried: {Reason}", stage, input.RunId, e.Message);
            await ledger.UpdateAsync(input.RunId, input.Parameters, m => m.StageAttemptFailed(stage, e.Message), CancellationToken.None);
            throw;
        }

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
        }
        await PublishAsync(result.Topic, outgoing, input.RunId, stage, cancellationToken);
        var final = await ledger.UpdateAsync(input.RunId, input.Parameters, m => m.StageCompleted(stage, clock.GetUtcNow(), result), cancellationToken);
        logger.LogInformation("{Stage} completed for run {RunId} in {Seconds} s; published {Topic}",
            stage, input.RunId, final.Stages[stage].Seconds, result.Topic);
    }

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
        await PublishAsync(Topics.RunFailed, new RunFailed(runId, error.Stage, error.Reason, parameters), runId, error.Stage, cancellationToken);
        await ledger.UpdateAsync(runId, parameters, m => m with { Error = m.Error! with { Announced = true } }, cancellationToken);
    }

    private Task PublishAsync<T>(string topic, T message, string runId, string stage, CancellationToken cancellationToken) =>
        publisher.PublishAsync(topic, PipelineJson.Serialize(message),
            new Dictionary<string, string> { ["run_id"] = runId, ["stage"] = stage }, cancellationToken);

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
