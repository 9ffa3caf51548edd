using Pipeline.Core;

namespace Pipeline.Runner;

/// <summary>What to deliver to resume a run: a message body, the topic it goes to, and the stage that published it.</summary>
public sealed record ResumeDelivery(string Stage, string Topic, string Data, string Publisher);

/// <summary>
/// Where an interrupted run picks up again, read from its manifest alone: every stage records the message it
/// started from and the message it published, so the first stage that did not complete can be delivered again.
/// </summary>
public static class RunResumption
{
    /// <summary>The delivery that continues a running run; throws when the manifest holds none (an older manifest).</summary>
    public static ResumeDelivery NextDelivery(RunManifest manifest)
    {
        var stages = Stages.All.ToList();
        var stage = stages.FirstOrDefault(s => manifest.Stages.GetValueOrDefault(s)?.Status != StageStatus.Completed)
            ?? throw new InvalidOperationException($"every stage of run {manifest.RunId} completed; there is nothing to resume");
        var index = stages.IndexOf(stage);
        var publisher = index == 0 ? "trigger" : stages[index - 1];
        var data = manifest.Stages.GetValueOrDefault(stage)?.Input
            ?? (index > 0 ? manifest.Stages.GetValueOrDefault(publisher)?.Output?.Data : null)
            ?? throw new CommandFailedException(
                $"Run {manifest.RunId} cannot be resumed: its manifest records no message for {stage} (written before runs recorded them) — start it again with another --run-id.");
        return new ResumeDelivery(stage, FunctionCatalog.TopicOf(stage), data, publisher);
    }

    /// <summary>The live claim on the stage a resume would deliver to, if a crashed holder's lease has not run out yet.</summary>
    public static StageClaim? LiveClaim(RunManifest manifest, string stage, DateTimeOffset now) =>
        manifest.Stages.GetValueOrDefault(stage) is { Status: StageStatus.Running, Claim: { } claim } && claim.IsLive(now) ? claim : null;
}
