using System.Text.Json.Nodes;
using Pipeline.Core;
using WireMock.Matchers;
using WireMock.RequestBuilders;

namespace Pipeline.Gcp.Tests;

/// <summary>The REST client against BigQuery's documented answers: polling, paging, errors, retries, attaching.</summary>
public sealed class BigQueryClientTests : IDisposable
{
    private readonly FakeBigQuery _bigQuery = new();
    private readonly SqlPlan _plan = new(FakeBigQuery.Options(), TestRuns.Parameters());

    [Fact]
    public async Task Waits_until_getQueryResults_reports_the_job_complete()
    {
        _bigQuery.WithJobsThatSucceed();
        _bigQuery.Server.Given(Request.Create().WithPath(new RegexMatcher($"^{FakeBigQuery.QueriesPath}.+")).UsingGet())
            .InScenario("poll").WillSetStateTo("second poll").AtPriority(1)
            .RespondWith(FakeBigQuery.Json(200, "BigQuery/results-incomplete.json"));
        _bigQuery.Server.Given(Request.Create().WithPath(new RegexMatcher($"^{FakeBigQuery.QueriesPath}.+")).UsingGet())
            .InScenario("poll").WhenStateIs("second poll").AtPriority(1)
            .RespondWith(FakeBigQuery.Json(200, "BigQuery/results-ddl-complete.json"));
        var client = _bigQuery.CreateClient();

        var job = await client.StartAsync(_plan.Stats(), CancellationToken.None);
        var completed = await client.WaitAsync(job, TimeSpan.FromSeconds(30), CancellationToken.None);

        Assert.True(completed);
        Assert.False(job.Attached);
        Assert.Equal(_plan.Stats().JobId(), job.JobId);
        var polls = _bigQuery.Server.LogEntries.Where(e => e.RequestMessage.AbsolutePath.StartsWith(FakeBigQuery.QueriesPath, StringComparison.Ordinal)).ToList();
        Assert.Equal(2, polls.Count);
        Assert.All(polls, p =>
        {
            Assert.Equal("US", p.RequestMessage.Query!["location"].Single());
            Assert.Equal("0", p.RequestMessage.Query!["maxResults"].Single());
            Assert.Equal($"Bearer {FixedToken.Value}", p.RequestMessage.Headers!["Authorization"].Single());
        });
    }

    [Fact]
    public async Task A_job_still_running_after_the_budget_ends_the_delivery_with_its_job_id()
    {
        _bigQuery.WithJobsThatSucceed();
        _bigQuery.Server.Given(Request.Create().WithPath(new RegexMatcher($"^{FakeBigQuery.QueriesPath}.+")).UsingGet()).AtPriority(1)
            .RespondWith(FakeBigQuery.Json(200, "BigQuery/results-incomplete.json"));
        var client = _bigQuery.CreateClient();
        var run = new BigQueryStageRun(client, Stages.TrainModel, DateTimeOffset.UtcNow.AddMilliseconds(300), TimeProvider.System);

        var error = await Assert.ThrowsAsync<StageStillRunningException>(() => run.RunAsync(_plan.TrainModel(3), CancellationToken.None));

        Assert.Equal(_plan.TrainModel(3).JobId(), error.JobId);
    }

    [Fact]
    public async Task Reads_every_page_by_pageToken_and_decodes_the_rows()
    {
        _bigQuery.WithJobsThatSucceed();
        _bigQuery.Server.Given(Request.Create().WithPath(new RegexMatcher($"^{FakeBigQuery.QueriesPath}.+")).UsingGet()
                .WithParam("pageToken", "BFQ2ZDIAAAAAAAA2ADIAAAAAAAA2AAAAAAAAAAQ=")).AtPriority(1)
            .RespondWith(FakeBigQuery.Json(200, "BigQuery/results-stats-page2.json"));
        _bigQuery.Server.Given(Request.Create().WithPath(new RegexMatcher($"^{FakeBigQuery.QueriesPath}.+")).UsingGet()).AtPriority(2)
            .RespondWith(FakeBigQuery.Json(200, "BigQuery/results-stats-page1.json"));
        var client = _bigQuery.CreateClient();

        var job = await client.StartAsync(_plan.ChartSample(30_000), CancellationToken.None);
        var pages = new List<BigQueryResultPage>();
        await foreach (var page in client.ReadAsync(job, CancellationToken.None)) pages.Add(page);

        Assert.Equal([2, 1], pages.Select(p => p.Rows.Count));
        Assert.All(pages, p => Assert.Equal(3, p.TotalRows));
        var rows = pages.SelectMany(p => p.Rows).ToList();
        Assert.Equal([11L, 42L, 77L], rows.Select(r => r.GetInt64("user_id")));
        Assert.Equal([12L, 300L, 3L], rows.Select(r => r.GetInt64(Features.DaysSinceLastOrder)));
        Assert.Equal([85.5, 19.99, 240.125], rows.Select(r => r.GetDouble(Features.AverageSpend)));
    }

    [Fact]
    public async Task A_first_page_that_is_not_ready_yet_is_asked_for_again()
    {
        _bigQuery.WithJobsThatSucceed();
        _bigQuery.Server.Given(Request.Create().WithPath(new RegexMatcher($"^{FakeBigQuery.QueriesPath}.+")).UsingGet())
            .InScenario("lagging").WillSetStateTo("ready").AtPriority(1)
            .RespondWith(FakeBigQuery.Json(200, "BigQuery/results-incomplete.json"));
        _bigQuery.Server.Given(Request.Create().WithPath(new RegexMatcher($"^{FakeBigQuery.QueriesPath}.+")).UsingGet())
            .InScenario("lagging").WhenStateIs("ready").AtPriority(1)
            .RespondWith(FakeBigQuery.Json(200, "BigQuery/results-stats-summary.json"));
        var client = _bigQuery.CreateClient();

        var job = await client.StartAsync(_plan.StatsSummary(), CancellationToken.None);
        var rows = new List<BigQueryRow>();
        await foreach (var page in client.ReadAsync(job, CancellationToken.None)) rows.AddRange(page.Rows);

        Assert.Equal(3, Assert.Single(rows).GetInt64("customers"));
    }

    [Fact]
    public async Task A_job_that_failed_with_invalidQuery_is_a_permanent_failure_naming_the_reason()
    {
        _bigQuery.WithJobsThatSucceed();
        _bigQuery.Server.Given(Request.Create().WithPath(new RegexMatcher($"^{FakeBigQuery.JobsPath}/.+")).UsingGet()).AtPriority(1)
            .RespondWith(FakeBigQuery.Json(200, "BigQuery/job-done-invalid-query.json"));
        var client = _bigQuery.CreateClient();

        var job = await client.StartAsync(_plan.Stats(), CancellationToken.None);
        var error = await Assert.ThrowsAsync<BigQueryPermanentException>(() => client.WaitAsync(job, TimeSpan.FromSeconds(5), CancellationToken.None));

        Assert.IsAssignableFrom<PermanentPipelineException>(error);
        Assert.Equal("invalidQuery", error.Reason);
        Assert.Contains("Unrecognized name: created_att", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_503_is_retried_with_the_same_job_id_and_then_succeeds()
    {
        _bigQuery.WithJobsThatSucceed();
        _bigQuery.Server.Given(Request.Create().WithPath(FakeBigQuery.JobsPath).UsingPost())
            .InScenario("503").WillSetStateTo("recovered").AtPriority(1)
            .RespondWith(FakeBigQuery.Json(503, "BigQuery/error-503-backend.json"));
        var client = _bigQuery.CreateClient();

        var job = await client.StartAsync(_plan.Stats(), CancellationToken.None);

        var inserts = _bigQuery.InsertedJobs();
        Assert.Equal(2, inserts.Count);
        Assert.All(inserts, i => Assert.Equal(job.JobId, (string?)i["jobReference"]!["jobId"]));
    }

    [Fact]
    public async Task A_403_accessDenied_is_permanent_and_not_retried()
    {
        _bigQuery.Server.Given(Request.Create().WithPath(FakeBigQuery.JobsPath).UsingPost())
            .RespondWith(FakeBigQuery.Json(403, "BigQuery/error-403-access-denied.json"));
        var client = _bigQuery.CreateClient();

        var error = await Assert.ThrowsAsync<BigQueryPermanentException>(() => client.StartAsync(_plan.Stats(), CancellationToken.None));

        Assert.Equal("accessDenied", error.Reason);
        Assert.Equal(403, error.HttpStatus);
        Assert.Contains("bigquery.jobs.create", error.Message, StringComparison.Ordinal);
        Assert.Single(_bigQuery.InsertedJobs());
    }

    [Fact]
    public async Task A_403_rateLimitExceeded_is_transient_retried_and_finally_left_to_the_transport()
    {
        _bigQuery.Server.Given(Request.Create().WithPath(FakeBigQuery.JobsPath).UsingPost())
            .RespondWith(FakeBigQuery.Json(403, "BigQuery/error-403-rate-limit.json"));
        var client = _bigQuery.CreateClient();

        var error = await Assert.ThrowsAsync<BigQueryTransientException>(() => client.StartAsync(_plan.Stats(), CancellationToken.None));

        Assert.IsNotAssignableFrom<PermanentPipelineException>(error);
        Assert.Equal("rateLimitExceeded", error.Reason);
        Assert.Equal(FakeBigQuery.FastSettings.MaxHttpAttempts, _bigQuery.InsertedJobs().Count);
    }

    [Fact]
    public async Task A_redelivery_attaches_to_the_job_already_running_instead_of_starting_another()
    {
        _bigQuery.Server.Given(Request.Create().WithPath(FakeBigQuery.JobsPath).UsingPost())
            .RespondWith(FakeBigQuery.Json(409, "BigQuery/error-409-duplicate.json"));
        _bigQuery.Server.Given(Request.Create().WithPath(new RegexMatcher($"^{FakeBigQuery.JobsPath}/.+")).UsingGet())
            .RespondWith(FakeBigQuery.Json(200, "BigQuery/job-running.json"));
        var client = _bigQuery.CreateClient();

        var job = await client.StartAsync(_plan.TrainModel(3), CancellationToken.None);

        Assert.True(job.Attached);
        Assert.Equal(_plan.TrainModel(3).JobId(0), job.JobId);
        Assert.Single(_bigQuery.InsertedJobs());
    }

    [Fact]
    public async Task An_earlier_job_that_failed_transiently_is_replaced_by_the_next_attempt()
    {
        var first = _plan.TrainModel(3).JobId(0);
        _bigQuery.WithJobsThatSucceed();
        _bigQuery.Server.Given(Request.Create().WithPath(FakeBigQuery.JobsPath).UsingPost()
                .WithBody(new JsonPartialMatcher(new JsonObject { ["jobReference"] = new JsonObject { ["jobId"] = first } }.ToJsonString()))).AtPriority(1)
            .RespondWith(FakeBigQuery.Json(409, "BigQuery/error-409-duplicate.json"));
        _bigQuery.Server.Given(Request.Create().WithPath($"{FakeBigQuery.JobsPath}/{first}").UsingGet()).AtPriority(1)
            .RespondWith(FakeBigQuery.Json(200, "BigQuery/job-done-backend-error.json"));
        var client = _bigQuery.CreateClient();

        var job = await client.StartAsync(_plan.TrainModel(3), CancellationToken.None);

        Assert.Equal(_plan.TrainModel(3).JobId(1), job.JobId);
        Assert.False(job.Attached);
        Assert.Equal([first, job.JobId], _bigQuery.InsertedJobs().Select(j => (string?)j["jobReference"]!["jobId"]));
    }

    [Fact]
    public async Task Values_travel_as_named_query_parameters_not_inside_the_SQL()
    {
        _bigQuery.WithJobsThatSucceed();
        var client = _bigQuery.CreateClient();

        await client.StartAsync(_plan.Stats(), CancellationToken.None);
        await client.StartAsync(_plan.Split(), CancellationToken.None);

        var inserts = _bigQuery.InsertedJobs();
        var stats = inserts[0]["configuration"]!["query"]!;
        Assert.False((bool)stats["useLegacySql"]!);
        Assert.Equal("NAMED", (string?)stats["parameterMode"]);
        Assert.Equal("US", (string?)inserts[0]["jobReference"]!["location"]);
        var parameters = ((JsonArray)stats["queryParameters"]!).ToDictionary(p => (string)p!["name"]!, p => p!);
        Assert.Equal("DATE", (string?)parameters["window_start"]["parameterType"]!["type"]);
        Assert.Equal("2022-01-01", (string?)parameters["window_start"]["parameterValue"]!["value"]);
        Assert.Equal("2023-01-01", (string?)parameters["window_end"]["parameterValue"]!["value"]);
        Assert.Equal("2023-01-01", (string?)parameters["as_of"]["parameterValue"]!["value"]);
        var sql = (string)stats["query"]!;
        Assert.Contains("TIMESTAMP(@window_start)", sql, StringComparison.Ordinal);
        Assert.DoesNotContain("2022", sql, StringComparison.Ordinal);

        var split = inserts[1]["configuration"]!["query"]!;
        var splitParameters = ((JsonArray)split["queryParameters"]!).ToDictionary(p => (string)p!["name"]!, p => p!);
        Assert.Equal("INT64", (string?)splitParameters["seed"]["parameterType"]!["type"]);
        Assert.Equal("42", (string?)splitParameters["seed"]["parameterValue"]!["value"]);
        Assert.Equal("FLOAT64", (string?)splitParameters["test_fraction"]["parameterType"]!["type"]);
        Assert.Equal("0.2", (string?)splitParameters["test_fraction"]["parameterValue"]!["value"]);
        Assert.DoesNotMatch(@"\b42\b", (string)split["query"]!);
    }

    [Fact]
    public async Task A_statement_without_parameters_sends_neither_parameterMode_nor_queryParameters()
    {
        _bigQuery.WithJobsThatSucceed();
        var client = _bigQuery.CreateClient();

        await client.StartAsync(_plan.StatsSummary(), CancellationToken.None);

        var query = (JsonObject)_bigQuery.InsertedJobs().Single()["configuration"]!["query"]!;
        Assert.Equal(["query", "useLegacySql"], query.Select(p => p.Key));
    }

    [Theory]
    [InlineData("quotaExceeded", 403, false)]
    [InlineData("timeout", null, false)]
    [InlineData("stopped", null, false)]
    [InlineData("rateLimitExceeded", 403, true)]
    [InlineData("backendError", 503, true)]
    [InlineData("internalError", 500, true)]
    [InlineData("jobRateExceeded", null, true)]
    [InlineData("invalidQuery", 400, false)]
    public void Errors_are_classified_by_BigQuerys_documented_reasons(string reason, int? httpStatus, bool transient)
    {
        var error = BigQueryErrors.ToException("job x", new BigQueryError(reason, null, "m"), httpStatus);

        Assert.Equal(transient, error is BigQueryTransientException);
        Assert.Equal(!transient, error is PermanentPipelineException);
    }

    [Fact]
    public async Task A_job_that_hit_a_quota_is_not_replaced_by_another_attempt_but_fails_the_run()
    {
        var first = _plan.TrainModel(3).JobId(0);
        _bigQuery.WithJobsThatSucceed();
        var failed = JsonNode.Parse(Payload.Text("BigQuery/job-done-backend-error.json"))!;
        failed["status"]!["errorResult"]!["reason"] = "quotaExceeded";
        _bigQuery.Server.Given(Request.Create().WithPath(FakeBigQuery.JobsPath).UsingPost()).AtPriority(1)
            .RespondWith(FakeBigQuery.Json(409, "BigQuery/error-409-duplicate.json"));
        _bigQuery.Server.Given(Request.Create().WithPath($"{FakeBigQuery.JobsPath}/{first}").UsingGet()).AtPriority(1)
            .RespondWith(WireMock.ResponseBuilders.Response.Create().WithStatusCode(200).WithBody(failed.ToJsonString()));
        var client = _bigQuery.CreateClient();

        var error = await Assert.ThrowsAsync<BigQueryPermanentException>(() => client.StartAsync(_plan.TrainModel(3), CancellationToken.None));

        Assert.Equal("quotaExceeded", error.Reason);
        Assert.Single(_bigQuery.InsertedJobs());
    }

    [Fact]
    public void Array_parameters_carry_the_centroid_mapping()
    {
        var json = QueryParameter.ForInt64Array("centroid_ids", [3, 1, 2]).ToJson();

        Assert.Equal("ARRAY", (string?)json["parameterType"]!["type"]);
        Assert.Equal("INT64", (string?)json["parameterType"]!["arrayType"]!["type"]);
        Assert.Equal(["3", "1", "2"], ((JsonArray)json["parameterValue"]!["arrayValues"]!).Select(v => (string?)v!["value"]));
    }

    public void Dispose() => _bigQuery.Dispose();
}
