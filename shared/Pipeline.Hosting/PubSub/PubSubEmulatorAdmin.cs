using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using Pipeline.Core;

namespace Pipeline.Hosting.PubSub;

/// <summary>How the emulator pushes to a function: its ack deadline and the retry backoff after a non-2xx answer.</summary>
/// <param name="MaxDeliveryAttempts">Attempts before a message moves to the dead-letter topic, when the subscription has one (5 to 100, as on Pub/Sub).</param>
public sealed record PushSubscriptionSettings(int AckDeadlineSeconds, TimeSpan MinimumBackoff, TimeSpan MaximumBackoff, int MaxDeliveryAttempts = 5)
{
    /// <summary>Pub/Sub's longest ack deadline, so that a slow stage is not delivered twice while it works.</summary>
    public static PushSubscriptionSettings Default { get; } = new(600, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30));
}

/// <summary>A message pulled from a subscription, with the id to acknowledge it by.</summary>
public sealed record ReceivedMessage(string AckId, PipelineMessage Message);

/// <summary>
/// Sets the Pub/Sub emulator up the way Terraform sets up Pub/Sub: topics and push subscriptions (push endpoint,
/// ack deadline, retry policy), plus pull subscriptions and pulling for tests that watch a topic.
/// Names are the full Pub/Sub names (with any prefix). Creating what exists already is not an error.
/// </summary>
public sealed class PubSubEmulatorAdmin : IDisposable
{
    private readonly HttpClient http;
    private readonly Uri root;
    private readonly string projectId;

    public PubSubEmulatorAdmin(string emulatorHost, string projectId)
    {
        http = PubSubHttp.CreateClient(new PubSubOptions { EmulatorHost = emulatorHost, ProjectId = projectId });
        root = new Uri($"http://{emulatorHost}/");
        this.projectId = projectId;
    }

    public string ProjectId => projectId;

    /// <summary>The topic's resource name, as it goes into a request body (<c>projects/p/topics/t</c>).</summary>
    public string TopicPath(string topic) => $"projects/{projectId}/topics/{topic}";

    /// <summary>The subscription's resource name, as it goes into a request body.</summary>
    public string SubscriptionPath(string subscription) => $"projects/{projectId}/subscriptions/{subscription}";

    // The same names as REST paths: each segment URL-escaped (PubSubHttp.ResourcePath).
    private string TopicUrl(string topic) => PubSubHttp.ResourcePath("projects", projectId, "topics", topic);

    private string SubscriptionUrl(string subscription) => PubSubHttp.ResourcePath("projects", projectId, "subscriptions", subscription);

    /// <summary>Waits until the emulator answers its root URL ("Ok"), or throws after <paramref name="timeout"/>.</summary>
    public async Task WaitUntilReadyAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = DateTimeOffset.UtcNow + timeout;
        using var probe = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        while (true)
        {
            try
            {
                using var response = await probe.GetAsync(root, cancellationToken);
                if (response.IsSuccessStatusCode) return;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
            {
                // Not listening yet.
            }
            if (DateTimeOffset.UtcNow > deadline)
                throw new TimeoutException($"the Pub/Sub emulator at {root} did not answer within {timeout.TotalSeconds:0} s");
            await Task.Delay(200, cancellationToken);
        }
    }

    public async Task CreateTopicAsync(string topic, CancellationToken cancellationToken)
    {
        using var response = await http.PutAsync(TopicUrl(topic), PubSubHttp.Json(new TopicResource()), cancellationToken);
        if (response.StatusCode != HttpStatusCode.Conflict)
            await PubSubHttp.EnsureSuccessAsync(response, $"creating topic {topic}", cancellationToken);
    }

    /// <summary>Creates a push subscription, or points an existing one at <paramref name="pushEndpoint"/>.</summary>
    /// <param name="deadLetterTopic">Where Pub/Sub moves a message after <see cref="PushSubscriptionSettings.MaxDeliveryAttempts"/>; null for none.</param>
    public async Task CreatePushSubscriptionAsync(string subscription, string topic, Uri pushEndpoint, PushSubscriptionSettings delivery,
        CancellationToken cancellationToken, string? deadLetterTopic = null)
    {
        var resource = new SubscriptionResource(TopicPath(topic), new PushConfig(pushEndpoint.ToString()), delivery.AckDeadlineSeconds,
            new RetryPolicy(Duration(delivery.MinimumBackoff), Duration(delivery.MaximumBackoff)),
            deadLetterTopic is null ? null : new DeadLetterPolicy(TopicPath(deadLetterTopic), delivery.MaxDeliveryAttempts));
        using var response = await http.PutAsync(SubscriptionUrl(subscription), PubSubHttp.Json(resource), cancellationToken);
        if (response.StatusCode == HttpStatusCode.Conflict)
        {
            // Left from an earlier `serve` against the same emulator: the function's port may have changed.
            using var modified = await http.PostAsync($"{SubscriptionUrl(subscription)}:modifyPushConfig",
                PubSubHttp.Json(new ModifyPushConfigRequest(new PushConfig(pushEndpoint.ToString()))), cancellationToken);
            await PubSubHttp.EnsureSuccessAsync(modified, $"updating subscription {subscription}", cancellationToken);
            return;
        }
        await PubSubHttp.EnsureSuccessAsync(response, $"creating subscription {subscription}", cancellationToken);
    }

    public async Task CreatePullSubscriptionAsync(string subscription, string topic, CancellationToken cancellationToken)
    {
        var resource = new SubscriptionResource(TopicPath(topic), PushConfig: null, AckDeadlineSeconds: 60, RetryPolicy: null);
        using var response = await http.PutAsync(SubscriptionUrl(subscription), PubSubHttp.Json(resource), cancellationToken);
        if (response.StatusCode != HttpStatusCode.Conflict)
            await PubSubHttp.EnsureSuccessAsync(response, $"creating subscription {subscription}", cancellationToken);
    }

    /// <summary>Whether the emulator knows the subscription: it keeps everything in memory, so a restart forgets it.</summary>
    public async Task<bool> SubscriptionExistsAsync(string subscription, CancellationToken cancellationToken)
    {
        using var response = await http.GetAsync(SubscriptionUrl(subscription), cancellationToken);
        if (response.StatusCode == HttpStatusCode.NotFound) return false;
        await PubSubHttp.EnsureSuccessAsync(response, $"reading subscription {subscription}", cancellationToken);
        return true;
    }

    public async Task DeleteSubscriptionAsync(string subscription, CancellationToken cancellationToken)
    {
        using var response = await http.DeleteAsync(SubscriptionUrl(subscription), cancellationToken);
        if (response.StatusCode != HttpStatusCode.NotFound)
            await PubSubHttp.EnsureSuccessAsync(response, $"deleting subscription {subscription}", cancellationToken);
    }

    /// <summary>Pulls what is waiting (at most <paramref name="maxMessages"/>) without waiting for more.</summary>
    public async Task<IReadOnlyList<ReceivedMessage>> PullAsync(string subscription, int maxMessages, CancellationToken cancellationToken)
    {
        using var response = await http.PostAsync($"{SubscriptionUrl(subscription)}:pull",
            PubSubHttp.Json(new PullRequest(maxMessages, ReturnImmediately: true)), cancellationToken);
        await PubSubHttp.EnsureSuccessAsync(response, $"pulling from {subscription}", cancellationToken);
        var pulled = await response.Content.ReadFromJsonAsync<PullResponse>(cancellationToken);
        return [.. (pulled?.ReceivedMessages ?? []).Select(r => new ReceivedMessage(r.AckId, new PipelineMessage(
            Convert.FromBase64String(r.Message.Data ?? ""),
            r.Message.Attributes ?? new Dictionary<string, string>(),
            r.Message.MessageId,
            PubSubTimestamp.Parse(r.Message.PublishTime))))];
    }

    public async Task AcknowledgeAsync(string subscription, IReadOnlyList<string> ackIds, CancellationToken cancellationToken)
    {
        if (ackIds.Count == 0) return;
        using var response = await http.PostAsync($"{SubscriptionUrl(subscription)}:acknowledge",
            PubSubHttp.Json(new AcknowledgeRequest(ackIds)), cancellationToken);
        await PubSubHttp.EnsureSuccessAsync(response, $"acknowledging on {subscription}", cancellationToken);
    }

    public void Dispose() => http.Dispose();

    private static string Duration(TimeSpan value) => value.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture) + "s";
}
