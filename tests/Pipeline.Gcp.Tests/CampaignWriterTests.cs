using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging.Abstractions;
using Pipeline.Analytics;
using Pipeline.Campaigns;
using Pipeline.Core;
using WireMock.RequestBuilders;
using WireMock.ResponseBuilders;
using WireMock.Server;

namespace Pipeline.Gcp.Tests;

/// <summary>
/// The LLM campaign writers through Microsoft.Extensions.AI against WireMock: Vertex AI generateContent answers
/// (good, malformed JSON, finishReason SAFETY, a timeout, a 429) and an OpenAI-compatible chat completion; an
/// answer that fails is asked for once more, then the offline writer's text is used and the notes say why.
/// </summary>
public sealed class CampaignWriterTests : IDisposable
{
    private const string GenerateContent = "/v1/projects/my-project/locations/us-central1/publishers/google/models/gemini-3.5-flash:generateContent";
    private readonly WireMockServer _server = WireMockServer.Start();

    internal static IReadOnlyList<CentroidSummaryRow> Table { get; } =
    [
        new(1, SegmentCatalog.Champions, 150.50, 3.2, 30.5, 120, 0.15, new RfmScore(5, 5, 4)),
        new(2, SegmentCatalog.AtRisk, 45.25, 1.1, 250.3, 300, 0.375, new RfmScore(1, 3, 2)),
        new(3, SegmentCatalog.BigSpenders, 310.00, 1.6, 120.0, 380, 0.475, new RfmScore(3, 3, 5)),
    ];

    private static CampaignRequest Request() => new("run-1", Table, CampaignPrompt.Build(Table));

    private ValidatingCampaignWriter VertexWriter(int timeoutSeconds = 30)
    {
        var chat = new VertexGeminiChatClient(new HttpClient { BaseAddress = new Uri($"{_server.Url}/") }, new FixedToken(),
            "my-project", "us-central1", "gemini-3.5-flash");
        var options = new CampaignOptions { Writer = CampaignWriterKind.Vertex, TimeoutSeconds = timeoutSeconds };
        return new ValidatingCampaignWriter(new ChatCampaignWriter(chat, "vertex", options.Model, options), new OfflineCampaignWriter(),
            NullLogger<ValidatingCampaignWriter>.Instance);
    }

    private void Gemini(int status, string payload, string? scenarioState = null, string? nextState = null, TimeSpan? delay = null)
    {
        var mapping = _server.Given(WireMock.RequestBuilders.Request.Create().WithPath(GenerateContent).UsingPost());
        if (scenarioState is not null || nextState is not null)
        {
            mapping = mapping.InScenario("answers");
            if (scenarioState is not null) mapping = mapping.WhenStateIs(scenarioState);
            if (nextState is not null) mapping = mapping.WillSetStateTo(nextState);
        }
        var response = Response.Create().WithStatusCode(status).WithHeader("Content-Type", "application/json; charset=UTF-8")
            .WithBody(Payload.Text(payload));
        if (delay is { } d) response = response.WithDelay(d);
        mapping.RespondWith(response);
    }

    private int GeminiCalls => _server.LogEntries.Count(e => e.RequestMessage.AbsolutePath == GenerateContent);

    [Fact]
    public async Task A_good_Gemini_answer_is_used_as_written()
    {
        Gemini(200, "VertexAI/generate-content-good.json");

        var draft = await VertexWriter().WriteAsync(Request(), CancellationToken.None);

        Assert.Equal("vertex", draft.Writer);
        Assert.Equal("gemini-3.5-flash", draft.Model);
        Assert.Empty(draft.Notes);
        Assert.Equal([1, 2, 3], draft.Segments.Select(s => s.CentroidId));
        Assert.Equal("The Devoted Regulars", draft.Segments[0].Title);
        Assert.Equal(ChatCampaignWriter.Instructions, draft.WriterInstructions); // saved beside the lab's prompt, not in it
        Assert.Equal(1, GeminiCalls);
    }

    [Fact]
    public async Task The_request_carries_the_labs_prompt_temperature_0_4_and_the_response_schema()
    {
        Gemini(200, "VertexAI/generate-content-good.json");

        await VertexWriter().WriteAsync(Request(), CancellationToken.None);

        var call = _server.LogEntries.Single().RequestMessage;
        Assert.Equal($"Bearer {FixedToken.Value}", call.Headers!["Authorization"].Single());
        var body = JsonNode.Parse(call.Body!)!;
        Assert.Equal("user", (string?)body["contents"]![0]!["role"]);
        Assert.Equal(CampaignPrompt.Build(Table), (string?)body["contents"]![0]!["parts"]![0]!["text"]);
        Assert.Contains(CampaignPrompt.Instruction, (string?)body["contents"]![0]!["parts"]![0]!["text"], StringComparison.Ordinal);
        Assert.Equal(ChatCampaignWriter.Instructions, (string?)body["systemInstruction"]!["parts"]![0]!["text"]);
        var generation = body["generationConfig"]!;
        Assert.Equal(0.4, (double)generation["temperature"]!, 6);
        Assert.Equal("application/json", (string?)generation["responseMimeType"]);
        var schema = generation["responseSchema"]!;
        Assert.Equal("OBJECT", (string?)schema["type"]);
        var segment = schema["properties"]!["segments"]!["items"]!;
        Assert.Equal("INTEGER", (string?)segment["properties"]!["centroid_id"]!["type"]);
        Assert.Equal("STRING", (string?)segment["properties"]!["next_marketing_step"]!["type"]);
        Assert.Equal(["centroid_id", "title", "persona", "next_marketing_step"], ((JsonArray)segment["required"]!).Select(r => (string?)r));
        Assert.Null(segment["additionalProperties"]); // not part of Vertex's schema subset
    }

    [Fact]
    public async Task Malformed_JSON_is_asked_for_again_and_the_second_answer_used()
    {
        Gemini(200, "VertexAI/generate-content-malformed.json", nextState: "retry");
        Gemini(200, "VertexAI/generate-content-good.json", scenarioState: "retry");

        var draft = await VertexWriter().WriteAsync(Request(), CancellationToken.None);

        Assert.Equal("vertex", draft.Writer);
        Assert.Equal(2, GeminiCalls);
        var note = Assert.Single(draft.Notes);
        Assert.StartsWith("The first vertex (gemini-3.5-flash) campaign answer was rejected (the answer is not valid JSON", note, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_answer_blocked_for_SAFETY_twice_falls_back_to_the_offline_writer_and_says_so()
    {
        Gemini(200, "VertexAI/generate-content-safety.json");

        var draft = await VertexWriter().WriteAsync(Request(), CancellationToken.None);

        Assert.Equal(OfflineCampaignWriter.Name, draft.Writer);
        Assert.Null(draft.Model);
        Assert.Equal(OfflineCampaignWriter.Write(Request()).Segments, draft.Segments);
        Assert.Equal(2, GeminiCalls);
        var note = Assert.Single(draft.Notes);
        Assert.Contains("blocked by the model's safety filters (SAFETY)", note, StringComparison.Ordinal);
        Assert.EndsWith("the offline writer's text is used.", note, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_answer_that_does_not_come_in_time_is_retried_once_then_the_offline_text_is_used()
    {
        Gemini(200, "VertexAI/generate-content-good.json", delay: TimeSpan.FromSeconds(5));

        var draft = await VertexWriter(timeoutSeconds: 1).WriteAsync(Request(), CancellationToken.None);

        Assert.Equal(OfflineCampaignWriter.Name, draft.Writer);
        Assert.Contains("no answer within 1 s | no answer within 1 s", Assert.Single(draft.Notes), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_429_is_retried_once_then_the_offline_text_is_used()
    {
        Gemini(429, "VertexAI/error-429.json");

        var draft = await VertexWriter().WriteAsync(Request(), CancellationToken.None);

        Assert.Equal(OfflineCampaignWriter.Name, draft.Writer);
        Assert.Equal(2, GeminiCalls);
        Assert.Contains("429 RESOURCE_EXHAUSTED", Assert.Single(draft.Notes), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_OpenAI_compatible_endpoint_answers_through_the_same_writer()
    {
        _server.Given(WireMock.RequestBuilders.Request.Create().WithPath("/v1/chat/completions").UsingPost())
            .RespondWith(Response.Create().WithStatusCode(200).WithHeader("Content-Type", "application/json")
                .WithBody(Payload.Text("OpenAI/chat-completion-good.json")));
        var options = new CampaignOptions { Writer = CampaignWriterKind.OpenAI, Endpoint = $"{_server.Url}/v1", Model = "llama3.1:8b" };
        var writer = new ValidatingCampaignWriter(
            new ChatCampaignWriter(GcpRegistration.CreateOpenAIChatClient(options), "openai", options.Model, options),
            new OfflineCampaignWriter(), NullLogger<ValidatingCampaignWriter>.Instance);

        var draft = await writer.WriteAsync(Request(), CancellationToken.None);

        Assert.Equal(("openai", "llama3.1:8b"), (draft.Writer, draft.Model));
        Assert.Equal("The Occasional Splurgers", draft.Segments[2].Title);
        Assert.Empty(draft.Notes);
        var body = JsonNode.Parse(_server.LogEntries.Single().RequestMessage.Body!)!;
        Assert.Equal("llama3.1:8b", (string?)body["model"]);
        Assert.Equal(0.4, (double)body["temperature"]!, 6);
        Assert.Equal("json_schema", (string?)body["response_format"]!["type"]);
        Assert.Equal("system", (string?)body["messages"]![0]!["role"]);
    }

    public void Dispose() => _server.Stop();
}

/// <summary>What makes an LLM's campaign acceptable.</summary>
public sealed class CampaignAnswerValidatorTests
{
    private static CampaignSegment Segment(int id, string persona = "Loyal buyers.", string step = "Invite them to the VIP tier.") =>
        new(id, $"Title {id}", persona, step);

    [Fact]
    public void The_documented_good_answer_passes()
    {
        var text = (string)JsonNode.Parse(Payload.Text("VertexAI/generate-content-good.json"))!["candidates"]![0]!["content"]!["parts"]![0]!["text"]!;

        Assert.Empty(CampaignAnswerValidator.Problems(ChatCampaignWriter.Parse(text), CampaignWriterTests.Table));
    }

    [Fact]
    public void Numbers_from_the_table_pass_in_any_sensible_rounding()
    {
        var segments = new[]
        {
            Segment(1, "They spend $150.50 ($151, about $150) per order, 3.2 orders each, 15% of customers, 120 people."),
            Segment(2, "Last seen 250 days ago, 1.1 orders, $45.25; some 300 customers (37.5%)."),
            Segment(3, "About 400 customers spending $310.00 per order; 1.6 orders; 120 days."),
        };

        Assert.Empty(CampaignAnswerValidator.Problems(segments, CampaignWriterTests.Table));
    }

    [Fact]
    public void An_invented_number_is_named()
    {
        var segments = new[] { Segment(1, step: "Offer a 20% discount for 14 days."), Segment(2), Segment(3) };

        var problems = CampaignAnswerValidator.Problems(segments, CampaignWriterTests.Table);

        Assert.Equal(
            ["segment 1's next_marketing_step quotes 20, which is not in the centroid table",
             "segment 1's next_marketing_step quotes 14, which is not in the centroid table"],
            problems);
    }

    [Fact]
    public void Every_segment_once_and_no_empty_field()
    {
        var segments = new[] { Segment(1), Segment(1), Segment(4), new CampaignSegment(2, "", "Persona.", "Step.") };

        var problems = CampaignAnswerValidator.Problems(segments, CampaignWriterTests.Table);

        Assert.Contains("segment 1 appears 2 times", problems);
        Assert.Contains("segment 4 is not in the centroid table", problems);
        Assert.Contains("segment 3 missing", problems);
        Assert.Contains("segment 2 has an empty title", problems);
    }

    [Theory]
    [InlineData("```json\n{\"segments\": []}\n```")]
    [InlineData("{\"segments\": []}")]
    public void A_code_fence_around_the_JSON_is_tolerated(string text) => Assert.Empty(ChatCampaignWriter.Parse(text));

    [Theory]
    [InlineData("", "the answer is empty")]
    [InlineData("{\"clusters\": []}", "the answer has no \"segments\" array")]
    [InlineData("{\"segments\": [{\"title\": \"x\"}]}", "segment 1 has no whole-number centroid_id")]
    public void An_unusable_answer_says_why(string text, string reason) =>
        Assert.Equal(reason, Assert.Throws<CampaignAnswerException>(() => ChatCampaignWriter.Parse(text)).Message);
}
