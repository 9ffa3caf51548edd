using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Pipeline.Core;
using WireMock.Matchers;
using WireMock.RequestBuilders;
using WireMock.ResponseBuilders;
using WireMock.Server;

namespace Pipeline.Gcp.Tests;

/// <summary>
/// The Cloud Storage bucket through Google.Cloud.Storage.V1 against WireMock at an emulator-style endpoint, answering
/// as the JSON API documents: object metadata, media download, resumable upload, 404 and 412.
/// </summary>
public sealed class GcsBucketTests : IDisposable
{
    private const string Name = "runs/run-1/manifest.json";
    private const string ObjectPath = "^/storage/v1/b/my-bucket/o/runs(%2F|/)run-1(%2F|/)manifest\\.json$";
    private readonly WireMockServer _server = WireMockServer.Start();

    private GcsBucket Bucket() => GcpRegistration.CreateBucket(new GcpOptions { Bucket = "my-bucket", StorageEndpoint = _server.Url });

    private static IResponseBuilder Json(int status, string payload) => FakeBigQuery.Json(status, payload);

    private void ObjectExists()
    {
        _server.Given(Request.Create().WithPath(new RegexMatcher(ObjectPath)).UsingGet().WithParam("alt", "media")).AtPriority(1)
            .RespondWith(Response.Create().WithStatusCode(200).WithHeader("Content-Type", "application/json")
                .WithHeader("x-goog-generation", "1764340800123456")
                .WithHeader("x-goog-hash", "crc32c=5v9jCw==,md5=" + System.Text.Json.Nodes.JsonNode.Parse(Payload.Text("CloudStorage/object-manifest.json"))!["md5Hash"])
                .WithBody(Payload.Text("CloudStorage/manifest-content.json")));
        _server.Given(Request.Create().WithPath(new RegexMatcher(ObjectPath)).UsingGet()).AtPriority(2)
            .RespondWith(Json(200, "CloudStorage/object-manifest.json"));
    }

    private void UploadAnswers(int status, string payload)
    {
        _server.Given(Request.Create().WithPath("/upload/storage/v1/b/my-bucket/o").UsingPost().WithParam("uploadType", "resumable"))
            .RespondWith(Response.Create().WithStatusCode(200).WithHeader("Location", $"{_server.Url}/upload/storage/v1/b/my-bucket/o?uploadType=resumable&upload_id=ADPycdu"));
        _server.Given(Request.Create().WithPath("/upload/storage/v1/b/my-bucket/o").UsingPut().WithParam("upload_id", "ADPycdu"))
            .RespondWith(Json(status, payload));
    }

    [Fact]
    public async Task Reads_the_content_with_the_generation_it_belongs_to()
    {
        ObjectExists();

        var stored = await Bucket().TryReadAsync(Name, CancellationToken.None);

        Assert.NotNull(stored);
        Assert.Equal("1764340800123456", stored.Generation);
        Assert.Equal(Payload.Text("CloudStorage/manifest-content.json"), System.Text.Encoding.UTF8.GetString(stored.Content));
        var download = _server.LogEntries.Single(e => e.RequestMessage.Query!.ContainsKey("alt"));
        Assert.Equal("1764340800123456", download.RequestMessage.Query!["generation"].Single());
    }

    [Fact]
    public async Task A_missing_object_reads_as_null()
    {
        _server.Given(Request.Create().WithPath(new RegexMatcher(ObjectPath)).UsingGet()).RespondWith(Json(404, "CloudStorage/error-404-not-found.json"));

        Assert.Null(await Bucket().TryReadAsync(Name, CancellationToken.None));
    }

    [Fact]
    public async Task A_conditional_write_sends_ifGenerationMatch_and_returns_the_new_generation()
    {
        UploadAnswers(200, "CloudStorage/object-manifest-written.json");

        var generation = await Bucket().WriteAsync(Name, "{}"u8.ToArray(), ContentTypes.Json, "1764340800123456", CancellationToken.None);

        Assert.Equal("1764340899000001", generation);
        var start = _server.LogEntries.First(e => e.RequestMessage.Method == "POST");
        Assert.Equal("1764340800123456", start.RequestMessage.Query!["ifGenerationMatch"].Single());
        Assert.Contains("\"name\":\"runs/run-1/manifest.json\"", start.RequestMessage.Body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_write_that_must_create_loses_the_race_with_412_as_a_concurrent_update()
    {
        _server.Given(Request.Create().WithPath("/upload/storage/v1/b/my-bucket/o").UsingPost())
            .RespondWith(Json(412, "CloudStorage/error-412-precondition.json"));

        var error = await Assert.ThrowsAsync<ConcurrentUpdateException>(() =>
            Bucket().WriteAsync(Name, "{}"u8.ToArray(), ContentTypes.Json, "0", CancellationToken.None));

        Assert.Equal(Name, error.ObjectName);
        Assert.Equal("0", _server.LogEntries.Single().RequestMessage.Query!["ifGenerationMatch"].Single());
    }

    [Fact]
    public async Task A_412_at_the_end_of_the_upload_is_a_concurrent_update_too()
    {
        UploadAnswers(412, "CloudStorage/error-412-precondition.json");

        await Assert.ThrowsAsync<ConcurrentUpdateException>(() =>
            Bucket().WriteAsync(Name, "{}"u8.ToArray(), ContentTypes.Json, "1764340800123456", CancellationToken.None));
    }

    [Fact]
    public async Task OpenLocal_downloads_to_a_temporary_file_that_disposing_removes()
    {
        ObjectExists();

        string path;
        using (var local = await Bucket().OpenLocalAsync(Name, CancellationToken.None))
        {
            path = local.Path;
            Assert.Equal(Payload.Text("CloudStorage/manifest-content.json"), await File.ReadAllTextAsync(path));
        }
        Assert.False(File.Exists(path));
    }

    [Fact]
    public async Task AddGcpBackend_honours_STORAGE_EMULATOR_HOST_and_sends_no_credentials_there()
    {
        ObjectExists();
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Gcp:ProjectId"] = "my-project",
            ["Gcp:Dataset"] = "segmentation",
            ["Gcp:Bucket"] = "my-bucket",
            ["STORAGE_EMULATOR_HOST"] = _server.Url!.Replace("http://", "", StringComparison.Ordinal),
        }).Build();
        using var provider = new ServiceCollection().AddLogging().AddGcpBackend(configuration).BuildServiceProvider();

        var bucket = provider.GetRequiredService<IBucket>();
        var stored = await bucket.TryReadAsync(Name, CancellationToken.None);

        Assert.Equal("gs://my-bucket/runs/run-1/manifest.json", bucket.Describe(Name));
        Assert.Equal("1764340800123456", stored!.Generation);
        Assert.All(_server.LogEntries, e => Assert.False(e.RequestMessage.Headers!.ContainsKey("Authorization")));
    }

    [Fact]
    public async Task Compose_asks_Cloud_Storage_to_concatenate_the_sources_into_the_destination_in_order()
    {
        const string composePath = "^/storage/v1/b/my-bucket/o/runs(%2F|/)run-1(%2F|/)audiences(%2F|/)champions\\.csv/compose$";
        _server.Given(Request.Create().WithPath(new RegexMatcher(composePath)).UsingPost())
            .RespondWith(Json(200, "CloudStorage/object-audience-composed.json"));
        string[] sources = ["runs/run-1/audiences/.parts/champions/compose/header.csv", "runs/run-1/audiences/.parts/champions/part-000000000000.csv",
            "runs/run-1/audiences/.parts/champions/part-000000000001.csv"];

        await Bucket().ComposeAsync(sources, "runs/run-1/audiences/champions.csv", ContentTypes.Csv, CancellationToken.None);

        var body = System.Text.Json.Nodes.JsonNode.Parse(_server.LogEntries.Single().RequestMessage.Body!)!;
        Assert.Equal(sources, body["sourceObjects"]!.AsArray().Select(s => (string?)s!["name"]));
        Assert.Equal("text/csv", (string?)body["destination"]!["contentType"]);
    }

    [Fact]
    public async Task Compose_of_a_source_that_is_gone_fails_with_Cloud_Storages_404()
    {
        _server.Given(Request.Create().WithPath(new RegexMatcher("/compose$")).UsingPost()).RespondWith(Json(404, "CloudStorage/error-404-not-found.json"));

        var error = await Assert.ThrowsAsync<Google.GoogleApiException>(() =>
            Bucket().ComposeAsync(["runs/run-1/audiences/.parts/champions/part-000000000000.csv"], "runs/run-1/audiences/champions.csv", ContentTypes.Csv, CancellationToken.None));

        Assert.Equal(System.Net.HttpStatusCode.NotFound, error.HttpStatusCode);
    }

    public void Dispose() => _server.Stop();
}
