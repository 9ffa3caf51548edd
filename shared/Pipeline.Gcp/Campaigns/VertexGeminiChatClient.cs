using System.Net;
using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.AI;

namespace Pipeline.Gcp;

/// <summary>
/// Vertex AI Gemini as a <see cref="IChatClient"/>, over the REST <c>generateContent</c> method of the regional (or
/// global) endpoint with Application Default Credentials. A JSON response format becomes
/// <c>responseMimeType: application/json</c> with the schema as <c>responseSchema</c> (Vertex's OpenAPI subset).
/// </summary>
public sealed class VertexGeminiChatClient(HttpClient http, IAccessTokenSource tokens, string projectId, string location, string model)
    : IChatClient
{
    private readonly ChatClientMetadata _metadata = new("vertex-ai", http.BaseAddress, model);

    /// <summary>The path of the model's generateContent method, relative to the endpoint.</summary>
    public string MethodPath(string? modelId = null) =>
        $"v1/projects/{Uri.EscapeDataString(projectId)}/locations/{Uri.EscapeDataString(location)}/publishers/google/models/{Uri.EscapeDataString(modelId ?? model)}:generateContent";

    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, MethodPath(options?.ModelId))
        {
            Content = new StringContent(RequestBody(messages, options).ToJsonString(), Encoding.UTF8, "application/json"),
        };
        var token = await tokens.GetAccessTokenAsync(cancellationToken);
        if (token is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);

        using var response = await http.SendAsync(request, cancellationToken);
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        if (!response.IsSuccessStatusCode) throw Failure(response.StatusCode, text, location, options?.ModelId ?? model);
        JsonNode body;
        try
        {
            body = JsonNode.Parse(text) ?? throw new JsonException("empty body");
        }
        catch (JsonException e)
        {
            throw new HttpRequestException($"Vertex AI returned a body that is not JSON: {e.Message}", e, response.StatusCode);
        }
        return ResponseFrom(body);
    }

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages,
        ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        // The campaign needs the whole answer anyway; one generateContent call, handed out as updates.
        var response = await GetResponseAsync(messages, options, cancellationToken);
        foreach (var update in response.ToChatResponseUpdates()) yield return update;
    }

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey is not null ? null
        : serviceType == typeof(ChatClientMetadata) ? _metadata
        : serviceType.IsInstanceOfType(this) ? this
        : null;

    public void Dispose() { }

    /// <summary>The <c>GenerateContentRequest</c>: system messages become <c>systemInstruction</c>, the assistant is "model".</summary>
    public static JsonObject RequestBody(IEnumerable<ChatMessage> messages, ChatOptions? options)
    {
        var system = new List<string>();
        if (!string.IsNullOrWhiteSpace(options?.Instructions)) system.Add(options.Instructions);
        var contents = new JsonArray();
        foreach (var message in messages)
        {
            if (message.Role == ChatRole.System)
            {
                system.Add(message.Text);
                continue;
            }
            contents.Add(new JsonObject
            {
                ["role"] = message.Role == ChatRole.Assistant ? "model" : "user",
                ["parts"] = new JsonArray(new JsonObject { ["text"] = message.Text }),
            });
        }

        var generation = new JsonObject();
        if (options?.Temperature is { } temperature) generation["temperature"] = temperature;
        if (options?.MaxOutputTokens is { } maxTokens) generation["maxOutputTokens"] = maxTokens;
        if (options?.TopP is { } topP) generation["topP"] = topP;
        if (options?.Seed is { } seed) generation["seed"] = seed;
        if (options?.AdditionalProperties?.GetValueOrDefault(GenerationSettings.ThinkingLevelKey) is string thinkingLevel)
            generation["thinkingConfig"] = new JsonObject { ["thinkingLevel"] = thinkingLevel };
        if (options?.ResponseFormat is ChatResponseFormatJson json)
        {
            generation["responseMimeType"] = "application/json";
            if (json.Schema is { } schema) generation["responseSchema"] = ToVertexSchema(schema);
        }

        var body = new JsonObject { ["contents"] = contents, ["generationConfig"] = generation };
        if (system.Count > 0)
            body["systemInstruction"] = new JsonObject { ["parts"] = new JsonArray(new JsonObject { ["text"] = string.Join("\n\n", system) }) };
        return body;
    }

    /// <summary>
    /// JSON Schema to Vertex's <c>Schema</c> (an OpenAPI 3.0 subset): upper-case types, <c>nullable</c> instead of a
    /// "null" type, and only the keywords it knows.
    /// </summary>
    public static JsonObject ToVertexSchema(JsonElement schema)
    {
        var result = new JsonObject();
        foreach (var property in schema.EnumerateObject())
        {
            switch (property.Name)
            {
                case "type" when property.Value.ValueKind == JsonValueKind.String:
                    result["type"] = property.Value.GetString()!.ToUpperInvariant();
                    break;
                case "type" when property.Value.ValueKind == JsonValueKind.Array:
                    var types = property.Value.EnumerateArray().Select(t => t.GetString()!).ToList();
                    result["type"] = types.First(t => t != "null").ToUpperInvariant();
                    if (types.Contains("null")) result["nullable"] = true;
                    break;
                case "properties":
                    var properties = new JsonObject();
                    foreach (var p in property.Value.EnumerateObject()) properties[p.Name] = ToVertexSchema(p.Value);
                    result["properties"] = properties;
                    result["propertyOrdering"] = new JsonArray(property.Value.EnumerateObject().Select(p => (JsonNode)JsonValue.Create(p.Name)).ToArray());
                    break;
                case "items":
                    result["items"] = ToVertexSchema(property.Value);
                    break;
                case "required" or "enum" or "description" or "minItems" or "maxItems" or "minimum" or "maximum" or "format" or "minLength" or "maxLength":
                    result[property.Name] = JsonNode.Parse(property.Value.GetRawText());
                    break;
            }
        }
        return result;
    }

    /// <summary>Reads a <c>GenerateContentResponse</c>: the first candidate's text, why it stopped, usage, model version.</summary>
    public static ChatResponse ResponseFrom(JsonNode body)
    {
        var candidate = (body["candidates"] as JsonArray)?.FirstOrDefault();
        var text = string.Concat((candidate?["content"]?["parts"] as JsonArray ?? [])
            .Where(p => (bool?)p?["thought"] != true)
            .Select(p => (string?)p?["text"] ?? ""));
        var finish = (string?)candidate?["finishReason"];
        var blockReason = (string?)body["promptFeedback"]?["blockReason"];

        var response = new ChatResponse(new ChatMessage(ChatRole.Assistant, text))
        {
            ModelId = (string?)body["modelVersion"],
            ResponseId = (string?)body["responseId"],
            FinishReason = finish switch
            {
                "STOP" => ChatFinishReason.Stop,
                "MAX_TOKENS" => ChatFinishReason.Length,
                "SAFETY" or "RECITATION" or "BLOCKLIST" or "PROHIBITED_CONTENT" or "SPII" or "IMAGE_SAFETY" or "MODEL_ARMOR" => ChatFinishReason.ContentFilter,
                null when blockReason is not null => ChatFinishReason.ContentFilter,
                null => null,
                _ => new ChatFinishReason(finish),
            },
            RawRepresentation = body,
        };
        if (finish is not null || blockReason is not null)
        {
            response.AdditionalProperties ??= [];
            if (finish is not null) response.AdditionalProperties["finish_reason"] = finish;
            if (blockReason is not null) response.AdditionalProperties["block_reason"] = blockReason;
        }
        if (body["usageMetadata"] is JsonObject usage)
            response.Usage = new UsageDetails
            {
                InputTokenCount = (long?)usage["promptTokenCount"],
                OutputTokenCount = (long?)usage["candidatesTokenCount"],
                TotalTokenCount = (long?)usage["totalTokenCount"],
            };
        return response;
    }

    private static HttpRequestException Failure(HttpStatusCode status, string text, string location, string modelId)
    {
        string? message = null;
        try
        {
            var error = JsonNode.Parse(text)?["error"];
            message = error is null ? null : $"{(string?)error["status"]}: {(string?)error["message"]}";
        }
        catch (JsonException)
        {
            // not JSON: report the status alone
        }
        // A 404 is nearly always a model not offered at this location: say what to change.
        var hint = status == HttpStatusCode.NotFound
            ? $" (is {modelId} offered at location '{location}'? Gcp__VertexLocation=global serves current Gemini models)"
            : "";
        return new HttpRequestException($"Vertex AI answered {(int)status} {message ?? status.ToString()}{hint}", null, status);
    }
}
