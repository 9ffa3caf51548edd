using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Pipeline.Core;
using Pipeline.Embedded;
using WireMock.Matchers;
using WireMock.RequestBuilders;
using WireMock.ResponseBuilders;
using Xunit.Abstractions;

namespace Pipeline.Gcp.Tests;

/// <summary>
/// Every delivery ends inside its budget, whatever is slow — a job, a result read, the bucket — and the next delivery
/// attaches to the jobs the first one started; a 10-million-customer BuildStats or Predict costs the function what a
/// 1,000-customer one does, because BigQuery exports the rows and none pass through the function.
/// </summary>
/// <remarks>Alone in its collection: the memory measured is the process's, so no other test may run meanwhile.</remarks>
[Collection(nameof(DeliveryBudgetTests))]
public sealed class DeliveryBudgetTests(ITestOutputHelper output)
{
    // Long enough that a loaded CI machine answers the quick requests inside it; the slow ones take far longer.
    private const int BudgetSeconds = 5;

    private static IOptions<GcpOptions> Gcp(FakeBigQuery bigQuery) => Options.Create(FakeBigQuery.Options($"{bigQuery.Server.Url}/bigquery/v2/"));

    private static BigQueryStatsBuilder StatsBuilder(FakeBigQuery bigQuery, IBucket bucket, int budgetSeconds = BudgetSeconds) =>
        new(bigQuery.CreateClient(), bucket, Gcp(bigQuery), TestRuns.Pipeline(budgetSeconds), TimeProvider.System, NullLogger<BigQueryStatsBuilder>.Instance);

    private static readonly string Prefix = BucketLayout.CustomerStats("run-1");

    [Fact]
    public async Task A_slow_result_read_ends_the_delivery_at_the_budget_and_the_next_delivery_attaches_and_finishes()
    {
        using var bigQuery = new FakeBigQuery().WithJobsThatSucceed();
        using var directory = new TemporaryDirectory();
        var bucket = new FileSystemBucket(directory.Path);
        bigQuery.Server.Given(Request.Create().WithPath(new RegexMatcher($"^{FakeBigQuery.QueriesPath}.+_buildstats_stats_summary_.+")).UsingGet())
            .AtPriority(5)
            .RespondWith(FakeBigQuery.Json(200, "BigQuery/results-stats-summary.json").WithDelay(TimeSpan.FromSeconds(60)));

        var clock = Stopwatch.StartNew();
        var error = await Assert.ThrowsAsync<StageStillRunningException>(() => StatsBuilder(bigQuery, bucket).BuildAsync(TestRuns.Parameters(), CancellationToken.None));

        Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(BudgetSeconds * 0.9), TimeSpan.FromSeconds(BudgetSeconds + 4));
        var plan = new SqlPlan(FakeBigQuery.Options(), TestRuns.Parameters());
        Assert.Equal(plan.StatsSummary().JobId(), error.JobId);

        // The next delivery: BigQuery knows every job id already (409) and the read is quick again.
        bigQuery.Server.Reset();
        bigQuery.WithJobsThatSucceed().AsRedelivery()
            .WithResults(Stages.BuildStats, "stats_summary", "BigQuery/results-stats-summary.json")
            .WithExport(Stages.BuildStats, "stats_export", fileCount: 1, rowCount: 3);
        await bucket.WriteAsync(ExportedParts.Name(Prefix, 0), new byte[] { 1 }, ContentTypes.Parquet, null, CancellationToken.None);

        var summary = await StatsBuilder(bigQuery, bucket).BuildAsync(TestRuns.Parameters(), CancellationToken.None);

        Assert.Equal(3, summary.Customers);
        Assert.Equal([plan.Stats().JobId(), plan.StatsSummary().JobId(), plan.StatsExport().JobId()],
            bigQuery.InsertedJobs().Select(j => (string)j["jobReference"]!["jobId"]!));
    }

    [Fact]
    public async Task A_slow_bucket_ends_the_delivery_at_the_budget_too()
    {
        using var bigQuery = new FakeBigQuery().WithJobsThatSucceed()
            .WithResults(Stages.BuildStats, "stats_summary", "BigQuery/results-stats-summary.json")
            .WithExport(Stages.BuildStats, "stats_export", fileCount: 1, rowCount: 3);
        using var directory = new TemporaryDirectory();
        var bucket = new SlowBucket(new FileSystemBucket(directory.Path), TimeSpan.FromSeconds(60));

        var clock = Stopwatch.StartNew();
        var error = await Assert.ThrowsAsync<StageStillRunningException>(() => StatsBuilder(bigQuery, bucket).BuildAsync(TestRuns.Parameters(), CancellationToken.None));

        Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(BudgetSeconds * 0.9), TimeSpan.FromSeconds(BudgetSeconds + 4));
        Assert.Equal(new SqlPlan(FakeBigQuery.Options(), TestRuns.Parameters()).StatsExport().JobId(), error.JobId);
    }

    [Fact]
    public async Task Ten_million_customers_cost_BuildStats_the_memory_and_requests_of_a_thousand() =>
        await AssertFlatAsync(BuildStats);

    [Fact]
    public async Task Ten_million_customers_cost_Predict_the_memory_and_requests_of_a_thousand() =>
        await AssertFlatAsync(Predict);

    private async Task AssertFlatAsync(ExportingStage stage)
    {
        // A first run, not measured, compiles the code paths and opens the first connections. On a loaded machine that
        // alone can outlast a delivery's budget, and then the deliveries do not go as the scenario describes: so its
        // outcome does not count, only the two measured runs after it.
        try
        {
            await OverThreeDeliveriesAsync(stage, customers: 1_000);
        }
        catch (Xunit.Sdk.XunitException)
        {
        }
        var small = await OverThreeDeliveriesAsync(stage, customers: 1_000);
        var large = await OverThreeDeliveriesAsync(stage, customers: 10_000_000);

        output.WriteLine($"{stage.Job.Stage}, 1,000 customers: {small}; 10,000,000 customers: {large}");
        AssertFlat(small, large);
    }

    private static void AssertFlat(ScenarioCost small, ScenarioCost large)
    {
        Assert.Equal(small.Requests, large.Requests);
        Assert.InRange(large.Polls, 1, small.Polls + 4); // polls follow the clock, not the rows
        // The same requests with the same bodies: what differs is a few digits in two answers.
        Assert.InRange(large.AllocatedBytes, 0, small.AllocatedBytes * 3 / 2 + 4_000_000);
        // The time is printed, not bounded: a wall-clock bound fails on a busy machine and proves nothing the requests,
        // polls and bytes above do not (speed is a benchmark's to measure).
    }

    /// <param name="Requests">The distinct requests (method and path) the deliveries made.</param>
    /// <param name="Polls">How often the deliveries asked whether a running job was done.</param>
    private sealed record ScenarioCost(long AllocatedBytes, TimeSpan Elapsed, int Requests, int Polls);

    /// <summary>
    /// A stage that runs one long job, reads a small result, and has BigQuery export a table into the bucket.
    /// </summary>
    /// <param name="Job">The long statement (the statistics table, the predictions table).</param>
    /// <param name="Result">The small query read after it (the summary, the segment sizes).</param>
    /// <param name="Answer">That query's documented answer for a number of customers.</param>
    /// <param name="RunAsync">One delivery of the stage.</param>
    /// <param name="Before">Quick statements the stage runs before the long job (done at once in BigQuery).</param>
    /// <param name="After">Quick statements it runs after the long job, before the small result.</param>
    private sealed record ExportingStage(SqlStatement Job, SqlStatement Result, SqlStatement Export, string Prefix,
        Func<long, string> Answer, Func<FakeBigQuery, IBucket, Task> RunAsync)
    {
        public IReadOnlyList<SqlStatement> Before { get; init; } = [];
        public IReadOnlyList<SqlStatement> After { get; init; } = [];
    }

    private static ExportingStage BuildStats
    {
        get
        {
            var plan = new SqlPlan(FakeBigQuery.Options(), TestRuns.Parameters());
            return new(plan.Stats(), plan.StatsSummary(), plan.StatsExport(), Prefix, Summary,
                (bigQuery, bucket) => StatsBuilder(bigQuery, bucket, budgetSeconds: 3).BuildAsync(TestRuns.Parameters(), CancellationToken.None));
        }
    }

    private static ExportingStage Predict
    {
        get
        {
            var plan = new SqlPlan(FakeBigQuery.Options(), TestRuns.Parameters());
            var model = TestRuns.Model();
            var audiences = new AudienceOptions();
            return new(plan.Predictions(model), plan.SegmentSizes(), plan.PredictionsExport(), BucketLayout.Predictions("run-1"), SegmentSizes,
                (bigQuery, bucket) => new BigQuerySegmentationEngine(bigQuery.CreateClient(), bucket, Gcp(bigQuery), TestRuns.Pipeline(3),
                        Options.Create(audiences), new RunLedger(bucket, TimeProvider.System), TimeProvider.System, NullLogger<BigQuerySegmentationEngine>.Instance)
                    .PredictAsync(TestRuns.Parameters(), model, CancellationToken.None))
            {
                // The segments-over-time tables and view, then (after ML.PREDICT) the movement and the run's rows.
                Before = [plan.CustomerSegmentsSetup(), plan.SegmentRunsSetup(), plan.LatestViewSetup()],
                After = [plan.Movement(null, null, audiences), plan.RecordSegments()],
            };
        }
    }

    // A running job's getQueryResults holds the request a while (a long poll), so polls follow the clock steadily.
    private static IResponseBuilder StillRunning() =>
        FakeBigQuery.Json(200, "BigQuery/results-incomplete.json").WithDelay(TimeSpan.FromMilliseconds(700));

    /// <summary>
    /// <paramref name="stage"/> for <paramref name="customers"/> customers over three deliveries: its long job
    /// outlasts the first, the export job the second, the third finds the export done (one file per 250,000 rows).
    /// </summary>
    private static async Task<ScenarioCost> OverThreeDeliveriesAsync(ExportingStage stage, long customers)
    {
        using var bigQuery = new FakeBigQuery();
        using var directory = new TemporaryDirectory();
        var bucket = new FileSystemBucket(directory.Path);
        var fileCount = Math.Max(1, customers / 250_000);
        var allocated = 0L;
        var elapsed = TimeSpan.Zero;

        async Task<Exception?> DeliverAsync()
        {
            GC.Collect();
            var before = GC.GetTotalAllocatedBytes(precise: true);
            var clock = Stopwatch.StartNew();
            Exception? error = null;
            try
            {
                await stage.RunAsync(bigQuery, bucket);
            }
            catch (StageStillRunningException e)
            {
                error = e;
            }
            elapsed += clock.Elapsed;
            allocated += GC.GetTotalAllocatedBytes(precise: true) - before;
            return error;
        }

        // Delivery 1: the quick statements finish, the long job is still running when the budget is spent.
        bigQuery.Server.Given(Request.Create().WithPath(FakeBigQuery.JobsPath).UsingPost()).AtPriority(100)
            .RespondWith(FakeBigQuery.Json(200, "BigQuery/job-running.json"));
        bigQuery.Server.Given(Request.Create().WithPath(new RegexMatcher($"^{FakeBigQuery.QueriesPath}.+")).UsingGet()).AtPriority(100)
            .RespondWith(StillRunning());
        foreach (var quick in stage.Before) Stub(bigQuery, quick, priority: 3, insert: 200, "BigQuery/job-done.json", "BigQuery/results-ddl-complete.json");
        var first = Assert.IsType<StageStillRunningException>(await DeliverAsync());
        Assert.Equal(stage.Job.JobId(), first.JobId);

        // Delivery 2: attaches to the long job (now done), reads the small result, starts the export, which runs on.
        foreach (var quick in stage.Before) Stub(bigQuery, quick, priority: 2, insert: 409, "BigQuery/job-done.json", "BigQuery/results-ddl-complete.json");
        foreach (var quick in stage.After) Stub(bigQuery, quick, priority: 2, insert: 200, "BigQuery/job-done.json", "BigQuery/results-ddl-complete.json");
        Stub(bigQuery, stage.Job, priority: 2, insert: 409, "BigQuery/job-done.json", "BigQuery/results-ddl-complete.json");
        Stub(bigQuery, stage.Result, priority: 2, insert: 200, "BigQuery/job-done.json", stage.Answer(customers));
        Stub(bigQuery, stage.Export, priority: 2, insert: 200, "BigQuery/job-running.json", "BigQuery/results-incomplete.json");
        // (On a loaded machine the budget may end before the export starts; the next delivery then starts it.)
        Assert.IsType<StageStillRunningException>(await DeliverAsync());

        // Meanwhile BigQuery writes the files. Delivery 3 attaches to every job and finds the export done.
        for (long i = 0; i < fileCount; i++)
            await bucket.WriteAsync(ExportedParts.Name(stage.Prefix, i), new byte[] { 1 }, ContentTypes.Parquet, null, CancellationToken.None);
        foreach (var quick in stage.After) Stub(bigQuery, quick, priority: 1, insert: 409, "BigQuery/job-done.json", "BigQuery/results-ddl-complete.json");
        Stub(bigQuery, stage.Result, priority: 1, insert: 409, "BigQuery/job-done.json", stage.Answer(customers));
        Stub(bigQuery, stage.Export, priority: 1, insert: 409, FakeBigQuery.ExportJob(fileCount, customers), "BigQuery/results-ddl-complete.json");
        Assert.Null(await DeliverAsync());

        // No statement got a second job: each job id was accepted (200) at most once, redeliveries attached (409).
        var accepted = bigQuery.Server.LogEntries
            .Where(e => e.RequestMessage.Method == "POST" && e.ResponseMessage.StatusCode is 200)
            .Select(e => (string)JsonNode.Parse(e.RequestMessage.Body!)!["jobReference"]!["jobId"]!)
            .ToList();
        Assert.Equal(accepted.Distinct().Count(), accepted.Count);
        Assert.Contains(stage.Job.JobId(), accepted);
        Assert.Equal(fileCount, (await bucket.ListAsync(stage.Prefix, CancellationToken.None)).Count);
        var requests = bigQuery.Server.LogEntries.Select(e => $"{e.RequestMessage.Method} {e.RequestMessage.AbsolutePath}").ToList();
        return new ScenarioCost(allocated, elapsed, requests.Distinct().Count(),
            bigQuery.Server.LogEntries.Count(e => e.ResponseMessage.BodyData?.BodyAsString?.Contains("\"jobComplete\": false", StringComparison.Ordinal) == true));
    }

    /// <summary>Answers for one statement's job: its insert (200 new or 409 known), its jobs.get and its results.</summary>
    /// <remarks>A later delivery's answers take a higher <paramref name="priority"/> (a lower number) than an earlier one's.</remarks>
    private static void Stub(FakeBigQuery bigQuery, SqlStatement statement, int priority, int insert, string job, string results)
    {
        var jobId = statement.JobId();
        bigQuery.Server.Given(Request.Create().WithPath(FakeBigQuery.JobsPath).UsingPost()
                .WithBody(new JsonPartialMatcher(new JsonObject { ["jobReference"] = new JsonObject { ["jobId"] = jobId } }.ToJsonString())))
            .AtPriority(priority)
            .RespondWith(insert == 409 ? FakeBigQuery.Json(409, "BigQuery/error-409-duplicate.json") : FakeBigQuery.Json(200, "BigQuery/job-running.json"));
        bigQuery.Server.Given(Request.Create().WithPath($"{FakeBigQuery.JobsPath}/{jobId}").UsingGet()).AtPriority(priority)
            .RespondWith(Body(job));
        bigQuery.Server.Given(Request.Create().WithPath($"{FakeBigQuery.QueriesPath}{jobId}").UsingGet()).AtPriority(priority)
            .RespondWith(results == "BigQuery/results-incomplete.json" ? StillRunning() : Body(results));
    }

    private static IResponseBuilder Body(string payloadOrJson) =>
        Response.Create().WithStatusCode(200).WithHeader("Content-Type", "application/json; charset=UTF-8")
            .WithBody(payloadOrJson.StartsWith('{') ? payloadOrJson : Payload.Text(payloadOrJson));

    /// <summary>The segment-sizes query's documented answer: half the customers Champions, 30 % At Risk, the rest Hibernating.</summary>
    private static string SegmentSizes(long customers)
    {
        var sizes = JsonNode.Parse(Payload.Text("BigQuery/results-segment-sizes.json"))!;
        var rows = new JsonArray();
        foreach (var (id, segment, count) in new[] { (1, "Champions", customers / 2), (2, "At Risk", customers * 3 / 10), (3, "Hibernating", customers - customers / 2 - customers * 3 / 10) })
            rows.Add(new JsonObject { ["f"] = new JsonArray(Cell(id), Cell(segment), Cell(count)) });
        sizes["rows"] = rows;
        sizes["totalRows"] = "3";
        return sizes.ToJsonString();

        static JsonObject Cell(object value) => new() { ["v"] = Convert.ToString(value, CultureInfo.InvariantCulture) };
    }

    /// <summary>The summary query's documented answer for <paramref name="customers"/> customers with three items each.</summary>
    private static string Summary(long customers)
    {
        var summary = JsonNode.Parse(Payload.Text("BigQuery/results-stats-summary.json"))!;
        var cells = summary["rows"]![0]!["f"]!;
        cells[0]!["v"] = customers.ToString(CultureInfo.InvariantCulture);
        cells[1]!["v"] = (customers * 3).ToString(CultureInfo.InvariantCulture);
        return summary.ToJsonString();
    }

    /// <summary>A bucket whose listing takes <paramref name="delay"/> (it honours cancellation, as an HTTP call does).</summary>
    private sealed class SlowBucket(IBucket inner, TimeSpan delay) : DelegatingBucket(inner)
    {
        public override async Task<IReadOnlyList<string>> ListAsync(string prefix, CancellationToken cancellationToken)
        {
            await Task.Delay(delay, cancellationToken);
            return await base.ListAsync(prefix, cancellationToken);
        }
    }
}

/// <summary>Runs <see cref="DeliveryBudgetTests"/> after the other tests, never beside them.</summary>
[CollectionDefinition(nameof(DeliveryBudgetTests), DisableParallelization = true)]
public sealed class DeliveryBudgetSequence;
