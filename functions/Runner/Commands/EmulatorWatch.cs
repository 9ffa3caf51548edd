using Pipeline.Core;
using Pipeline.Hosting;

namespace Pipeline.Runner.Commands;

/// <summary>
/// Keeps <c>serve</c>'s chain wired while the Pub/Sub emulator comes and goes. The emulator holds topics,
/// subscriptions and unacknowledged messages in memory only: restarted, it has forgotten all three, so the message a
/// stage was working on (its delivery abandoned when the connection dropped) is gone, and without help the run would
/// stay <c>running</c> until the stalled-run sweep. Every <see cref="Interval"/> the watch checks the chain's
/// subscriptions; when they are missing it creates the topics and subscriptions again and resumes every run the
/// bucket holds as running, from its manifest, as <c>run</c> resumes a killed run. A stage that is still working or
/// already done takes the resumed message as a duplicate (the stage protocol), so resuming is safe.
/// </summary>
public sealed class EmulatorWatch(EmulatorChain chain, IBucket bucket, RunLedger ledger, IMessagePublisher publisher, TextWriter output)
{
    /// <summary>How often the emulator is checked: a few cheap GETs on loopback.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(2);

    /// <summary>Checks until <paramref name="cancellationToken"/> is cancelled (serve stops).</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var host = chain.Settings.EmulatorHost;
        var unreachable = false;
        using var timer = new PeriodicTimer(Interval);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                bool rewired;
                try
                {
                    rewired = await chain.EnsureWiredAsync(cancellationToken);
                }
                catch (Exception e) when (e is HttpRequestException or Hosting.PubSub.PubSubException
                                              || e is TaskCanceledException && !cancellationToken.IsCancellationRequested)
                {
                    // Said once, not every two seconds; deliveries in flight were abandoned with the connection.
                    if (!unreachable) output.WriteLine($"The Pub/Sub emulator at {host} does not answer ({e.Message}); serve waits for it to come back.");
                    unreachable = true;
                    continue;
                }
                if (unreachable && !rewired) output.WriteLine($"The Pub/Sub emulator at {host} answers again, with the chain's subscriptions.");
                unreachable = false;
                if (!rewired) continue;
                output.WriteLine($"The Pub/Sub emulator at {host} had forgotten the chain's topics and subscriptions (restarted?): created them again.");
                await ResumeRunningRunsAsync(cancellationToken);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // serve is stopping.
        }
    }

    /// <summary>Publishes again the message of the first unfinished stage of every running run.</summary>
    private async Task ResumeRunningRunsAsync(CancellationToken cancellationToken)
    {
        foreach (var name in await bucket.ListAsync("runs/", cancellationToken))
        {
            if (name.Split('/') is not ["runs", var runId, "manifest.json"] || !RunId.IsValid(runId)) continue;
            try
            {
                if (await ledger.GetAsync(runId, cancellationToken) is not { Status: RunStatus.Running } manifest) continue;
                var next = RunResumption.NextDelivery(manifest);
                await publisher.PublishAsync(next.Topic, System.Text.Encoding.UTF8.GetBytes(next.Data),
                    new Dictionary<string, string> { ["run_id"] = runId, ["stage"] = next.Publisher, ["resumed"] = "true" }, cancellationToken);
                output.WriteLine($"  run {runId} resumed at {next.Stage}");
            }
            catch (Exception e) when (e is CommandFailedException or InvalidDataException or HttpRequestException or Hosting.PubSub.PubSubException)
            {
                // One run that cannot be resumed must not keep the others from it; the stalled-run sweep still covers it.
                output.WriteLine($"  run {runId} could not be resumed: {e.Message}");
            }
        }
    }
}
