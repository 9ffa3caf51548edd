using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization.Metadata;
using Pipeline.Campaigns;
using Pipeline.Core;
using Pipeline.Embedded.SampleData;
using Pipeline.Runner;

namespace Pipeline.Tests.Contracts;

/// <summary>
/// The pipeline's JSON comes from generated metadata (<c>PipelineJsonContext</c>): every document and message of real
/// runs must read and write to the same bytes as the reflection-based serializer it replaced, and a bad message must
/// fail with the same words.
/// </summary>
public sealed class PipelineJsonTests : IAsyncLifetime, IDisposable
{
    private readonly TempDirectory _directory = new();
    private readonly List<(string Topic, PipelineMessage Message)> _published = [];

    private string Bucket => _directory.File("bucket");

    /// <summary>The same dialect with reflection-based metadata only: what every document was written with before.</summary>
    private static JsonSerializerOptions ByReflection(JsonSerializerOptions options) =>
        new(options) { TypeInfoResolver = new DefaultJsonTypeInfoResolver() };

    public async Task InitializeAsync()
    {
        var input = _directory.File("order_items.parquet");
        var sample = new SampleOptions(Users: 2_000, Items: null, Seed: 5, EndDate: new DateOnly(2026, 1, 1));
        await OrderItemsSample.WriteAsync(input, sample, null, CancellationToken.None);
        var (users, products) = ProfileTablesSample.PathsBeside(input);
        await ProfileTablesSample.WriteAsync(users, products, 2_000, sample, CancellationToken.None);

        await using var pipeline = LocalPipeline.Create(Bucket, input, settings: new Dictionary<string, string?>
        {
            ["Embedded:Users"] = users,
            ["Embedded:Products"] = products,
        });
        // A completed run, a second one compared with it (migration, history, the gate's comparisons; held or not),
        // and a failed one (the error and run-failed).
        await pipeline.RunAsync(Trigger("first", "2024-01-01", "2025-01-01"), CancellationToken.None);
        await pipeline.RunAsync(Trigger("second", "2025-01-01", "2026-01-01"), CancellationToken.None);
        await pipeline.RunAsync(Trigger("broken", "2026-01-01", "2025-01-01"), CancellationToken.None);
        _published.AddRange(pipeline.Bus.Published);
    }

    private static JsonObject Trigger(string runId, string start, string end) =>
        new() { ["run_id"] = runId, ["window_start"] = start, ["window_end"] = end, ["k"] = 4, ["seed"] = 42 };

    public Task DisposeAsync() => Task.CompletedTask;

    public void Dispose() => _directory.Dispose();

    public static TheoryData<string, Type> Documents() => new()
    {
        { "latest.json", typeof(LatestRun) },
        { "history.json", typeof(RunHistory) },
        { BucketLayout.Manifest("first"), typeof(RunManifest) },
        { BucketLayout.Manifest("second"), typeof(RunManifest) },
        { BucketLayout.Manifest("broken"), typeof(RunManifest) },
        { BucketLayout.Model("second"), typeof(SegmentModel) },
        { BucketLayout.Profiles("second"), typeof(ProfilesDocument) },
        { BucketLayout.MigrationJson("second"), typeof(SegmentMigration) },
        { BucketLayout.CampaignJson("second"), typeof(CampaignDocument) },
    };

    [Theory]
    [MemberData(nameof(Documents))]
    public void A_document_reads_and_writes_to_the_same_bytes_as_by_reflection(string objectName, Type type)
    {
        var written = File.ReadAllBytes(Path.Combine(Bucket, objectName));
        var reflection = ByReflection(PipelineJson.Indented);

        var generated = JsonSerializer.Deserialize(written, type, PipelineJson.Indented)!;
        Assert.Equal(written, JsonSerializer.SerializeToUtf8Bytes(generated, type, reflection));
        var reflected = JsonSerializer.Deserialize(written, type, reflection)!;
        Assert.Equal(written, PipelineJson.Serialize(reflected, indented: true));
    }

    [Fact]
    public void Every_message_of_the_chain_reads_and_writes_to_the_same_bytes_as_by_reflection()
    {
        var types = new Dictionary<string, Type>
        {
            [Topics.StatsReady] = typeof(StatsReady),
            [Topics.ModelTrained] = typeof(ModelTrained),
            [Topics.PredictionsReady] = typeof(PredictionsReady),
            [Topics.ChartRendered] = typeof(ChartRendered),
            [Topics.RunCompleted] = typeof(RunCompleted),
            [Topics.RunFailed] = typeof(RunFailed),
        };
        var messages = _published.Where(p => types.ContainsKey(p.Topic)).ToList();
        Assert.Equal(types.Keys.Order(), messages.Select(p => p.Topic).Distinct().Order());

        var reflection = ByReflection(PipelineJson.Options);
        foreach (var (topic, message) in messages)
        {
            var body = message.Data.ToArray();
            Assert.Equal(body, JsonSerializer.SerializeToUtf8Bytes(JsonSerializer.Deserialize(body, types[topic], PipelineJson.Options), types[topic], reflection));
            Assert.Equal(body, PipelineJson.Serialize(JsonSerializer.Deserialize(body, types[topic], reflection)));
        }
    }

    [Theory]
    [InlineData("""{"run_id":"r1","parameters":null,"stats_object":"s","customers":1,"extra":1}""")]
    [InlineData("""{"run_id":"r1","stats_object":"s","customers":1}""")]
    [InlineData("""{"run_id":"r1","parameters":{"run_id":"r1","window_start":"2025-01-01","window_end":"2026-01-01","as_of":"2026-01-01","k":"five","metrics":"rfm","seed":1,"test_fraction":0.2},"stats_object":"s","customers":1}""")]
    [InlineData("""{"run_id":"r1","parameters":{"run_id":"r1","window_start":"2025-01-01","window_end":"2026-01-01","as_of":"2026-01-01","k":5,"metrics":"median","seed":1,"test_fraction":0.2},"stats_object":"s","customers":1}""")]
    [InlineData("""{"run_id":null,"parameters":{"run_id":"r1","window_start":"2025-01-01","window_end":"2026-01-01","as_of":"2026-01-01","k":5,"metrics":"rfm","seed":1,"test_fraction":0.2},"stats_object":"s","customers":"1"}""")]
    public void A_bad_message_fails_with_the_same_words_as_by_reflection(string body)
    {
        var generated = Assert.ThrowsAny<Exception>(() => JsonSerializer.Deserialize<StatsReady>(body, PipelineJson.Options));
        var reflected = Assert.ThrowsAny<Exception>(() => JsonSerializer.Deserialize<StatsReady>(body, ByReflection(PipelineJson.Options)));
        Assert.Equal(reflected.GetType(), generated.GetType());
        Assert.Equal(reflected.Message, generated.Message);
    }
}
