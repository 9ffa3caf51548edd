using System.Net;
using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Pipeline.Gcp;

/// <summary>A BigQuery job of a statement, started by this delivery or attached to from an earlier one.</summary>
public sealed record BigQueryJob(SqlStatement Statement, string JobId, string Location, bool Attached);

/// <summary>What an <c>EXPORT DATA</c> job wrote (<c>statistics.query.exportDataStatistics</c>).</summary>
/// <param name="FileCount">How many files; BigQuery numbers them from <c>000000000000</c> in the URI's wildcard.</param>
/// <param name="RowCount">How many rows, over all files.</param>
public sealed record BigQueryExportStatistics(long FileCount, long RowCount);

/// <summary>One page of a completed job's result rows.</summary>
public sealed record BigQueryResultPage(IReadOnlyList<BigQueryField> Schema, IReadOnlyList<BigQueryRow> Rows, long TotalRows);

/// <summary>The warehouse side of the GCP backend: BigQuery query jobs, as the stages need them.</summary>
public interface IBigQueryClient
{
    /// <summary>
    /// Starts the statement's job under its deterministic id, or attaches to the job an earlier delivery started
    /// (BigQuery answers 409 <c>duplicate</c>); a job that failed transiently is replaced by the next attempt's id.
    /// </summary>
    Task<BigQueryJob> StartAsync(SqlStatement statement, CancellationToken cancellationToken);

    /// <summary>
    /// Waits up to <paramref name="maxWait"/> for the job: true when it completed successfully, false when it is still
    /// running; a failed job throws <see cref="BigQueryTransientException"/> or <see cref="BigQueryPermanentException"/>.
    /// </summary>
    Task<bool> WaitAsync(BigQueryJob job, TimeSpan maxWait, CancellationToken cancellationToken);

    /// <summary>Every row of a completed job's result, page by page (<c>pageToken</c>).</summary>
    IAsyncEnumerable<BigQueryResultPage> ReadAsync(BigQueryJob job, CancellationToken cancellationToken);

    /// <summary>The files and rows a completed <c>EXPORT DATA</c> job wrote (<c>jobs.get</c>).</summary>
    Task<BigQueryExportStatistics> ExportStatisticsAsync(BigQueryJob job, CancellationToken cancellationToken);
}

/// <summary>How the REST client paces itself; the defaults suit production, tests shorten them.</summary>
public sealed class BigQueryClientSettings
{
    /// <summary>HTTP attempts for a request that failed transiently (5xx, 429, rate limits) before giving up.</summary>
    public int MaxHttpAttempts { get; init; } = 4;

    /// <summary>The first back-off between HTTP attempts; it doubles each time.</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How long one <c>getQueryResults</c> call may hold while the job runs (server-side long poll).</summary>
    public TimeSpan PollTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>A pause between polls that returned early with the job still running.</summary>
    public TimeSpan PollPause { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Rows a result page asks for.</summary>
    public int PageSize { get; init; } = 20_000;

    /// <summary>How many attempts (job ids) a statement gets when its jobs keep failing transiently.</summary>
    public int MaxJobAttempts { get; init; } = 5;
}

/// <summary>
/// A thin client for BigQuery's REST API (v2): <c>jobs.insert</c> of query jobs with GoogleSQL and named parameters,
/// <c>jobs.get</c>, and <c>jobs.getQueryResults</c> for waiting and paging.
/// </summary>
/// <remarks>
/// Why <c>jobs.insert</c> with our own job id rather than <c>jobs.query</c> with a <c>requestId</c>: a request id
/// deduplicates for about 15 minutes only, while a training job and Pub/Sub's redelivery back-off can outlast that.
/// A job id is remembered by BigQuery for as long as the job's history is kept, so a redelivered message always finds
/// the job its first delivery started — running or finished — and never starts a second one. Inserting with a known
/// id is also what makes retrying a failed insert request safe.
/// </remarks>
public sealed class BigQueryClient(
    HttpClient http, IAccessTokenSource tokens, IOptions<GcpOptions> gcp, BigQueryClientSettings settings, TimeProvider clock,
    ILogger<BigQueryClient> logger) : IBigQueryClient
{
    private readonly GcpOptions options = gcp.Value;

    private string ProjectPath => $"projects/{Uri.EscapeDataString(options.ProjectId)}";

    public async Task<BigQueryJob> StartAsync(SqlStatement statement, CancellationToken cancellationToken)
    {
        for (var attempt = 0; attempt < settings.MaxJobAttempts; attempt++)
        {
            var jobId = statement.JobId(attempt);
            var inserted = await SendAsync(() => new HttpRequestMessage(HttpMethod.Post, $"{ProjectPath}/jobs")
            {
                Content = Json(InsertBody(statement, jobId)),
            }, $"jobs.insert {jobId}", cancellationToken);

            JsonNode? job;
            var attached = false;
            if (inserted.Status == HttpStatusCode.Conflict)
            {
                // The job exists: an earlier delivery started it. Attach, unless it failed in a way a new job may fix.
                job = await GetJobAsync(jobId, cancellationToken);
                attached = true;
            }
            else
            {
                job = inserted.EnsureSuccess($"jobs.insert {jobId}");
            }

            var failure = JobFailure(job, jobId);
            if (failure is BigQueryTransientException && attempt + 1 < settings.MaxJobAttempts)
            {
                logger.LogWarning("BigQuery job {JobId} failed transiently ({Reason}); starting attempt {Attempt}",
                    jobId, failure.Message, attempt + 1);
                continue;
            }
            if (failure is not null) throw failure;

            if (attached) logger.LogInformation("Attached to BigQuery job {JobId} ({Key})", jobId, statement.Key);
            else logger.LogInformation("Started BigQuery job {JobId} ({Key})", jobId, statement.Key);
            return new BigQueryJob(statement, jobId, (string?)job?["jobReference"]?["location"] ?? options.Location, attached);
        }
        throw new InvalidOperationException("unreachable: the last attempt either returns or throws");
    }

    public async Task<bool> WaitAsync(BigQueryJob job, TimeSpan maxWait, CancellationToken cancellationToken)
    {
        var deadline = clock.GetUtcNow() + maxWait;
        while (true)
        {
            var remaining = deadline - clock.GetUtcNow();
            var timeout = remaining <= TimeSpan.Zero ? TimeSpan.Zero : remaining < settings.PollTimeout ? remaining : settings.PollTimeout;
            var results = await GetQueryResultsAsync(job, maxResults: 0, pageToken: null, timeout, cancellationToken);
            if ((bool?)results["jobComplete"] == true)
            {
                // getQueryResults may answer for a failed job too; the job's status says how it ended.
                var failure = JobFailure(await GetJobAsync(job.JobId, cancellationToken), job.JobId);
                if (failure is not null) throw failure;
                return true;
            }
            if (clock.GetUtcNow() >= deadline) return false;
            var pause = deadline - clock.GetUtcNow();
            await Task.Delay(pause < settings.PollPause ? pause : settings.PollPause, clock, cancellationToken);
        }
    }

    public async IAsyncEnumerable<BigQueryResultPage> ReadAsync(BigQueryJob job, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        string? pageToken = null;
        while (true)
        {
            var page = await GetQueryResultsAsync(job, settings.PageSize, pageToken, settings.PollTimeout, cancellationToken);
            if ((bool?)page["jobComplete"] != true)
            {
                // Results can lag a moment behind the job's DONE state; ask for the same page again.
                await Task.Delay(settings.PollPause, clock, cancellationToken);
                continue;
            }
            var schema = BigQueryField.ListFrom(page["schema"]);
            var rows = (page["rows"] as JsonArray ?? []).Select(r => BigQueryRow.Decode(r!, schema)).ToList();
            var totalRows = long.TryParse((string?)page["totalRows"], out var total) ? total : rows.Count;
            yield return new BigQueryResultPage(schema, rows, totalRows);
            pageToken = (string?)page["pageToken"];
            if (pageToken is null) yield break;
        }
    }

    public async Task<BigQueryExportStatistics> ExportStatisticsAsync(BigQueryJob job, CancellationToken cancellationToken)
    {
        var statistics = (await GetJobAsync(job.JobId, cancellationToken))?["statistics"]?["query"]?["exportDataStatistics"];
        // int64 values travel as JSON strings in BigQuery's REST API.
        return long.TryParse((string?)statistics?["fileCount"], out var files) && long.TryParse((string?)statistics?["rowCount"], out var rows)
            ? new BigQueryExportStatistics(files, rows)
            : throw new BigQueryTransientException(
                $"BigQuery job {job.JobId} reports no exportDataStatistics (fileCount, rowCount); asking again on the next delivery", null, null);
    }

    /// <summary>
    /// The <c>jobs.insert</c> body (a <c>Job</c> resource). <c>parameterMode</c> and <c>queryParameters</c> are sent only
    /// with parameters: an empty list is not what the API reference shows for a statement without any.
    /// </summary>
    internal JsonObject InsertBody(SqlStatement statement, string jobId)
    {
        var query = new JsonObject { ["query"] = statement.Sql, ["useLegacySql"] = false };
        if (statement.Parameters.Count > 0)
        {
            query["parameterMode"] = "NAMED";
            query["queryParameters"] = new JsonArray(statement.Parameters.Select(p => (JsonNode)p.ToJson()).ToArray());
        }
        return new JsonObject
        {
            ["jobReference"] = new JsonObject
            {
                ["projectId"] = options.ProjectId,
                ["jobId"] = jobId,
                ["location"] = options.Location,
            },
            ["configuration"] = new JsonObject
            {
                ["query"] = query,
                ["labels"] = new JsonObject
                {
                    ["pipeline"] = "segmentation",
                    ["stage"] = statement.Stage.ToLowerInvariant(),
                    ["run"] = Label(statement.RunId),
                },
            },
        };
    }

    // Label values: lowercase letters, digits, '_' and '-', at most 63 characters.
    private static string Label(string runId)
    {
        var lower = runId.ToLowerInvariant();
        return lower.Length <= 63 ? lower : lower[..63];
    }

    private async Task<JsonNode?> GetJobAsync(string jobId, CancellationToken cancellationToken) =>
        (await SendAsync(() => new HttpRequestMessage(HttpMethod.Get,
                $"{ProjectPath}/jobs/{Uri.EscapeDataString(jobId)}?location={Uri.EscapeDataString(options.Location)}"),
            $"jobs.get {jobId}", cancellationToken)).EnsureSuccess($"jobs.get {jobId}");

    private async Task<JsonNode> GetQueryResultsAsync(BigQueryJob job, int maxResults, string? pageToken, TimeSpan timeout,
        CancellationToken cancellationToken)
    {
        var query = new StringBuilder($"{ProjectPath}/queries/{Uri.EscapeDataString(job.JobId)}")
            .Append("?location=").Append(Uri.EscapeDataString(job.Location))
            .Append("&maxResults=").Append(maxResults)
            .Append("&timeoutMs=").Append((long)timeout.TotalMilliseconds)
            .Append("&formatOptions.useInt64Timestamp=true");
        if (pageToken is not null) query.Append("&pageToken=").Append(Uri.EscapeDataString(pageToken));
        var uri = query.ToString();
        return (await SendAsync(() => new HttpRequestMessage(HttpMethod.Get, uri), $"jobs.getQueryResults {job.JobId}", cancellationToken))
            .EnsureSuccess($"jobs.getQueryResults {job.JobId}")
            ?? throw new BigQueryTransientException($"BigQuery jobs.getQueryResults {job.JobId} returned no body", null, null);
    }

    /// <summary>The job's failure from <c>status.errorResult</c>, or null when it has none (running or succeeded).</summary>
    private static Exception? JobFailure(JsonNode? job, string jobId)
    {
        var errorResult = BigQueryError.From(job?["status"]?["errorResult"]);
        return errorResult is null ? null : BigQueryErrors.ToException($"job {jobId}", errorResult, httpStatus: null);
    }

    /// <summary>
    /// Sends a request with the access token, retrying transient failures (network errors, 5xx, 429, rate limits)
    /// with exponential back-off; returns any other answer for the caller to interpret.
    /// </summary>
    private async Task<HttpAnswer> SendAsync(Func<HttpRequestMessage> create, string what, CancellationToken cancellationToken)
    {
        var delay = settings.RetryDelay;
        for (var attempt = 1; ; attempt++)
        {
            HttpAnswer answer;
            try
            {
                using var request = create();
                var token = await tokens.GetAccessTokenAsync(cancellationToken);
                if (token is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
                using var response = await http.SendAsync(request, cancellationToken);
                var text = await response.Content.ReadAsStringAsync(cancellationToken);
                answer = new HttpAnswer(response.StatusCode, Parse(text), text);
            }
            catch (HttpRequestException e) when (attempt < settings.MaxHttpAttempts)
            {
                logger.LogWarning("BigQuery {Request} failed ({Reason}); retrying", what, e.Message);
                await Task.Delay(delay, clock, cancellationToken);
                delay *= 2;
                continue;
            }
            catch (HttpRequestException e)
            {
                throw new BigQueryTransientException($"BigQuery {what} failed: {e.Message}", null, null, e);
            }
            catch (TaskCanceledException e) when (!cancellationToken.IsCancellationRequested)
            {
                // Our HTTP client's timeout, not BigQuery's "timeout" reason: the request may simply be retried.
                throw new BigQueryTransientException($"BigQuery {what} got no answer within {http.Timeout.TotalSeconds:0} s", null, null, e);
            }

            if (answer.IsSuccess || answer.Status == HttpStatusCode.Conflict) return answer;
            var error = BigQueryErrors.FromErrorBody(answer.Body);
            if (BigQueryErrors.IsTransient(error?.Reason, (int)answer.Status) && attempt < settings.MaxHttpAttempts)
            {
                logger.LogWarning("BigQuery {Request} answered {Status} ({Reason}); retrying", what, (int)answer.Status, error?.Reason);
                await Task.Delay(delay, clock, cancellationToken);
                delay *= 2;
                continue;
            }
            return answer;
        }
    }

    private static JsonNode? Parse(string text)
    {
        if (string.IsNullOrWhiteSpace(text)) return null;
        try
        {
            return JsonNode.Parse(text);
        }
        catch (System.Text.Json.JsonException)
        {
            return null; // an HTML error page from a proxy: the status still says what happened
        }
    }

    private static StringContent Json(JsonNode body) => new(body.ToJsonString(), Encoding.UTF8, "application/json");

    private sealed record HttpAnswer(HttpStatusCode Status, JsonNode? Body, string Text)
    {
        public bool IsSuccess => (int)Status is >= 200 and < 300;

        public JsonNode? EnsureSuccess(string what)
        {
            if (IsSuccess) return Body;
            var snippet = Text.Length > 300 ? Text[..300] + "…" : Text;
            throw BigQueryErrors.ToException(what, BigQueryErrors.FromErrorBody(Body), (int)Status, snippet);
        }
    }
}
