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
/// attaches to the jobs the first one started; a 10-million-customer BuildStats costs the function what a
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
    public async Task Ten_million_customers_cost_the_function_the_memory_requests_and_time_of_a_thousand()
    {
        // The small run goes first and so also pays for compiling the code paths: the comparison only gets stricter.
        var small = await BuildStatsOverThreeDeliveriesAsync(customers: 1_000);
        var large = await BuildStatsOverThreeDeliveriesAsync(customers: 10_000_000);

        output.WriteLine($"1,000 customers: {small}; 10,000,000 customers: {large}");
        Assert.Equal(small.Requests, large.Requests);
        Assert.InRange(large.Polls, 1, small.Polls + 4); // polls follow the clock, not the rows
        // The same requests with the same bodies: what differs is a few digits in two answers.
        Assert.InRange(large.AllocatedBytes, 0, small.AllocatedBytes * 3 / 2 + 4_000_000);
        Assert.InRange(large.Elapsed, TimeSpan.Zero, small.Elapsed + TimeSpan.FromSeconds(1.5));
    }

    /// <param name="Requests">The distinct requests (method and path) the deliveries made.</param>
    /// <param name="Polls">How often the deliveries asked whether a running job was done.</param>
    private sealed record ScenarioCost(long AllocatedBytes, TimeSpan Elapsed, int Requests, int Polls);

    // A running job's getQueryResults holds the request a while (a long poll), so polls follow the clock steadily.
    private static IResponseBuilder StillRunning() =>
        FakeBigQuery.Json(200, "BigQuery/results-incomplete.json").WithDelay(TimeSpan.FromMilliseconds(700));

    /// <summary>
    /// BuildStats of <paramref name="customers"/> customers over three deliveries: the statistics job outlasts the
    /// first, the export job the second, the third finds the export done (one file per 250,000 customers).
    /// </summary>
    private static async Task<ScenarioCost> BuildStatsOverThreeDeliveriesAsync(long customers)
    {
        using var bigQuery = new FakeBigQuery();
        using var directory = new TemporaryDirectory();
        var bucket = new FileSystemBucket(directory.Path);
        var plan = new SqlPlan(FakeBigQuery.Options(), TestRuns.Parameters());
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
                await StatsBuilder(bigQuery, bucket, budgetSeconds: 3).BuildAsync(TestRuns.Parameters(), CancellationToken.None);
            }
            catch (StageStillRunningException e)
            {
                error = e;
            }
            elapsed += clock.Elapsed;
            allocated += GC.GetTotalAllocatedBytes(precise: true) - before;
            return error;
        }

        // Delivery 1: the statistics job is still running when the budget is spent.
        bigQuery.Server.Given(Request.Create().WithPath(FakeBigQuery.JobsPath).UsingPost()).AtPriority(100)
            .RespondWith(FakeBigQuery.Json(200, "BigQuery/job-running.json"));
        bigQuery.Server.Given(Request.Create().WithPath(new RegexMatcher($"^{FakeBigQuery.QueriesPath}.+")).UsingGet()).AtPriority(100)
            .RespondWith(StillRunning());
        var first = Assert.IsType<StageStillRunningException>(await DeliverAsync());
        Assert.Equal(plan.Stats().JobId(), first.JobId);

        // Delivery 2: attaches to the statistics job (now done), reads the summary, starts the export, which runs on.
        Stub(bigQuery, plan.Stats(), priority: 2, insert: 409, "BigQuery/job-done.json", "BigQuery/results-ddl-complete.json");
        Stub(bigQuery, plan.StatsSummary(), priority: 2, insert: 200, "BigQuery/job-done.json", Summary(customers));
        Stub(bigQuery, plan.StatsExport(), priority: 2, insert: 200, "BigQuery/job-running.json", "BigQuery/results-incomplete.json");
        // (On a loaded machine the budget may end before the export starts; the next delivery then starts it.)
        Assert.IsType<StageStillRunningException>(await DeliverAsync());

        // Meanwhile BigQuery writes the files. Delivery 3 attaches to every job and finds the export done.
        for (long i = 0; i < fileCount; i++)
            await bucket.WriteAsync(ExportedParts.Name(Prefix, i), new byte[] { 1 }, ContentTypes.Parquet, null, CancellationToken.None);
        Stub(bigQuery, plan.StatsSummary(), priority: 1, insert: 409, "BigQuery/job-done.json", Summary(customers));
        Stub(bigQuery, plan.StatsExport(), priority: 1, insert: 409, FakeBigQuery.ExportJob(fileCount, customers), "BigQuery/results-ddl-complete.json");
        Assert.Null(await DeliverAsync());

        // No statement got a second job: each job id was accepted (200) at most once, redeliveries attached (409).
        var accepted = bigQuery.Server.LogEntries
            .Where(e => e.RequestMessage.Method == "POST" && e.ResponseMessage.StatusCode is 200)
            .Select(e => (string)JsonNode.Parse(e.RequestMessage.Body!)!["jobReference"]!["jobId"]!)
            .ToList();
        Assert.Equal(accepted.Distinct().Count(), accepted.Count);
        Assert.Contains(plan.Stats().JobId(), accepted);
        Assert.Equal(fileCount, (await bucket.ListAsync(Prefix, CancellationToken.None)).Count);
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
