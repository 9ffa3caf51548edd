using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Pipeline.Core;
using WireMock.Matchers;
using WireMock.RequestBuilders;
using WireMock.ResponseBuilders;
using WireMock.Server;

namespace Pipeline.Gcp.Tests;

/// <summary>
/// The Cloud Storage requests of a run — the manifest created only if absent, then replaced only at the generation
/// read, <c>latest.json</c> written, and BuildStats listing its exported parts and deleting a stale one — as
/// Google.Cloud.Storage.V1 sends them, checked against storage/v1's discovery schema (Schemas/storage-v1.json): the
/// <c>Object</c> resource of each upload's metadata, and the query parameters of objects.insert, get, list and delete.
/// </summary>
public sealed class CloudStorageRequestSchemaTests : IDisposable
{
    private const string ObjectsPath = "/storage/v1/b/my-bucket/o";
    private const string UploadPath = "/upload/storage/v1/b/my-bucket/o";
    private const string ManifestGeneration = "1764340800123456";
    private static readonly DiscoverySchema Storage = DiscoverySchema.Load("storage-v1.json");

    private readonly WireMockServer _storage = WireMockServer.Start();
    private readonly FakeBigQuery _bigQuery = new FakeBigQuery().WithJobsThatSucceed();

    [Fact]
    public async Task The_requests_of_a_run_validate_against_the_storage_v1_schema_with_conditional_writes_where_they_belong()
    {
        var bucket = GcpRegistration.CreateBucket(new GcpOptions { Bucket = "my-bucket", StorageEndpoint = _storage.Url });
        var ledger = new RunLedger(bucket, TimeProvider.System);
        var started = (RunManifest m) => m.StageStarted(Stages.BuildStats, DateTimeOffset.UnixEpoch);

        // A new run: no manifest yet, so it may only be created.
        ManifestAnswers(exists: false);
        await ledger.UpdateAsync("run-1", TestRuns.Parameters(), started, CancellationToken.None);
        // The next stage: the manifest is read and replaced only at the generation read.
        ManifestAnswers(exists: true);
        await ledger.UpdateAsync("run-1", TestRuns.Parameters(), m => m.StageStarted(Stages.TrainModel, DateTimeOffset.UnixEpoch), CancellationToken.None);
        await ledger.WriteLatestAsync(new LatestRun("run-1", DateTimeOffset.UnixEpoch, new Dictionary<string, string>()), CancellationToken.None);
        // BuildStats: BigQuery exported two files; a third, stale one from an earlier attempt is deleted.
        _bigQuery.WithResults(Stages.BuildStats, "stats_summary", "BigQuery/results-stats-summary.json")
            .WithExport(Stages.BuildStats, "stats_export", fileCount: 2, rowCount: 3);
        await new BigQueryStatsBuilder(_bigQuery.CreateClient(), bucket, Options.Create(FakeBigQuery.Options()), TestRuns.Pipeline(),
            TimeProvider.System, NullLogger<BigQueryStatsBuilder>.Instance).BuildAsync(TestRuns.Parameters(), CancellationToken.None);

        var calls = _storage.LogEntries.Select(e => new StorageCall(e.RequestMessage)).ToList();
        var inserts = calls.Where(c => c.MethodId == "storage.objects.insert").ToList();
        Assert.Equal(3, inserts.Count);
        Assert.Contains(calls, c => c.MethodId == "storage.objects.get" && c.Query.ContainsKey("alt"));
        Assert.Contains(calls, c => c.MethodId == "storage.objects.list");
        Assert.Single(calls, c => c.MethodId == "storage.objects.delete" && c.Path.EndsWith("part-000000000002.parquet", StringComparison.Ordinal));
        Assert.All(calls.Where(c => c.MethodId is not null), c => Assert.Empty(Storage.ValidateQuery(c.MethodId!, c.Query)));
        Assert.All(inserts, c => Assert.Empty(Storage.ValidateRequest("storage.objects.insert", c.Body!)));
        // The resumable upload's second request goes to the session URI the first one returned, not to a method.
        Assert.All(calls.Where(c => c.MethodId is null), c => Assert.Equal(["uploadType", "upload_id"], c.Query.Keys.Order(StringComparer.Ordinal)));

        Assert.Equal(["0", ManifestGeneration, null], inserts.Select(c => c.Query.TryGetValue("ifGenerationMatch", out var v) ? v.Single() : null));
        Assert.All(inserts, c => Assert.Equal("resumable", c.Query["uploadType"].Single()));
        Assert.Equal(["runs/run-1/manifest.json", "runs/run-1/manifest.json", "latest.json"],
            inserts.Select(c => (string?)System.Text.Json.Nodes.JsonNode.Parse(c.Body!)!["name"]));
    }

    [Fact]
    public void The_validator_rejects_what_Cloud_Storage_would()
    {
        var query = new Dictionary<string, WireMock.Types.WireMockList<string>>
        {
            ["ifGenerationMatch"] = new("latest"),
            ["ifGenerationMatches"] = new("0"),
            ["alt"] = new("media"),
        };

        var problems = Storage.ValidateQuery("storage.objects.insert", query);

        Assert.Contains("?ifGenerationMatch: 'latest' is not an int64 in decimal", problems);
        Assert.Contains("query parameter 'ifGenerationMatches' is not a parameter of storage.objects.insert", problems);
        // alt=media is a download: objects.get supports it, an upload does not.
        Assert.Contains(problems, p => p.StartsWith("?alt: 'media' is not one of json", StringComparison.Ordinal));
        Assert.Empty(Storage.ValidateQuery("storage.objects.get", new Dictionary<string, WireMock.Types.WireMockList<string>> { ["alt"] = new("media") }));
        Assert.Contains("$.size: expected a string, got Number", Storage.ValidateRequest("storage.objects.insert", """{"name": "a", "size": 3}"""));
    }

    /// <summary>One captured request, named by the discovery method it calls (null: a resumable upload's session URI).</summary>
    private sealed record StorageCall(string? MethodId, string Path, IDictionary<string, WireMock.Types.WireMockList<string>> Query, string? Body)
    {
        public StorageCall(WireMock.IRequestMessage request) : this(MethodOf(request), request.AbsolutePath,
            request.Query ?? new Dictionary<string, WireMock.Types.WireMockList<string>>(), request.Body)
        {
        }

        private static string? MethodOf(WireMock.IRequestMessage request) => (request.Method, request.AbsolutePath) switch
        {
            ("POST", UploadPath) => "storage.objects.insert",
            ("PUT", UploadPath) => null,
            ("GET", ObjectsPath) => "storage.objects.list",
            ("GET", var path) when path.StartsWith(ObjectsPath + "/", StringComparison.Ordinal) => "storage.objects.get",
            ("DELETE", var path) when path.StartsWith(ObjectsPath + "/", StringComparison.Ordinal) => "storage.objects.delete",
            var other => throw new InvalidOperationException($"unexpected Cloud Storage request {other}"),
        };
    }

    /// <summary>Cloud Storage's JSON API as the reference documents it, with the manifest absent or present.</summary>
    private void ManifestAnswers(bool exists)
    {
        _storage.ResetMappings();
        var manifest = new RegexMatcher($"^{ObjectsPath}/runs(%2F|/)run-1(%2F|/)manifest\\.json$");
        if (exists)
        {
            _storage.Given(Request.Create().WithPath(manifest).UsingGet().WithParam("alt", "media")).AtPriority(1)
                .RespondWith(Response.Create().WithStatusCode(200).WithHeader("Content-Type", ContentTypes.Json)
                    .WithHeader("x-goog-generation", ManifestGeneration)
                    .WithBody(PipelineJson.Serialize(RunManifest.New("run-1", TestRuns.Parameters(), DateTimeOffset.UnixEpoch)
                        .StageStarted(Stages.BuildStats, DateTimeOffset.UnixEpoch))));
            _storage.Given(Request.Create().WithPath(manifest).UsingGet()).AtPriority(2)
                .RespondWith(FakeBigQuery.Json(200, "CloudStorage/object-manifest.json"));
        }
        else
        {
            _storage.Given(Request.Create().WithPath(manifest).UsingGet()).RespondWith(FakeBigQuery.Json(404, "CloudStorage/error-404-not-found.json"));
        }
        _storage.Given(Request.Create().WithPath(UploadPath).UsingPost().WithParam("uploadType", "resumable"))
            .RespondWith(Response.Create().WithStatusCode(200).WithHeader("Location", $"{_storage.Url}{UploadPath}?uploadType=resumable&upload_id=ADPycdu"));
        _storage.Given(Request.Create().WithPath(UploadPath).UsingPut().WithParam("upload_id", "ADPycdu"))
            .RespondWith(FakeBigQuery.Json(200, "CloudStorage/object-manifest-written.json"));
        _storage.Given(Request.Create().WithPath(ObjectsPath).UsingGet().WithParam("prefix", "runs/run-1/customer_stats/"))
            .RespondWith(Response.Create().WithStatusCode(200).WithHeader("Content-Type", ContentTypes.Json).WithBody(ObjectList(
                "runs/run-1/customer_stats/part-000000000000.parquet", "runs/run-1/customer_stats/part-000000000001.parquet",
                "runs/run-1/customer_stats/part-000000000002.parquet")));
        _storage.Given(Request.Create().WithPath(new RegexMatcher($"^{ObjectsPath}/.+")).UsingDelete())
            .RespondWith(Response.Create().WithStatusCode(204));
    }

    /// <summary>An objects.list answer (the <c>Objects</c> resource) holding the named objects.</summary>
    private static string ObjectList(params string[] names) => new System.Text.Json.Nodes.JsonObject
    {
        ["kind"] = "storage#objects",
        ["items"] = new System.Text.Json.Nodes.JsonArray(names.Select(n => (System.Text.Json.Nodes.JsonNode)new System.Text.Json.Nodes.JsonObject
        {
            ["kind"] = "storage#object",
            ["name"] = n,
            ["bucket"] = "my-bucket",
            ["generation"] = "1764340800000001",
            ["contentType"] = ContentTypes.Parquet,
            ["size"] = "1",
        }).ToArray()),
    }.ToJsonString();

    public void Dispose()
    {
        _storage.Stop();
        _bigQuery.Dispose();
    }
}
