using System.Text;
using System.Text.Json;
using CloudNative.CloudEvents;
using CloudNative.CloudEvents.Http;
using CloudNative.CloudEvents.SystemTextJson;
using Microsoft.AspNetCore.Http;
using Pipeline.Core;
using Pipeline.Hosting.PubSub;

namespace Pipeline.Hosting;

/// <summary>How a delivery reached the function.</summary>
public enum DeliveryFormat
{
    /// <summary>A Pub/Sub push subscription's JSON envelope.</summary>
    PubSubPush,
    /// <summary>A CloudEvent with its attributes in <c>ce-*</c> headers and the data as the body (Eventarc's way).</summary>
    CloudEventBinary,
    /// <summary>A CloudEvent as one <c>application/cloudevents+json</c> document.</summary>
    CloudEventStructured,
}

/// <summary>A message as it was delivered: the message itself, how it came and from which subscription.</summary>
public sealed record Delivery(PipelineMessage Message, DeliveryFormat Format, string? Subscription);

/// <summary>A request body that is neither a Pub/Sub push envelope nor a Pub/Sub CloudEvent; answered 400.</summary>
public sealed class MalformedDeliveryException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Reads what is POSTed to a function: a Pub/Sub push envelope (<c>message.data</c> in base64, <c>attributes</c>,
/// <c>messageId</c>/<c>message_id</c>, <c>publishTime</c>/<c>publish_time</c>, <c>subscription</c>), or a CloudEvent of
/// type <c>google.cloud.pubsub.topic.v1.messagePublished</c> in binary or structured mode, whose data is the same
/// envelope. Fields Pub/Sub leaves out when empty (<c>data</c>, <c>attributes</c>, <c>subscription</c>) may be missing.
/// </summary>
public static class PushDeliveryReader
{
    public const string MessagePublishedType = "google.cloud.pubsub.topic.v1.messagePublished";

    private static readonly JsonEventFormatter Formatter = new();

    public static async Task<Delivery> ReadAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        await request.Body.CopyToAsync(buffer, cancellationToken);
        var body = buffer.ToArray();

        // The CloudEvents SDK reads HttpRequestMessage; giving it one keeps mode detection and header decoding its own.
        using var message = new HttpRequestMessage(HttpMethod.Post, "http://function/") { Content = new ByteArrayContent(body) };
        foreach (var (name, values) in request.Headers)
            if (!message.Headers.TryAddWithoutValidation(name, (IEnumerable<string?>)values))
                message.Content.Headers.TryAddWithoutValidation(name, (IEnumerable<string?>)values);

        return message.IsCloudEvent() ? await FromCloudEventAsync(message) : FromPushEnvelope(body);
    }

    private static async Task<Delivery> FromCloudEventAsync(HttpRequestMessage message)
    {
        var format = message.Headers.Contains("ce-specversion") ? DeliveryFormat.CloudEventBinary : DeliveryFormat.CloudEventStructured;
        CloudEvent cloudEvent;
        try
        {
            cloudEvent = await message.ToCloudEventAsync(Formatter);
        }
        catch (Exception e) when (e is ArgumentException or JsonException or FormatException or InvalidOperationException)
        {
            throw new MalformedDeliveryException($"the CloudEvent cannot be read: {e.Message}", e);
        }

        if (cloudEvent.Type != MessagePublishedType)
            throw new MalformedDeliveryException(
                $"the CloudEvent's type is '{cloudEvent.Type}'; this function takes only {MessagePublishedType}");

        using var data = cloudEvent.Data switch
        {
            JsonElement element => JsonDocument.Parse(element.GetRawText()),
            byte[] bytes => Parse(bytes, "the CloudEvent's data"),
            string text => Parse(Encoding.UTF8.GetBytes(text), "the CloudEvent's data"),
            _ => throw new MalformedDeliveryException("the CloudEvent has no data; a messagePublished event carries the Pub/Sub message"),
        };
        // Eventarc's id and time are the Pub/Sub message's; they stand in when the data leaves them out.
        return Read(data.RootElement, format, cloudEvent.Id, cloudEvent.Time);
    }

    private static Delivery FromPushEnvelope(byte[] body)
    {
        using var document = Parse(body, "the request body");
        return Read(document.RootElement, DeliveryFormat.PubSubPush, fallbackId: null, fallbackTime: null);
    }

    private static JsonDocument Parse(byte[] utf8, string what)
    {
        try
        {
            return JsonDocument.Parse(utf8);
        }
        catch (JsonException e)
        {
            throw new MalformedDeliveryException($"{what} is not a Pub/Sub push envelope: it is not JSON ({e.Message})", e);
        }
    }

    private static Delivery Read(JsonElement envelope, DeliveryFormat format, string? fallbackId, DateTimeOffset? fallbackTime)
    {
        if (envelope.ValueKind != JsonValueKind.Object || !envelope.TryGetProperty("message", out var message) ||
            message.ValueKind != JsonValueKind.Object)
            throw new MalformedDeliveryException("not a Pub/Sub push envelope: expected a JSON object with a \"message\" object");

        var messageId = Text(message, "messageId", "message_id") ?? fallbackId;
        if (string.IsNullOrEmpty(messageId))
            throw new MalformedDeliveryException("the Pub/Sub message has no messageId");

        var publishTimeText = Text(message, "publishTime", "publish_time");
        DateTimeOffset publishTime;
        if (publishTimeText is not null)
        {
            if (!PubSubTimestamp.TryParse(publishTimeText, out publishTime))
                throw new MalformedDeliveryException($"the Pub/Sub message's publishTime '{publishTimeText}' is not an RFC 3339 timestamp");
        }
        else publishTime = fallbackTime ?? throw new MalformedDeliveryException("the Pub/Sub message has no publishTime");

        byte[] data = [];
        if (Text(message, "data") is { } base64)
        {
            try
            {
                data = Convert.FromBase64String(base64);
            }
            catch (FormatException e)
            {
                throw new MalformedDeliveryException("the Pub/Sub message's data is not base64", e);
            }
        }

        var attributes = new Dictionary<string, string>(StringComparer.Ordinal);
        if (message.TryGetProperty("attributes", out var attributesElement) && attributesElement.ValueKind != JsonValueKind.Null)
        {
            if (attributesElement.ValueKind != JsonValueKind.Object)
                throw new MalformedDeliveryException("the Pub/Sub message's attributes must be an object of strings");
            foreach (var attribute in attributesElement.EnumerateObject())
                attributes[attribute.Name] = attribute.Value.ValueKind == JsonValueKind.String
                    ? attribute.Value.GetString()!
                    : throw new MalformedDeliveryException($"the Pub/Sub message's attribute '{attribute.Name}' is not a string");
        }

        var subscription = envelope.TryGetProperty("subscription", out var s) && s.ValueKind == JsonValueKind.String ? s.GetString() : null;
        return new Delivery(new PipelineMessage(data, attributes, messageId, publishTime), format, subscription);
    }

    /// <summary>The first of the names present, as a string; a value of another JSON type is malformed.</summary>
    private static string? Text(JsonElement message, params string[] names)
    {
        foreach (var name in names)
        {
            if (!message.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null) continue;
            return value.ValueKind == JsonValueKind.String
                ? value.GetString()
                : throw new MalformedDeliveryException($"the Pub/Sub message's {name} must be a string, not {value.ValueKind.ToString().ToLowerInvariant()}");
        }
        return null;
    }
}
