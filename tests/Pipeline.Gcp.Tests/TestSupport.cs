using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Pipeline.Core;
using WireMock.Matchers;
using WireMock.RequestBuilders;
using WireMock.ResponseBuilders;
using WireMock.Server;

namespace Pipeline.Gcp.Tests;

/// <summary>The captured-shaped payloads under Payloads/.</summary>
internal static class Payload
{
    public static string Text(string relativePath) =>
        File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Payloads", relativePath));
}

/// <summary>A bucket that hands every call to <paramref name="inner"/>; a test overrides the calls it makes slow or fail.</summary>
internal abstract class DelegatingBucket(IBucket inner) : IBucket
{
    public string Describe(string objectName) => inner.Describe(objectName);
    public Task<BucketObject?> TryReadAsync(string objectName, CancellationToken cancellationToken) => inner.TryReadAsync(objectName, cancellationToken);
    public Task<string> WriteAsync(string objectName, ReadOnlyMemory<byte> content, string contentType, string? ifGenerationMatch, CancellationToken cancellationToken) =>
        inner.WriteAsync(objectName, content, contentType, ifGenerationMatch, cancellationToken);
    public Task UploadFileAsync(string objectName, string localPath, string contentType, CancellationToken cancellationToken) =>
        inner.UploadFileAsync(objectName, localPath, contentType, cancellationToken);
    public virtual Task ComposeAsync(IReadOnlyList<string> sources, string destination, string contentType, CancellationToken cancellationToken) =>
        inner.ComposeAsync(sources, destination, contentType, cancellationToken);
    public Task<LocalObject> OpenLocalAsync(string objectName, CancellationToken cancellationToken) => inner.OpenLocalAsync(objectName, cancellationToken);
    public virtual Task<IReadOnlyList<string>> ListAsync(string prefix, CancellationToken cancellationToken) => inner.ListAsync(prefix, cancellationToken);
    public virtual Task DeleteAsync(string objectName, CancellationToken cancellationToken) => inner.DeleteAsync(objectName, cancellationToken);
}

/// <summary>A fixed access token, so tests can check it is sent.</summary>
internal sealed class FixedToken : IAccessTokenSource
{
    public const string Value = "ya29.test-token";
    public Task<string?> GetAccessTokenAsync(CancellationToken cancellationToken) => Task.FromResult<string?>(Value);
}

/// <summary>
/// A WireMock stand-in for the BigQuery REST API, answering with the documented payload shapes: every jobs.insert
/// starts a job, every jobs.get finds it done, and getQueryResults answers per statement key.
/// </summary>
internal sealed class FakeBigQuery : IDisposable
{
    public const string Project = "my-project";
    public const string JobsPath = "/bigquery/v2/projects/my-project/jobs";
    public const string QueriesPath = "/bigquery/v2/projects/my-project/queries/";

    public WireMockServer Server { get; } = WireMockServer.Start();

    public static GcpOptions Options(string? endpoint = null) => new()
    {
        ProjectId = Project,
        Dataset = "segmentation",
        Bucket = "my-bucket",
        Location = "US",
        BigQueryEndpoint = endpoint ?? "http://localhost/bigquery/v2/",
    };

    public static BigQueryClientSettings FastSettings { get; } = new()
    {
        RetryDelay = TimeSpan.FromMilliseconds(5),
        PollTimeout = TimeSpan.FromMilliseconds(200),
        PollPause = TimeSpan.FromMilliseconds(5),
    };

    public BigQueryClient CreateClient(BigQueryClientSettings? settings = null) => new(
        new HttpClient { BaseAddress = new Uri($"{Server.Url}/bigquery/v2/") },
        new FixedToken(), Microsoft.Extensions.Options.Options.Create(Options($"{Server.Url}/bigquery/v2/")),
        settings ?? FastSettings, TimeProvider.System, NullLogger<BigQueryClient>.Instance);

    /// <summary>jobs.insert answers a running job; jobs.get finds every job done; results default to a finished DDL job.</summary>
    public FakeBigQuery WithJobsThatSucceed()
    {
        Server.Given(Request.Create().WithPath(JobsPath).UsingPost()).AtPriority(100)
            .RespondWith(Json(200, "BigQuery/job-running.json"));
        Server.Given(Request.Create().WithPath(new RegexMatcher($"^{JobsPath}/[^/]+$")).UsingGet()).AtPriority(100)
            .RespondWith(Json(200, "BigQuery/job-done.json"));
        Server.Given(Request.Create().WithPath(new RegexMatcher($"^{QueriesPath}[^/]+$")).UsingGet()).AtPriority(100)
            .RespondWith(Json(200, "BigQuery/results-ddl-complete.json"));
        return this;
    }

    /// <summary>A redelivery: BigQuery already knows every job id, so each jobs.insert answers 409 <c>duplicate</c>.</summary>
    public FakeBigQuery AsRedelivery()
    {
        Server.Given(Request.Create().WithPath(JobsPath).UsingPost()).AtPriority(50)
            .RespondWith(Json(409, "BigQuery/error-409-duplicate.json"));
        return this;
    }

    /// <summary>getQueryResults of the statement <paramref name="key"/> of <paramref name="stage"/> answers with the payload.</summary>
    public FakeBigQuery WithResults(string stage, string key, string payload)
    {
        Server.Given(Request.Create().WithPath(new RegexMatcher($"^{QueriesPath}segmentation_.+_{stage.ToLowerInvariant()}_{key}_[0-9a-f]{{12}}_[0-9]+$")).UsingGet())
            .AtPriority(10)
            .RespondWith(Json(200, payload));
        return this;
    }

    /// <summary>
    /// jobs.get of the <c>EXPORT DATA</c> statement <paramref name="key"/> of <paramref name="stage"/> reports it done,
    /// having written <paramref name="fileCount"/> files and <paramref name="rowCount"/> rows.
    /// </summary>
    public FakeBigQuery WithExport(string stage, string key, long fileCount, long rowCount)
    {
        Server.Given(Request.Create().WithPath(new RegexMatcher($"^{JobsPath}/segmentation_.+_{stage.ToLowerInvariant()}_{key}_[0-9a-f]{{12}}_[0-9]+$")).UsingGet())
            .AtPriority(10)
            .RespondWith(Response.Create().WithStatusCode(200).WithHeader("Content-Type", "application/json; charset=UTF-8")
                .WithBody(ExportJob(fileCount, rowCount)));
        return this;
    }

    /// <summary>The documented jobs.get answer of a finished EXPORT DATA job, with its file and row counts.</summary>
    public static string ExportJob(long fileCount, long rowCount)
    {
        var job = System.Text.Json.Nodes.JsonNode.Parse(Payload.Text("BigQuery/job-done-export.json"))!;
        var statistics = job["statistics"]!["query"]!["exportDataStatistics"]!;
        statistics["fileCount"] = fileCount.ToString(System.Globalization.CultureInfo.InvariantCulture);
        statistics["rowCount"] = rowCount.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return job.ToJsonString();
    }

    public static IResponseBuilder Json(int status, string payload) =>
        Response.Create().WithStatusCode(status).WithHeader("Content-Type", "application/json; charset=UTF-8").WithBody(Payload.Text(payload));

    /// <summary>The SQL of every job inserted, in order.</summary>
    public IReadOnlyList<System.Text.Json.Nodes.JsonNode> InsertedJobs() => Server.LogEntries
        .Where(e => e.RequestMessage.Method == "POST" && e.RequestMessage.AbsolutePath == JobsPath)
        .Select(e => System.Text.Json.Nodes.JsonNode.Parse(e.RequestMessage.Body!)!)
        .ToList();

    public void Dispose() => Server.Stop();
}

internal static class TestRuns
{
    public static RunParameters Parameters(int? k = 3, StatsPreset metrics = StatsPreset.Rfm, string runId = "run-1") =>
        new(runId, new DateOnly(2022, 1, 1), new DateOnly(2023, 1, 1), new DateOnly(2023, 1, 1), k, metrics, 42, 0.2);

    /// <summary>A trained k = 3 model whose BigQuery ML centroid ids (2, 3, 1) differ from its stable ids (1, 2, 3).</summary>
    public static SegmentModel Model() => new(
        "run-1", BigQuerySegmentationEngine.Engine, 3, "fixed", Features.All,
        new Standardization([140.2, 1.7, 98.6], [95.3, 0.9, 80.1]),
        [
            new Centroid(1, "Champions", 30.5, 3.2, 150.5, new RfmScore(5, 5, 4), EngineCentroidId: 2),
            new Centroid(2, "At Risk", 250.25, 1.1, 45.25, new RfmScore(1, 3, 2), EngineCentroidId: 3),
            new Centroid(3, "Hibernating", 120.0, 1.6, 310.0, new RfmScore(2, 1, 1), EngineCentroidId: 1),
        ],
        new ModelMetrics(0.87, 1.2, 0.98), 7, 800, 200, 42, null);

    public static IOptions<PipelineOptions> Pipeline(int waitSeconds = 60) =>
        Microsoft.Extensions.Options.Options.Create(new PipelineOptions { StageWaitSeconds = waitSeconds });
}

/// <summary>A temporary directory, removed when the test ends.</summary>
internal sealed class TemporaryDirectory : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("gcp-tests-").FullName;
    public void Dispose() => Directory.Delete(Path, recursive: true);
}

/// <summary>A logger that keeps what was logged, so tests can check a warning is never silent.</summary>
internal sealed class RecordingLogger<T> : Microsoft.Extensions.Logging.ILogger<T>
{
    private readonly System.Collections.Concurrent.ConcurrentQueue<(Microsoft.Extensions.Logging.LogLevel Level, string Message)> _entries = new();

    public IReadOnlyList<(Microsoft.Extensions.Logging.LogLevel Level, string Message)> Entries => [.. _entries];

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => true;

    public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId, TState state,
        Exception? exception, Func<TState, Exception?, string> formatter) => _entries.Enqueue((logLevel, formatter(state, exception)));
}
