using System.Text.Json;
using Pipeline.Core;

namespace Pipeline.Emulator.Tests.Support;

/// <summary>A Pub/Sub push body for a message, shaped as the emulator sends it (camelCase and snake_case keys).</summary>
internal static class PushEnvelope
{
    public static string For(PipelineMessage message, string subscription)
    {
        var publishTime = message.PublishTime.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", System.Globalization.CultureInfo.InvariantCulture);
        return JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["subscription"] = subscription,
            ["message"] = new Dictionary<string, object>
            {
                ["data"] = Convert.ToBase64String(message.Data.Span),
                ["attributes"] = message.Attributes,
                ["messageId"] = message.MessageId,
                ["message_id"] = message.MessageId,
                ["publishTime"] = publishTime,
                ["publish_time"] = publishTime,
            },
        });
    }
}
