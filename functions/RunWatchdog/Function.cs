using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Pipeline.Core;

namespace Pipeline.Functions.RunWatchdog;

/// <summary>
/// Makes sure no run stays <c>running</c> without anyone being told. It handles the dead-letter topic, which
/// carries two kinds of message: a chain message Pub/Sub gave up on after max_delivery_attempts fails its run in
/// the stage it was for; the scheduled sweep (attribute <c>sweep</c>) fails every run still running
/// <see cref="PipelineOptions.StalledRunSeconds"/> after it started. Either way the manifest records the stage, the
/// attempts and the last error, and <c>run-failed</c> is published once — through the stage protocol's own
/// failure path, so that a run is failed and announced the same way whoever notices.
/// </summary>
[PipelineFunction(Name, TriggeredBy = Topics.DeadLetter, Publishes = Topics.RunFailed)]
public sealed class Function(StageExecutor stages, RunLedger ledger, IBucket bucket, IOptions<PipelineOptions> options,
    TimeProvider clock, ILogger<Function> logger) : IPipelineFunction
{
    public const string Name = "RunWatchdog";

    /// <summary>The attribute that makes a message the stalled-run sweep (Cloud Scheduler sets it).</summary>
    public const string SweepAttribute = "sweep";

    /// <summary>How many times Pub/Sub tried to deliver a dead-lettered message (Pub/Sub sets it).</summary>
    public const string DeliveryAttemptsAttribute = "CloudPubSubDeadLetterSourceDeliveryCount";

    public Task HandleAsync(PipelineMessage message, CancellationToken cancellationToken) =>
        message.Attributes.ContainsKey(SweepAttribute)
            ? SweepAsync(cancellationToken)
            : HandleDeadLetterAsync(message, cancellationToken);

    private async Task HandleDeadLetterAsync(PipelineMessage message, CancellationToken cancellationToken)
    {
        var runId = RunOf(message);
        var stage = StageFor(message);
        if (runId is null || stage is null)
        {
            // Nothing to fail: logged for whoever reads the dead-letter subscription, and acknowledged.
            logger.LogError("Dead-lettered message {MessageId} names no run or no stage of the chain; nothing to fail", message.MessageId);
            return;
        }

        using var scope = logger.BeginScope(new Dictionary<string, object> { ["RunId"] = runId, ["Stage"] = stage });
        var manifest = await ledger.GetAsync(runId, cancellationToken);
        var record = manifest?.Stages.GetValueOrDefault(stage);
        if (manifest is { Status: not RunStatus.Running } || record?.Status == StageStatus.Completed)
        {
            logger.LogInformation("Dead-lettered message {MessageId} for {Stage} of run {RunId}: the stage or run is over already; nothing to do",
                message.MessageId, stage, runId);
            return;
        }
        if (record is { Status: StageStatus.Running, Claim: { } claim } && claim.IsLive(clock.GetUtcNow()))
        {
            // A duplicate gave up while the delivery holding the stage still works: that delivery decides.
            logger.LogInformation("Dead-lettered message {MessageId}: {Stage} of run {RunId} is still being worked on by {Holder}",
                message.MessageId, stage, runId, claim.Holder);
            return;
        }

        var attempts = message.Attributes.GetValueOrDefault(DeliveryAttemptsAttribute) ?? "?";
        var reason = $"Pub/Sub gave up on {stage}'s message after {attempts} delivery attempts; last error: " +
            (record?.LastError ?? "none recorded (the function never answered)");
        logger.LogError("Run {RunId} failed in {Stage}: {Reason}", runId, stage, reason);
        await stages.FailRunAsync(runId, stage, reason, cancellationToken);
    }

    private async Task SweepAsync(CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow();
        var limit = TimeSpan.FromSeconds(options.Value.StalledRunSeconds);
        var failed = 0;
        foreach (var name in await bucket.ListAsync("runs/", cancellationToken))
        {
            // One runs/{run_id}/manifest.json per run; every other object is an output.
            if (name.Split('/') is not ["runs", var runId, "manifest.json"] || !RunId.IsValid(runId)) continue;
            RunManifest? manifest;
            try
            {
                manifest = await ledger.GetAsync(runId, cancellationToken);
            }
            catch (InvalidDataException e)
            {
                logger.LogWarning("Sweep skipped run {RunId}: {Reason}", runId, e.Message);
                continue;
            }
            if (manifest is not { Status: RunStatus.Running } || now - manifest.CreatedAt <= limit) continue;

            var stage = Stages.All.FirstOrDefault(s => manifest.Stages.GetValueOrDefault(s)?.Status != StageStatus.Completed) ?? Stages.All[^1];
            var record = manifest.Stages.GetValueOrDefault(stage);
            var reason = string.Create(CultureInfo.InvariantCulture,
                $"still running {(now - manifest.CreatedAt).TotalHours:0.#} h after it started (limit Pipeline:StalledRunSeconds = {limit.TotalSeconds:0} s); " +
                $"{stage} had {record?.Attempts ?? 0} attempts, last error: {record?.LastError ?? "none recorded"}");
            logger.LogError("Run {RunId} failed in {Stage}: {Reason}", runId, stage, reason);
            await stages.FailRunAsync(runId, stage, reason, cancellationToken);
            failed++;
        }
        logger.LogInformation("Stalled-run sweep: {Failed} runs failed", failed);
    }

    /// <summary>The run a message names: its <c>run_id</c> attribute (every publisher of the chain sets it), else its body's.</summary>
    private static string? RunOf(PipelineMessage message)
    {
        if (message.Attributes.GetValueOrDefault("run_id") is { } attribute && RunId.IsValid(attribute)) return attribute;
        try
        {
            using var body = JsonDocument.Parse(message.Data);
            return body.RootElement.ValueKind == JsonValueKind.Object && body.RootElement.TryGetProperty("run_id", out var id)
                && id.ValueKind == JsonValueKind.String && RunId.IsValid(id.GetString()) ? id.GetString() : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>
    /// The stage a message was for: the one after its publisher (the <c>stage</c> attribute); a trigger (published
    /// by Cloud Scheduler or the Runner, not by a stage) is for the first. Null for the last stage's output, which no
    /// stage takes.
    /// </summary>
    private static string? StageFor(PipelineMessage message)
    {
        var publisher = Stages.All.ToList().IndexOf(message.Attributes.GetValueOrDefault("stage") ?? "");
        return publisher + 1 < Stages.All.Count ? Stages.All[publisher + 1] : null;
    }
}
