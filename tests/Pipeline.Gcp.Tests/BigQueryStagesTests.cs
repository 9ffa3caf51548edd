using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Pipeline.Core;
using Pipeline.Embedded;

namespace Pipeline.Gcp.Tests;

/// <summary>
/// BuildStats, TrainModel, Predict and RenderChart on the GCP backend, against WireMock answering every statement
/// with BigQuery's documented payloads; the bucket is a local directory so the Parquet files can be read back.
/// </summary>
public sealed class BigQueryStagesTests : IDisposable
{
    private readonly FakeBigQuery _bigQuery = new FakeBigQuery().WithJobsThatSucceed();
    private readonly TemporaryDirectory _directory = new();
    private readonly FileSystemBucket _bucket;

    public BigQueryStagesTests() => _bucket = new FileSystemBucket(_directory.Path);

    private static IOptions<GcpOptions> Gcp => Options.Create(FakeBigQuery.Options());

    private BigQueryStatsBuilder StatsBuilder() =>
        new(_bigQuery.CreateClient(), _bucket, Gcp, TestRuns.Pipeline(), TimeProvider.System, NullLogger<BigQueryStatsBuilder>.Instance);

    private BigQuerySegmentationEngine Engine() =>
        new(_bigQuery.CreateClient(), _bucket, Gcp, TestRuns.Pipeline(), Options.Create(new AudienceOptions()), new RunLedger(_bucket, TimeProvider.System),
            TimeProvider.System, NullLogger<BigQuerySegmentationEngine>.Instance);

    [Fact]
    public async Task BuildStats_materializes_the_table_and_puts_customer_stats_parquet_in_the_bucket()
    {
        _bigQuery.WithResults(Stages.BuildStats, "stats_summary", "BigQuery/results-stats-summary.json");
        _bigQuery.Server.Given(WireMock.RequestBuilders.Request.Create()
                .WithPath(new WireMock.Matchers.RegexMatcher($"^{FakeBigQuery.QueriesPath}.+_buildstats_stats_download_.+")).UsingGet()
                .WithParam("pageToken", "BFQ2ZDIAAAAAAAA2ADIAAAAAAAA2AAAAAAAAAAQ=")).AtPriority(5)
            .RespondWith(FakeBigQuery.Json(200, "BigQuery/results-stats-page2.json"));
        _bigQuery.WithResults(Stages.BuildStats, "stats_download", "BigQuery/results-stats-page1.json");

        var summary = await StatsBuilder().BuildAsync(TestRuns.Parameters(), CancellationToken.None);

        Assert.Equal(new StatsSummary(3, 9, BucketLayout.CustomerStats("run-1")), summary);
        Assert.Equal(["stats", "stats_summary", "stats_download"], _bigQuery.InsertedJobs().Select(Key));
        using var connection = BigQueryOnDuckDb.Open();
        var rows = DuckDb.Scalar<string>(connection, $"""
            SELECT string_agg(concat_ws('|', user_id, days_since_last_order, count_orders, average_spend, typeof(user_id), typeof(count_orders)), ';' ORDER BY user_id)
            FROM read_parquet({DuckDb.Literal(_bucket.Describe(summary.StatsObject) + "*.parquet")})
            """);
        Assert.Equal("11|12|2|85.5|BIGINT|BIGINT;42|300|1|19.99|BIGINT|BIGINT;77|3|5|240.125|BIGINT|BIGINT", rows);
    }

    [Fact]
    public async Task TrainModel_with_a_fixed_k_builds_the_model_from_ML_CENTROIDS_and_ML_EVALUATE()
    {
        _bigQuery.WithResults(Stages.TrainModel, "training_summary", "BigQuery/results-training-summary.json")
            .WithResults(Stages.TrainModel, "evaluate", "BigQuery/results-evaluate-k3.json")
            .WithResults(Stages.TrainModel, "centroids", "BigQuery/results-centroids-k3.json")
            .WithResults(Stages.TrainModel, "training_info", "BigQuery/results-training-info-k3.json");

        var model = await Engine().TrainAsync(TestRuns.Parameters(k: 3), previous: null, CancellationToken.None);

        Assert.Equal(["split", "training_summary", "model_k3", "model_k3_expiration", "evaluate", "centroids", "training_info"],
            _bigQuery.InsertedJobs().Select(Key));
        Assert.Equal(BigQuerySegmentationEngine.Engine, model.Engine);
        Assert.Equal(3, model.K);
        Assert.Equal("fixed", model.KSelection);
        Assert.Equal(new ModelMetrics(0.873123, 1.204568, 0.987654), model.Metrics);
        Assert.Equal(7, model.Iterations);
        Assert.Equal((800L, 200L), (model.TrainingCustomers, model.TestCustomers));
        Assert.Equal([140.2, 1.7, 98.6], model.Standardization.Means);
        Assert.Equal([95.3, 0.9, 80.1], model.Standardization.StdDevs);
        // The centroids are ML.CENTROIDS' in original units, each keeping BigQuery ML's id beside the stable one.
        var byEngineId = model.Centroids.ToDictionary(c => c.EngineCentroidId!.Value);
        Assert.Equal((30.5, 3.2, 150.5), (byEngineId[1].DaysSinceLastOrder, byEngineId[1].CountOrders, byEngineId[1].AverageSpend));
        Assert.Equal((250.25, 1.1, 45.25), (byEngineId[2].DaysSinceLastOrder, byEngineId[2].CountOrders, byEngineId[2].AverageSpend));
        Assert.Equal((120.0, 1.6, 310.0), (byEngineId[3].DaysSinceLastOrder, byEngineId[3].CountOrders, byEngineId[3].AverageSpend));
        Assert.Equal([1, 2, 3], model.Centroids.Select(c => c.CentroidId).Order());
    }

    [Fact]
    public async Task TrainModel_with_auto_k_trains_every_candidate_and_keeps_the_lowest_Davies_Bouldin_index_ties_to_the_smaller_k()
    {
        _bigQuery.WithResults(Stages.TrainModel, "training_summary", "BigQuery/results-training-summary.json")
            .WithResults(Stages.TrainModel, "evaluate", "BigQuery/results-evaluate-auto.json")
            .WithResults(Stages.TrainModel, "centroids", "BigQuery/results-centroids-auto.json")
            .WithResults(Stages.TrainModel, "training_info", "BigQuery/results-training-info-auto.json");

        var model = await Engine().TrainAsync(TestRuns.Parameters(k: null), previous: null, CancellationToken.None);

        var keys = _bigQuery.InsertedJobs().Select(Key).ToList();
        Assert.Equal(SqlPlan.AutoCandidates.Select(k => $"model_k{k}"), keys.Where(k => k.StartsWith("model_k", StringComparison.Ordinal) && !k.EndsWith("_expiration", StringComparison.Ordinal)));
        // Every candidate's CREATE MODEL is started before any of them is waited for.
        Assert.True(keys.IndexOf("model_k8") < keys.IndexOf("model_k2_expiration"));
        Assert.Equal(3, model.K); // k = 3 and k = 4 both score 0.92
        Assert.StartsWith("auto: lowest Davies-Bouldin index on held-out customers (k=2: 1.1, k=3: 0.92, k=4: 0.92", model.KSelection, StringComparison.Ordinal);
        Assert.Equal(0.92, model.Metrics.DaviesBouldinIndex);
        Assert.Equal(7, model.Iterations);
    }

    [Fact]
    public async Task TrainModel_with_fewer_training_customers_than_k_fails_the_run_permanently_before_training()
    {
        _bigQuery.WithResults(Stages.TrainModel, "training_summary", "BigQuery/results-training-summary-three-customers.json");

        var error = await Assert.ThrowsAsync<PermanentPipelineException>(() =>
            Engine().TrainAsync(TestRuns.Parameters(k: 3), previous: null, CancellationToken.None));

        Assert.Equal("too few customers for k = 3: 3 customers in the window, 2 of them in the training split", error.Message);
        Assert.Equal(["split", "training_summary"], _bigQuery.InsertedJobs().Select(Key));
    }

    [Fact]
    public async Task Predict_maps_engine_ids_to_stable_ids_by_parameter_and_writes_predictions_parquet()
    {
        _bigQuery.WithResults(Stages.Predict, "segment_sizes", "BigQuery/results-segment-sizes.json")
            .WithResults(Stages.Predict, "predictions_download", "BigQuery/results-predictions.json");
        var model = Model();

        var sizes = await Engine().PredictAsync(TestRuns.Parameters(), model, CancellationToken.None);

        Assert.Equal([new SegmentSize(1, "Champions", 1), new SegmentSize(2, "At Risk", 0), new SegmentSize(3, "Hibernating", 1)], sizes);
        Assert.Equal(["customer_segments_table", "segment_runs_table", "customer_segments_latest_view", "predictions", "movement", "customer_segments_rows",
            "segment_sizes", "predictions_download"], _bigQuery.InsertedJobs().Select(Key));
        var predictions = _bigQuery.InsertedJobs()[3]["configuration"]!["query"]!;
        var parameters = ((System.Text.Json.Nodes.JsonArray)predictions["queryParameters"]!).ToDictionary(p => (string)p!["name"]!, p => p!);
        // BigQuery ML's centroid 1 is stable id 3, 2 is 1, 3 is 2.
        Assert.Equal(["3", "1", "2"], ((System.Text.Json.Nodes.JsonArray)parameters["centroid_ids"]["parameterValue"]!["arrayValues"]!).Select(v => (string?)v!["value"]));
        Assert.Equal(["Hibernating", "Champions", "At Risk"], ((System.Text.Json.Nodes.JsonArray)parameters["segments"]["parameterValue"]!["arrayValues"]!).Select(v => (string?)v!["value"]));
        Assert.Contains("ML.PREDICT(MODEL `my-project.segmentation.model_run_1_k3`", (string)predictions["query"]!, StringComparison.Ordinal);
        // The first run (no matched run): no previous rows to join; the control group's salt and share as parameters.
        var movement = _bigQuery.InsertedJobs()[4]["configuration"]!["query"]!;
        var movementParameters = ((System.Text.Json.Nodes.JsonArray)movement["queryParameters"]!).ToDictionary(p => (string)p!["name"]!, p => (string?)p!["parameterValue"]!["value"]);
        Assert.Equal("", movementParameters["previous_run_id"]);
        Assert.Equal(Analytics.ControlGroup.SaltSeed(new AudienceOptions().ControlGroupSalt).ToString(System.Globalization.CultureInfo.InvariantCulture), movementParameters["control_seed"]);
        Assert.Equal("1000", movementParameters["control_threshold"]);

        using var connection = BigQueryOnDuckDb.Open();
        var rows = DuckDb.Scalar<string>(connection, $"""
            SELECT string_agg(concat_ws('|', user_id, centroid_id, distance, segment, days_since_last_order, count_orders, average_spend, typeof(centroid_id),
                coalesce(CAST(previous_segment_id AS VARCHAR), 'null'), segment_since, run_as_of, control_group, typeof(previous_segment_id), typeof(segment_since), typeof(control_group)), ';' ORDER BY user_id)
            FROM read_parquet({DuckDb.Literal(_bucket.Describe(BucketLayout.Predictions("run-1")) + "*.parquet")})
            """);
        Assert.Equal("11|1|0.4123|Champions|12|4|185.5|INTEGER|3|2022-12-01|2023-01-01|false|INTEGER|DATE|BOOLEAN;" +
            "42|3|1.0625|Hibernating|300|1|19.99|INTEGER|null|2023-01-01|2023-01-01|true|INTEGER|DATE|BOOLEAN", rows);
    }

    [Fact]
    public async Task RenderChart_reads_the_stratified_sample()
    {
        _bigQuery.WithResults(Stages.RenderChart, "chart_sample", "BigQuery/results-chart-sample.json");

        var points = await Engine().SampleForChartAsync(TestRuns.Parameters(), 30_000, CancellationToken.None);

        Assert.Equal([new ChartPoint(12, 185.5, 1), new ChartPoint(30, 150.0, 1), new ChartPoint(300, 19.99, 3)], points);
    }

    private static SegmentModel Model() => new(
        "run-1", BigQuerySegmentationEngine.Engine, 3, "fixed", Features.All,
        new Standardization([140.2, 1.7, 98.6], [95.3, 0.9, 80.1]),
        [
            new Centroid(1, "Champions", 30.5, 3.2, 150.5, new RfmScore(5, 5, 4), EngineCentroidId: 2),
            new Centroid(2, "At Risk", 250.25, 1.1, 45.25, new RfmScore(1, 3, 2), EngineCentroidId: 3),
            new Centroid(3, "Hibernating", 120.0, 1.6, 310.0, new RfmScore(2, 1, 1), EngineCentroidId: 1),
        ],
        new ModelMetrics(0.87, 1.2, 0.98), 7, 800, 200, 42, null);

    private static string Key(System.Text.Json.Nodes.JsonNode job)
    {
        var id = (string)job["jobReference"]!["jobId"]!;
        var match = System.Text.RegularExpressions.Regex.Match(id, "^segmentation_run_1_[a-z]+?_(.+)_[0-9a-f]{12}_[0-9]+$");
        return match.Groups[1].Value;
    }

    public void Dispose()
    {
        _bigQuery.Dispose();
        _directory.Dispose();
    }
}
