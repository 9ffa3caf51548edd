using System.CommandLine;
using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Pipeline.Core;
using Pipeline.Hosting.PubSub;

namespace Pipeline.Runner.Commands;

/// <summary>
/// <c>trigger</c>: publishes a trigger message, as Cloud Scheduler does, to the emulator (<c>PUBSUB_EMULATOR_HOST</c>)
/// or to Pub/Sub (Application Default Credentials); with <c>--wait</c> it follows the run's manifest in the bucket
/// directory until the run completes or fails.
/// </summary>
public static class TriggerCommand
{
    public static Command Create()
    {
        var trigger = new TriggerOptions();
        var target = new PubSubTarget();
        var topicPrefix = new Option<string?>("--topic-prefix") { Description = "Prefix of the topic names. Default: $Pipeline__TopicPrefix." };
        var wait = new Option<bool>("--wait") { Description = "Follow the run's manifest in --out until it completes or fails; exit non-zero if it failed." };
        var output = new Option<string>("--out", "-o") { Description = "The bucket directory the functions write to (for --wait).", DefaultValueFactory = _ => "./out" };
        var timeout = new Option<int>("--timeout") { Description = "Seconds --wait waits for the run to end.", DefaultValueFactory = _ => 900 };

        var command = new Command("trigger",
            "Publishes a trigger message to the segmentation-trigger topic, as Cloud Scheduler does: to the Pub/Sub emulator when " +
            "PUBSUB_EMULATOR_HOST is set, else to Pub/Sub with Application Default Credentials. Prints the run id.");
        trigger.AddTo(command);
        target.AddTo(command);
        foreach (var option in new Option[] { topicPrefix, wait, output, timeout }) command.Options.Add(option);

        command.SetAction(async (ParseResult result, CancellationToken cancellationToken) =>
        {
            var environment = new ConfigurationBuilder().AddEnvironmentVariables().Build();
            var (options, projectSource) = target.Resolve(result, environment);
            var prefix = result.GetValue(topicPrefix) ?? environment.GetSection(PipelineOptions.SectionName).Get<PipelineOptions>()?.TopicPrefix ?? "";

            var now = DateTimeOffset.UtcNow;
            // The run id is always sent, so that the run can be found (and followed) by its id.
            var runId = result.GetValue(trigger.RunId) ?? RunId.New(now);
            var body = Encoding.UTF8.GetBytes(trigger.ToTrigger(result, runId).ToJsonString());
            try
            {
                // The functions check it again; checking here too turns a typo into an error before anything runs.
                TriggerParser.Parse(body, "local", now, DateOnly.FromDateTime(now.UtcDateTime));
            }
            catch (InvalidMessageException e)
            {
                await Console.Error.WriteLineAsync($"Not published: {e.Message}");
                return 2;
            }

            using var publisher = new PubSubRestPublisher(options, prefix);
            var where = options.UsesEmulator ? $"the emulator at {options.EmulatorHost}" : "Pub/Sub";
            Console.WriteLine($"Project {options.ProjectId ?? "from the metadata server"} (from {projectSource}) on {where}");
            string messageId;
            try
            {
                messageId = await publisher.PublishAsync(Topics.Trigger, body,
                    new Dictionary<string, string> { ["run_id"] = runId, ["stage"] = "trigger" }, cancellationToken);
            }
            catch (PubSubException e) when (e.Status == HttpStatusCode.NotFound)
            {
                throw new CommandFailedException($"Not published: no topic {publisher.TopicName(Topics.Trigger)} in project {options.ProjectId} on {where} — " +
                    (options.UsesEmulator
                        ? "is `serve` running with the same project (it prints the one it uses; pass --project or set PUBSUB_PROJECT_ID for both)?"
                        : "has Terraform (infra/) created it in that project, and is --topic-prefix the deployment's?"), e);
            }
            catch (HttpRequestException e)
            {
                throw new CommandFailedException($"Not published: {where} does not answer ({e.Message}) — " +
                    (options.UsesEmulator
                        ? $"start it with `gcloud beta emulators pubsub start --host-port={options.EmulatorHost}`, or fix PUBSUB_EMULATOR_HOST."
                        : "check the network, or set PUBSUB_EMULATOR_HOST to publish to the emulator."), e);
            }
            Console.WriteLine($"Published run {runId} to {publisher.TopicName(Topics.Trigger)} (message {messageId}): " + Encoding.UTF8.GetString(body));
            if (!result.GetValue(wait)) return 0;

            var manifest = await RunFollower.FollowAsync(Path.GetFullPath(result.GetValue(output)!), runId,
                TimeSpan.FromSeconds(result.GetValue(timeout)), Console.Out, cancellationToken);
            return manifest?.Status == RunStatus.Completed ? 0 : 1;
        });
        return command;
    }
}

/// <summary>Follows a run's <c>manifest.json</c> in a bucket directory, printing each stage as it ends.</summary>
public static class RunFollower
{
    /// <summary>The run's final manifest, or null when it did not end within <paramref name="timeout"/>.</summary>
    public static async Task<RunManifest?> FollowAsync(string bucketDirectory, string runId, TimeSpan timeout, TextWriter output,
        CancellationToken cancellationToken)
    {
        var path = Path.Combine(bucketDirectory, BucketLayout.Manifest(runId));
        var deadline = DateTimeOffset.UtcNow + timeout;
        var reported = new HashSet<string>();
        output.WriteLine($"Waiting for {path}");
        while (DateTimeOffset.UtcNow < deadline)
        {
            var manifest = TryRead(path);
            if (manifest is not null)
            {
                foreach (var stage in Stages.All)
                    if (manifest.Stages.TryGetValue(stage, out var record) && record.Status != StageStatus.Running && reported.Add(stage))
                        output.WriteLine($"  {stage,-17} {record.Status.ToString().ToLowerInvariant()} in {record.Seconds:0.0} s" +
                            (record.Attempts > 1 ? $" ({record.Attempts} attempts)" : ""));
                if (manifest.Status == RunStatus.Completed)
                {
                    output.WriteLine($"Run {runId} completed. Outputs:");
                    foreach (var (name, objectName) in BucketLayout.Files(runId))
                        output.WriteLine($"  {name,-15} {Path.Combine(bucketDirectory, objectName)}");
                    return manifest;
                }
                if (manifest.Status == RunStatus.Held)
                {
                    output.WriteLine($"Run {runId} is HELD: it failed the quality gate ({string.Join(", ", manifest.QualityGate?.Failed.Select(c => c.Name) ?? [])}); " +
                        $"its outputs are written, latest.json and history.json are unchanged. Release it with: runs release {runId}");
                    output.WriteLine($"  manifest        {path}");
                    return manifest;
                }
                if (manifest.Status == RunStatus.Failed)
                {
                    output.WriteLine($"Run {runId} failed in {manifest.Error?.Stage}: {manifest.Error?.Reason}");
                    output.WriteLine($"  manifest        {path}");
                    return manifest;
                }
            }
            await Task.Delay(TimeSpan.FromMilliseconds(250), cancellationToken);
        }
        output.WriteLine($"Run {runId} did not end within {timeout.TotalSeconds:0} s; see {path}");
        return null;
    }

    private static RunManifest? TryRead(string path)
    {
        try
        {
            return File.Exists(path) ? PipelineJson.Deserialize<RunManifest>(File.ReadAllBytes(path)) : null;
        }
        catch (Exception e) when (e is IOException or JsonException)
        {
            // Written whole by rename, but a reader on another platform may still catch the swap; read again shortly.
            return null;
        }
    }
}
