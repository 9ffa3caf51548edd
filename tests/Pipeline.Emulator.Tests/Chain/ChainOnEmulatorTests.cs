using System.Net;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Pipeline.Campaigns;
using Pipeline.Core;
using Pipeline.Emulator.Tests.Support;
using Pipeline.Hosting.PubSub;

namespace Pipeline.Emulator.Tests.Chain;

/// <summary>
/// The whole chain over real HTTP and a real Pub/Sub (the emulator), on the embedded backend: each test gets its own
/// five hosts, topics and bucket directory, and sees every message published.
/// </summary>
[Collection(EmulatorTests.Name)]
public sealed class ChainOnEmulatorTests(PubSubEmulator emulator, SampleOrders sample) : IAsyncLifetime
{
    private static readonly string[] ChainTopics =
        [Topics.StatsReady, Topics.ModelTrained, Topics.PredictionsReady, Topics.ChartRendered, Topics.RunCompleted];

    private ServedChain? chain;

    public Task InitializeAsync() => Task.CompletedTask;

    private ServedChain Chain => chain ?? throw new InvalidOperationException("the test did not start the chain");

    private async Task StartAsync(Func<string, Action<IServiceCollection>?>? replace = null) =>
        chain = await ServedChain.StartAsync(emulator, sample, replace);

    public async Task DisposeAsync()
    {
        if (chain is not null) await chain.DisposeAsync();
    }

    private static string Trigger(string runId, int k = 4) =>
        $$"""{"run_id":"{{runId}}","window_start":"2025-01-01","window_end":"2026-01-01","k":{{k}}}""";

    [Fact]
    public async Task A_trigger_runs_the_chain_through_the_emulator_to_run_completed()
    {
        await StartAsync();
        const string runId = "emulator-e2e";

        await Chain.PublishAsync(Topics.Trigger, Trigger(runId));
        var completed = await Chain.WaitForAsync(Topics.RunCompleted, runId);

        var manifest = Chain.Manifest(runId);
        Assert.Equal(RunStatus.Completed, manifest.Status);
        Assert.Null(manifest.Error);
        Assert.Equal(Stages.All.Order(), manifest.Stages.Keys.Order());
        Assert.All(manifest.Stages.Values, s => Assert.Equal((StageStatus.Completed, 1), (s.Status, s.Attempts)));
        Assert.Equal(new DateOnly(2025, 1, 1), manifest.Parameters!.WindowStart);

        // Every output of the contract is in the bucket, and is what it says it is.
        foreach (var file in BucketLayout.Files(runId).Values.Where(f => !f.EndsWith('/')))
            Assert.True(new FileInfo(Chain.PathOf(file)).Length > 0, $"{file} is missing or empty");
        foreach (var table in new[] { BucketLayout.CustomerStats(runId), BucketLayout.Predictions(runId) })
            Assert.Equal("PAR1"u8.ToArray(), File.ReadAllBytes(Chain.PathOf(BucketLayout.Part(table, 0)))[..4]);
        Assert.Equal(new byte[] { 0x89, 0x50, 0x4E, 0x47 }, File.ReadAllBytes(Chain.PathOf(BucketLayout.Chart(runId)))[..4]);
        var model = PipelineJson.Deserialize<SegmentModel>(File.ReadAllBytes(Chain.PathOf(BucketLayout.Model(runId))));
        Assert.Equal(4, model.K);
        Assert.Equal([1, 2, 3, 4], model.Centroids.Select(c => c.CentroidId));
        Assert.Equal(manifest.Metrics["customers"], model.TrainingCustomers + model.TestCustomers);
        Assert.Equal(5, File.ReadAllLines(Chain.PathOf(BucketLayout.Centroids(runId))).Count(l => l.Length > 0)); // header + 4
        var campaign = PipelineJson.Deserialize<CampaignDocument>(File.ReadAllBytes(Chain.PathOf(BucketLayout.CampaignJson(runId))));
        Assert.Equal([1, 2, 3, 4], campaign.Segments.Select(s => s.CentroidId).Order());
        Assert.Equal(runId, PipelineJson.Deserialize<LatestRun>(File.ReadAllBytes(Chain.PathOf(BucketLayout.Latest))).RunId);

        // run-completed says where the outputs are; each topic of the chain carried one message, each named its run.
        var done = PipelineJson.Deserialize<RunCompleted>(completed.Data.Span);
        Assert.Equal(BucketLayout.Files(runId), done.Files);
        Assert.Equal(Stages.GenerateCampaign, completed.Attributes["stage"]);
        await Chain.SettleAsync(TimeSpan.FromSeconds(1));
        Assert.All(ChainTopics, topic => Assert.Single(Chain.Published(topic, runId)));
        Assert.Empty(Chain.Published(Topics.RunFailed, _ => true));
        // Every function acknowledged its one delivery the first time.
        Assert.Equal(Stages.All.Order(), Chain.Deliveries.Select(d => d.Stage).Order());
        Assert.All(Chain.Deliveries, d => Assert.Null(d.Error));
    }

    [Fact]
    public async Task The_same_push_delivered_three_times_makes_one_run()
    {
        await StartAsync();
        var buildStats = Chain.Functions.Single(f => f.Declaration.Stage == Stages.BuildStats).Url;
        // A trigger without a run id, as Cloud Scheduler sends it: the run is named from the message id and publish time.
        const string messageId = "9000000001";
        var data = Convert.ToBase64String("""{"window_start":"2025-01-01","window_end":"2026-01-01"}"""u8);
        var push = $$$"""
            {"subscription":"projects/test-project/subscriptions/{{{Chain.Prefix}}}segmentation-trigger-buildstats",
             "message":{"data":"{{{data}}}","attributes":{"stage":"trigger"},"messageId":"{{{messageId}}}","message_id":"{{{messageId}}}",
                        "publishTime":"2026-01-01T06:00:00.123Z","publish_time":"2026-01-01T06:00:00.123Z"}}
            """;
        var runId = RunId.FromMessage(messageId, DateTimeOffset.Parse("2026-01-01T06:00:00.123Z", System.Globalization.CultureInfo.InvariantCulture));

        using var http = new HttpClient();
        for (var delivery = 1; delivery <= 3; delivery++)
        {
            using var response = await http.PostAsync(buildStats, new StringContent(push, Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        }
        await Chain.WaitForAsync(Topics.RunCompleted, runId);
        await Chain.SettleAsync(TimeSpan.FromSeconds(1.5));

        Assert.Equal([runId], Directory.GetDirectories(Chain.PathOf("runs")).Select(Path.GetFileName));
        var manifest = Chain.Manifest(runId);
        Assert.Equal(RunStatus.Completed, manifest.Status);
        Assert.Equal(1, manifest.Stages[Stages.BuildStats].Attempts);
        Assert.All(ChainTopics, topic => Assert.Single(Chain.Published(topic, runId)));
        Assert.Equal(3, Chain.Deliveries.Count(d => d.Stage == Stages.BuildStats && d.MessageId == messageId && d.Error is null));

        // A second trigger for a run already done (a re-sent Scheduler job) changes nothing and publishes nothing.
        var before = File.ReadAllBytes(Chain.PathOf(BucketLayout.Manifest(runId)));
        var again = await Chain.PublishAsync(Topics.Trigger,
            $$"""{"run_id":"{{runId}}","window_start":"2025-01-01","window_end":"2026-01-01"}""");
        await WaitUntilAsync(() => Chain.Deliveries.Any(d => d.MessageId == again));
        await Chain.SettleAsync(TimeSpan.FromSeconds(1.5));
        Assert.Equal(before, File.ReadAllBytes(Chain.PathOf(BucketLayout.Manifest(runId))));
        Assert.All(ChainTopics, topic => Assert.Single(Chain.Published(topic, runId)));
    }

    [Fact]
    public async Task A_function_that_answers_500_once_is_retried_by_the_emulator_and_the_run_completes()
    {
        // TrainModel's first publish fails as a Pub/Sub outage would: the stage throws, its host answers 500, and the
        // emulator delivers stats-ready again after the subscription's backoff.
        var flaky = new FailingFirstPublish();
        await StartAsync(stage => stage == Stages.TrainModel
            ? services => services.AddSingleton<IMessagePublisher>(sp => flaky.Wrap(sp.GetRequiredService<PubSubRestPublisher>()))
            : null);
        const string runId = "emulator-retry";

        await Chain.PublishAsync(Topics.Trigger, Trigger(runId));
        await Chain.WaitForAsync(Topics.RunCompleted, runId);

        var trainModel = Chain.Deliveries.Where(d => d.Stage == Stages.TrainModel).ToList();
        Assert.Equal(2, trainModel.Count);
        Assert.Equal(trainModel[0].MessageId, trainModel[1].MessageId); // the same message, delivered again
        Assert.IsType<HttpRequestException>(trainModel[0].Error);
        Assert.Null(trainModel[1].Error);
        var manifest = Chain.Manifest(runId);
        Assert.Equal(RunStatus.Completed, manifest.Status);
        Assert.Equal((StageStatus.Completed, 2, null), (manifest.Stages[Stages.TrainModel].Status, manifest.Stages[Stages.TrainModel].Attempts,
            manifest.Stages[Stages.TrainModel].LastError));
        await Chain.SettleAsync(TimeSpan.FromSeconds(1));
        Assert.All(ChainTopics, topic => Assert.Single(Chain.Published(topic, runId)));
    }

    public static TheoryData<string, string, string> MalformedTriggers => new()
    {
        // body, the run it is recorded under ("derived": named from the message), part of the reason
        { "this is not JSON", "derived", "not valid JSON" },
        { """{"run_id":"bad-types","k":"five"}""", "bad-types", "k must be a whole number" },
        { """{"run_id":"bad-seed","seed":"42"}""", "bad-seed", "seed must be a whole number" },
        { """{"run_id":"unknown-fields","colour":"red","k":3}""", "unknown-fields", "unknown field in the trigger: colour" },
        { """{"run_id":"../../etc/passwd"}""", "derived", "run_id '../../etc/passwd' is invalid" },
        { """{"run_id":"bad-window","window_start":"2026-01-01","window_end":"2025-01-01"}""", "bad-window", "must be after window_start" },
    };

    [Fact]
    public async Task Malformed_triggers_fail_their_run_with_the_reason_and_are_not_redelivered()
    {
        await StartAsync();
        var published = new List<(string MessageId, string RunId, string Reason)>();
        foreach (var row in MalformedTriggers)
        {
            var (body, run, reason) = ((string)row[0], (string)row[1], (string)row[2]);
            var messageId = await Chain.PublishAsync(Topics.Trigger, body);
            published.Add((messageId, run, reason));
        }

        var failures = new List<RunFailed>();
        foreach (var (messageId, expectedRun, reason) in published)
        {
            // A derived run id ends with the message id (CONTRACT.md: named from message id and publish time).
            bool Matches(string id) => expectedRun == "derived" ? id.EndsWith("-" + messageId, StringComparison.Ordinal) : id == expectedRun;
            var failedMessage = await Chain.WaitForAsync(Topics.RunFailed, Matches);
            var failed = PipelineJson.Deserialize<RunFailed>(failedMessage.Data.Span);
            Assert.Equal(Stages.BuildStats, failed.Stage);
            Assert.Contains(reason, failed.Reason, StringComparison.Ordinal);
            failures.Add(failed);
        }

        // Each was acknowledged at its first delivery: no retry, no second run-failed, nothing further down the chain.
        await Chain.SettleAsync(TimeSpan.FromSeconds(2.5));
        // Read once the deliveries are over: the manifest records the announcement after run-failed is published.
        foreach (var failed in failures)
        {
            var manifest = Chain.Manifest(failed.RunId);
            Assert.Equal(RunStatus.Failed, manifest.Status);
            Assert.Equal(new RunError(Stages.BuildStats, failed.Reason, Announced: true), manifest.Error);
        }
        foreach (var (messageId, _, _) in published)
            Assert.Null(Assert.Single(Chain.Deliveries, d => d.MessageId == messageId).Error);
        Assert.Equal(published.Count, Chain.Published(Topics.RunFailed, _ => true).Count);
        Assert.Empty(Chain.Published(Topics.StatsReady, _ => true));
    }

    [Fact]
    public async Task A_malformed_message_inside_the_chain_fails_the_run_it_names()
    {
        await StartAsync();
        var messageId = await Chain.PublishAsync(Topics.StatsReady, """{"run_id":"mid-chain","stats_object":42}""",
            new Dictionary<string, string> { ["run_id"] = "mid-chain", ["stage"] = Stages.BuildStats });

        var failed = PipelineJson.Deserialize<RunFailed>((await Chain.WaitForAsync(Topics.RunFailed, "mid-chain")).Data.Span);

        Assert.Equal(Stages.TrainModel, failed.Stage);
        Assert.Contains("not a valid StatsReady", failed.Reason, StringComparison.Ordinal);
        Assert.Equal(RunStatus.Failed, Chain.Manifest("mid-chain").Status);
        await Chain.SettleAsync(TimeSpan.FromSeconds(2));
        Assert.Null(Assert.Single(Chain.Deliveries, d => d.MessageId == messageId).Error);
    }

    [Fact]
    public async Task Two_runs_triggered_at_once_complete_with_separate_outputs()
    {
        await StartAsync();

        await Task.WhenAll(Chain.PublishAsync(Topics.Trigger, Trigger("together-a", k: 3)),
            Chain.PublishAsync(Topics.Trigger, Trigger("together-b", k: 6)));
        await Task.WhenAll(Chain.WaitForAsync(Topics.RunCompleted, "together-a"), Chain.WaitForAsync(Topics.RunCompleted, "together-b"));

        foreach (var (runId, k) in new[] { ("together-a", 3), ("together-b", 6) })
        {
            var manifest = Chain.Manifest(runId);
            Assert.Equal(RunStatus.Completed, manifest.Status);
            Assert.All(manifest.Stages.Values, s => Assert.Equal(StageStatus.Completed, s.Status));
            Assert.Equal(k, PipelineJson.Deserialize<SegmentModel>(File.ReadAllBytes(Chain.PathOf(BucketLayout.Model(runId)))).K);
            Assert.Equal(k, PipelineJson.Deserialize<CampaignDocument>(File.ReadAllBytes(Chain.PathOf(BucketLayout.CampaignJson(runId)))).Segments.Count);
            Assert.Equal(k + 1, File.ReadAllLines(Chain.PathOf(BucketLayout.Centroids(runId))).Count(l => l.Length > 0));
        }
        await Chain.SettleAsync(TimeSpan.FromSeconds(1));
        foreach (var runId in new[] { "together-a", "together-b" })
            Assert.All(ChainTopics, topic => Assert.Single(Chain.Published(topic, runId)));
        Assert.Contains(PipelineJson.Deserialize<LatestRun>(File.ReadAllBytes(Chain.PathOf(BucketLayout.Latest))).RunId, new[] { "together-a", "together-b" });
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        for (var waited = 0; waited < 600 && !condition(); waited++) await Task.Delay(100);
        Assert.True(condition(), "timed out");
    }

    /// <summary>Fails the first publish through it, then passes every publish on.</summary>
    private sealed class FailingFirstPublish
    {
        private int calls;

        public IMessagePublisher Wrap(IMessagePublisher inner) => new Publisher(this, inner);

        private sealed class Publisher(FailingFirstPublish state, IMessagePublisher inner) : IMessagePublisher
        {
            public Task<string> PublishAsync(string topic, ReadOnlyMemory<byte> data, IReadOnlyDictionary<string, string> attributes,
                CancellationToken cancellationToken) =>
                Interlocked.Increment(ref state.calls) == 1
                    ? throw new HttpRequestException("Pub/Sub answered 503 (test)")
                    : inner.PublishAsync(topic, data, attributes, cancellationToken);
        }
    }
}
