using System.Net.Http.Json;
using Pipeline.Core;

namespace Pipeline.Hosting.PubSub;

/// <summary>
/// Publishes to Pub/Sub over its REST API (<c>projects/{project}/topics/{prefix}{topic}:publish</c>, data in
/// base64): to the emulator without credentials, or to Pub/Sub with Application Default Credentials.
/// A failed publish throws, so the stage's delivery is answered non-2xx and Pub/Sub delivers it again.
/// </summary>
public sealed class PubSubRestPublisher : IMessagePublisher, IDisposable
{
    private readonly HttpClient http;
    private readonly GcpProject project;
    private readonly string topicPrefix;

    public PubSubRestPublisher(PubSubOptions options, string topicPrefix) : this(options, topicPrefix, credential: null) { }

    internal PubSubRestPublisher(PubSubOptions options, string topicPrefix, Google.Apis.Auth.OAuth2.ITokenAccess? credential)
    {
        http = PubSubHttp.CreateClient(options, credential);
        project = new GcpProject(options.ProjectId);
        this.topicPrefix = topicPrefix;
    }

    /// <summary>The topic's name in Pub/Sub: the logical name with the deployment's prefix.</summary>
    public string TopicName(string topic) => topicPrefix + topic;

    public async Task<string> PublishAsync(string topic, ReadOnlyMemory<byte> data, IReadOnlyDictionary<string, string> attributes,
        CancellationToken cancellationToken)
    {
        var projectId = await project.GetIdAsync(cancellationToken);
        var request = new PublishRequest([new OutgoingMessage(Convert.ToBase64String(data.Span), attributes)]);
        using var response = await http.PostAsync($"{PubSubHttp.ResourcePath("projects", projectId, "topics", TopicName(topic))}:publish",
            PubSubHttp.Json(request), cancellationToken);
        await PubSubHttp.EnsureSuccessAsync(response, $"publishing to {TopicName(topic)}", cancellationToken);
        var published = await response.Content.ReadFromJsonAsync<PublishResponse>(cancellationToken);
        return published?.MessageIds is [var messageId, ..]
            ? messageId
            : throw new PubSubException(response.StatusCode, $"Pub/Sub returned no message id publishing to {TopicName(topic)}");
    }

    public void Dispose() => http.Dispose();
}

/// <summary>
/// The project id: configured, or on GCP asked once from the metadata server (Cloud Run sets no project variable).
/// </summary>
internal sealed class GcpProject(string? configured)
{
    private static readonly Uri MetadataProjectId = new("http://metadata.google.internal/computeMetadata/v1/project/project-id");
    private string? id = configured;

    public async Task<string> GetIdAsync(CancellationToken cancellationToken)
    {
        if (id is not null) return id;
        using var metadata = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        using var request = new HttpRequestMessage(HttpMethod.Get, MetadataProjectId);
        request.Headers.Add("Metadata-Flavor", "Google");
        try
        {
            using var response = await metadata.SendAsync(request, cancellationToken);
            response.EnsureSuccessStatusCode();
            return id = (await response.Content.ReadAsStringAsync(cancellationToken)).Trim();
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            throw new InvalidOperationException(
                "No Pub/Sub project: set GOOGLE_CLOUD_PROJECT (or PubSub__ProjectId or Gcp__ProjectId), or PUBSUB_EMULATOR_HOST for the emulator; " +
                $"the metadata server did not answer ({e.Message})", e);
        }
    }
}
