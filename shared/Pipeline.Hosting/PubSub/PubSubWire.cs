using System.Text.Json.Serialization;

namespace Pipeline.Hosting.PubSub;

// The Pub/Sub REST API's JSON shapes (https://cloud.google.com/pubsub/docs/reference/rest), only the fields used here.

internal sealed record PublishRequest([property: JsonPropertyName("messages")] IReadOnlyList<OutgoingMessage> Messages);

internal sealed record OutgoingMessage(
    [property: JsonPropertyName("data")] string Data,
    [property: JsonPropertyName("attributes")] IReadOnlyDictionary<string, string> Attributes);

internal sealed record PublishResponse([property: JsonPropertyName("messageIds")] IReadOnlyList<string>? MessageIds);

internal sealed record TopicResource([property: JsonPropertyName("name")] string? Name = null);

internal sealed record SubscriptionResource(
    [property: JsonPropertyName("topic")] string Topic,
    [property: JsonPropertyName("pushConfig")] PushConfig? PushConfig,
    [property: JsonPropertyName("ackDeadlineSeconds")] int AckDeadlineSeconds,
    [property: JsonPropertyName("retryPolicy")] RetryPolicy? RetryPolicy,
    [property: JsonPropertyName("deadLetterPolicy"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] DeadLetterPolicy? DeadLetterPolicy = null);

internal sealed record DeadLetterPolicy(
    [property: JsonPropertyName("deadLetterTopic")] string DeadLetterTopic,
    [property: JsonPropertyName("maxDeliveryAttempts")] int MaxDeliveryAttempts);

internal sealed record PushConfig([property: JsonPropertyName("pushEndpoint")] string PushEndpoint);

internal sealed record RetryPolicy(
    [property: JsonPropertyName("minimumBackoff")] string MinimumBackoff,
    [property: JsonPropertyName("maximumBackoff")] string MaximumBackoff);

internal sealed record ModifyPushConfigRequest([property: JsonPropertyName("pushConfig")] PushConfig PushConfig);

internal sealed record PullRequest(
    [property: JsonPropertyName("maxMessages")] int MaxMessages,
    [property: JsonPropertyName("returnImmediately")] bool ReturnImmediately);

internal sealed record PullResponse([property: JsonPropertyName("receivedMessages")] IReadOnlyList<ReceivedMessageWire>? ReceivedMessages);

internal sealed record ReceivedMessageWire(
    [property: JsonPropertyName("ackId")] string AckId,
    [property: JsonPropertyName("message")] IncomingMessageWire Message);

internal sealed record IncomingMessageWire(
    [property: JsonPropertyName("data")] string? Data,
    [property: JsonPropertyName("attributes")] IReadOnlyDictionary<string, string>? Attributes,
    [property: JsonPropertyName("messageId")] string MessageId,
    [property: JsonPropertyName("publishTime")] string PublishTime);

internal sealed record AcknowledgeRequest([property: JsonPropertyName("ackIds")] IReadOnlyList<string> AckIds);
