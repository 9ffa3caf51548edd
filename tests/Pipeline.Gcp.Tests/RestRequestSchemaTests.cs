using System.Text.Json.Nodes;
using Microsoft.Extensions.AI;
using Pipeline.Campaigns;
using Pipeline.Core;
using Pipeline.Hosting.PubSub;
using WireMock.RequestBuilders;
using WireMock.ResponseBuilders;

namespace Pipeline.Gcp.Tests;

/// <summary>
/// Every REST call the backend makes sends what the API's published discovery schema allows (Schemas/README.md):
/// BigQuery jobs.insert for every statement of a run, jobs.get and jobs.getQueryResults parameters, Pub/Sub publish
/// (with names that need escaping in the path), and Vertex AI generateContent.
/// </summary>
public sealed class RestRequestSchemaTests : IDisposable
{
    private static readonly DiscoverySchema BigQuery = DiscoverySchema.Load("bigquery-v2.json");
    private static readonly DiscoverySchema PubSub = DiscoverySchema.Load("pubsub-v1.json");
    private static readonly DiscoverySchema Vertex = DiscoverySchema.Load("aiplatform-v1.json");

    private readonly FakeBigQuery _bigQuery = new();

    [Fact]
    public async Task Every_jobs_insert_body_of_a_run_validates_against_the_Job_schema()
    {
        _bigQuery.WithJobsThatSucceed();
        var client = _bigQuery.CreateClient();
        foreach (var k in new int?[] { 5, null })
        {
            var plan = new SqlPlan(FakeBigQuery.Options(), TestRuns.Parameters(k: k));
            foreach (var statement in plan.All(30_000).Where(s => s.Parameters.All(p => p.DeferredUntil is null)))
                await client.StartAsync(statement, CancellationToken.None);
        }
        await client.StartAsync(new SqlPlan(FakeBigQuery.Options(), TestRuns.Parameters()).Predictions(TestRuns.Model()), CancellationToken.None);

        var inserts = _bigQuery.Server.LogEntries.Where(e => e.RequestMessage.Method == "POST").ToList();
        Assert.True(inserts.Count > 20, $"only {inserts.Count} statements were sent");
        Assert.All(inserts, e => Assert.Empty(BigQuery.ValidateRequest("bigquery.jobs.insert", e.RequestMessage.Body!)));
    }

    [Fact]
    public async Task Polling_and_paging_send_only_documented_query_parameters()
    {
        _bigQuery.WithJobsThatSucceed().WithResults(Stages.RenderChart, "chart_sample", "BigQuery/results-chart-sample.json");
        var client = _bigQuery.CreateClient();
        var job = await client.StartAsync(new SqlPlan(FakeBigQuery.Options(), TestRuns.Parameters()).ChartSample(30_000), CancellationToken.None);

        await client.WaitAsync(job, TimeSpan.FromSeconds(5), CancellationToken.None);
        await foreach (var _ in client.ReadAsync(job, CancellationToken.None)) { }

        var gets = _bigQuery.Server.LogEntries.Where(e => e.RequestMessage.Method == "GET").ToList();
        Assert.Contains(gets, e => e.RequestMessage.AbsolutePath.StartsWith(FakeBigQuery.QueriesPath, StringComparison.Ordinal));
        Assert.Contains(gets, e => e.RequestMessage.AbsolutePath.StartsWith(FakeBigQuery.JobsPath, StringComparison.Ordinal));
        Assert.All(gets, e => Assert.Empty(BigQuery.ValidateQuery(
            e.RequestMessage.AbsolutePath.StartsWith(FakeBigQuery.QueriesPath, StringComparison.Ordinal) ? "bigquery.jobs.getQueryResults" : "bigquery.jobs.get",
            e.RequestMessage.Query!)));
    }

    [Theory]
    [InlineData("bigquery-v2.json")]
    [InlineData("pubsub-v1.json")]
    [InlineData("aiplatform-v1.json")]
    [InlineData("storage-v1.json")]
    public void Every_copied_subset_holds_or_names_each_schema_it_references(string file) =>
        Assert.Empty(DiscoverySchema.Load(file).UnaccountedReferences());

    [Fact]
    public void The_validator_rejects_what_the_API_would()
    {
        var problems = BigQuery.ValidateRequest("bigquery.jobs.insert", """
            {"jobReference": {"jobId": "j", "projectid": "p"},
             "status": {"state": "DONE"},
             "configuration": {"query": {"query": "SELECT 1", "useLegacySql": "false", "maximumBytesBilled": "ten"}}}
            """);

        Assert.Contains("$.jobReference.projectid: unknown property", problems);
        Assert.Contains("$.status: is output only (readOnly) and must not be sent", problems);
        Assert.Contains(problems, p => p.StartsWith("$.configuration.query.useLegacySql: expected a boolean", StringComparison.Ordinal));
        Assert.Contains("$.configuration.query.maximumBytesBilled: 'ten' is not an int64 in decimal", problems);
        Assert.Contains(Vertex.ValidateRequest("aiplatform.projects.locations.publishers.models.generateContent",
                """{"generationConfig": {"thinkingConfig": {"thinkingLevel": "SOMEWHAT"}}}"""),
            p => p.Contains("'SOMEWHAT' is not one of", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_publish_body_validates_and_topic_names_are_escaped_in_the_path()
    {
        _bigQuery.Server.Given(Request.Create().UsingPost())
            .RespondWith(Response.Create().WithStatusCode(200).WithHeader("Content-Type", "application/json").WithBody("""{"messageIds": ["1"]}"""));
        using var publisher = new PubSubRestPublisher(
            new PubSubOptions { EmulatorHost = new Uri(_bigQuery.Server.Url!).Authority, ProjectId = "my-project" }, "seg+a%");

        await publisher.PublishAsync(Topics.StatsReady, "{\"run_id\":\"r\"}"u8.ToArray(),
            new Dictionary<string, string> { ["run_id"] = "r", ["stage"] = Stages.BuildStats }, CancellationToken.None);

        var request = Assert.Single(_bigQuery.Server.LogEntries).RequestMessage;
        // '%' must be escaped in a path; '+' is a literal plus there (RFC 3986), and .NET's Uri sends it unescaped.
        Assert.EndsWith("/v1/projects/my-project/topics/seg+a%25stats-ready:publish", request.Url.Replace("%2B", "+", StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.Null(PubSub.ValidatePathParameter("pubsub.projects.topics.publish", "topic", "projects/my-project/topics/seg+a%stats-ready"));
        Assert.Empty(PubSub.ValidateRequest("pubsub.projects.topics.publish", request.Body!));
        // The server sets these two; the discovery document says so in prose, not with readOnly.
        var message = JsonNode.Parse(request.Body!)!["messages"]![0]!.AsObject();
        Assert.False(message.ContainsKey("messageId") || message.ContainsKey("publishTime"));
    }

    [Fact]
    public async Task A_generateContent_body_validates_for_Gemini_3_and_for_a_configured_temperature()
    {
        _bigQuery.Server.Given(Request.Create().UsingPost())
            .RespondWith(FakeBigQuery.Json(200, "VertexAI/generate-content-good.json"));
        var chat = new VertexGeminiChatClient(new HttpClient { BaseAddress = new Uri($"{_bigQuery.Server.Url}/") }, new FixedToken(),
            "my-project", "global", "gemini-3.5-flash");
        var request = new CampaignRequest("run-1", CampaignWriterTests.Table, CampaignPrompt.Build(CampaignWriterTests.Table));

        await new ChatCampaignWriter(chat, "vertex", "gemini-3.5-flash", new CampaignOptions()).WriteAsync(request, CancellationToken.None);
        await new ChatCampaignWriter(chat, "vertex", "gemini-3.5-flash", new CampaignOptions { Temperature = 0.2f }).WriteAsync(request, CancellationToken.None);

        var bodies = _bigQuery.Server.LogEntries.Select(e => e.RequestMessage.Body!).ToList();
        Assert.Equal(2, bodies.Count);
        Assert.All(bodies, b => Assert.Empty(Vertex.ValidateRequest("aiplatform.projects.locations.publishers.models.generateContent", b)));
        var path = _bigQuery.Server.LogEntries[0].RequestMessage.AbsolutePath;
        Assert.Equal("/v1/projects/my-project/locations/global/publishers/google/models/gemini-3.5-flash:generateContent", path);
        Assert.Null(Vertex.ValidatePathParameter("aiplatform.projects.locations.publishers.models.generateContent", "model",
            path["/v1/".Length..^":generateContent".Length]));
        Assert.Equal(0.2, (double)JsonNode.Parse(bodies[1])!["generationConfig"]!["temperature"]!, 5);
    }

    public void Dispose() => _bigQuery.Dispose();
}
