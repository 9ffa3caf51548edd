using System.Text.Json;
using Microsoft.Extensions.AI;
using Pipeline.Campaigns;

namespace Pipeline.Gcp;

/// <summary>An LLM answer that cannot be used: blocked, cut off, not the JSON asked for, or failing validation.</summary>
public sealed class CampaignAnswerException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Writes the campaign with an LLM through <see cref="IChatClient"/> (the lab's text-bison step): the lab's prompt
/// with the centroid table, the model family's generation settings (<see cref="GenerationSettings"/>), and a JSON
/// response schema (per segment: centroid_id, title, persona, next_marketing_step). It reads the answer;
/// <see cref="ValidatingCampaignWriter"/> judges it.
/// </summary>
public sealed class ChatCampaignWriter(IChatClient chat, string writer, string model, CampaignOptions options) : ICampaignWriter
{
    /// <summary>What the model is told besides the lab's prompt: the answer's shape and the rule about numbers.</summary>
    public const string Instructions =
        "You write marketing segment descriptions for Cymbal Superstore. Answer with JSON only, matching the schema: one entry " +
        "in \"segments\" for every cluster in the table, with centroid_id set to the cluster's number, a short creative title, " +
        "a persona of two or three sentences, and the next marketing step. Quote no numbers except values from the table " +
        "(rounded as shown); do not invent percentages, discounts, prices or durations.";

    /// <summary>The JSON schema of the answer (strict: every field required, no others).</summary>
    public static JsonElement Schema { get; } = JsonDocument.Parse("""
        {
          "type": "object",
          "properties": {
            "segments": {
              "type": "array",
              "description": "one entry per cluster of the table",
              "items": {
                "type": "object",
                "properties": {
                  "centroid_id": { "type": "integer", "description": "the cluster number from the table" },
                  "title": { "type": "string", "description": "a short, creative title for the segment" },
                  "persona": { "type": "string", "description": "the brand persona of the segment's customers" },
                  "next_marketing_step": { "type": "string", "description": "the next marketing step for the segment" }
                },
                "required": ["centroid_id", "title", "persona", "next_marketing_step"],
                "additionalProperties": false
              }
            }
          },
          "required": ["segments"],
          "additionalProperties": false
        }
        """).RootElement.Clone();

    public string Writer => writer;
    public string Model => model;

    public async Task<CampaignDraft> WriteAsync(CampaignRequest request, CancellationToken cancellationToken)
    {
        var settings = GenerationSettings.For(writer, model, options.Temperature);
        var chatOptions = new ChatOptions
        {
            ModelId = model,
            Temperature = settings.Temperature,
            MaxOutputTokens = 8192,
            ResponseFormat = ChatResponseFormat.ForJsonSchema(Schema, "campaign", "Per segment: a title, a persona and the next marketing step"),
        };
        if (settings.ThinkingLevel is { } level)
            chatOptions.AdditionalProperties = new AdditionalPropertiesDictionary { [GenerationSettings.ThinkingLevelKey] = level };
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(options.TimeoutSeconds));

        ChatResponse response;
        try
        {
            response = await chat.GetResponseAsync(
                Messages(request),
                chatOptions, timeout.Token);
        }
        catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw new CampaignAnswerException($"no answer within {options.TimeoutSeconds} s", e);
        }

        if (response.FinishReason == ChatFinishReason.ContentFilter)
        {
            var why = response.AdditionalProperties?.GetValueOrDefault("block_reason")
                ?? response.AdditionalProperties?.GetValueOrDefault("finish_reason") ?? "content filter";
            throw new CampaignAnswerException($"the answer was blocked by the model's safety filters ({why})");
        }
        if (response.FinishReason == ChatFinishReason.Length)
            throw new CampaignAnswerException("the answer was cut off at the output token limit");

        return new CampaignDraft(writer, response.ModelId ?? model, Parse(response.Text), [], Instructions);
    }

    /// <summary>
    /// The conversation: the instructions, the lab's prompt exactly as it is, and — each as a message of its own, so the
    /// prompt stays the lab's — who each segment's customers are and the segments' movement since the previous run.
    /// </summary>
    public static IList<ChatMessage> Messages(CampaignRequest request)
    {
        List<ChatMessage> messages = [new(ChatRole.System, Instructions), new(ChatRole.User, request.Prompt)];
        if (request.ProfileContext is { } context) messages.Add(new ChatMessage(ChatRole.User, context));
        if (request.MovementContext is { } movement) messages.Add(new ChatMessage(ChatRole.User, movement));
        return messages;
    }

    /// <summary>Reads the answer's JSON (tolerating a Markdown code fence around it) into segments.</summary>
    public static IReadOnlyList<CampaignSegment> Parse(string text)
    {
        var json = text.Trim();
        if (json.StartsWith("```", StringComparison.Ordinal))
        {
            var firstLine = json.IndexOf('\n', StringComparison.Ordinal);
            var fenceEnd = json.LastIndexOf("```", StringComparison.Ordinal);
            json = firstLine > 0 && fenceEnd > firstLine ? json[(firstLine + 1)..fenceEnd].Trim() : json;
        }
        if (json.Length == 0) throw new CampaignAnswerException("the answer is empty");

        try
        {
            using var document = JsonDocument.Parse(json);
            if (!document.RootElement.TryGetProperty("segments", out var segments) || segments.ValueKind != JsonValueKind.Array)
                throw new CampaignAnswerException("the answer has no \"segments\" array");
            return segments.EnumerateArray().Select((s, i) =>
            {
                if (s.ValueKind != JsonValueKind.Object) throw new CampaignAnswerException($"segment {i + 1} is not an object");
                if (!s.TryGetProperty("centroid_id", out var id) || !id.TryGetInt32(out var centroidId))
                    throw new CampaignAnswerException($"segment {i + 1} has no whole-number centroid_id");
                string Text(string name) => s.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString()!.Trim() : "";
                return new CampaignSegment(centroidId, Text("title"), Text("persona"), Text("next_marketing_step"));
            }).ToList();
        }
        catch (JsonException e)
        {
            throw new CampaignAnswerException($"the answer is not valid JSON: {e.Message}", e);
        }
    }
}
