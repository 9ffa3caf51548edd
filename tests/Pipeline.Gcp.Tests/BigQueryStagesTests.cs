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
    public async Task BuildStats_materializes_the_table_and_has_BigQuery_export_it_as_Parquet_parts_into_the_run_folder()
    {
        _bigQuery.WithResults(Stages.BuildStats, "stats_summary", "BigQuery/results-stats-summary.json")
            .WithExport(Stages.BuildStats, "stats_export", fileCount: 2, rowCount: 3);
        var prefix = BucketLayout.CustomerStats("run-1");
        // What BigQuery's export wrote (two files), beside what an earlier attempt left: a third file of an export
        // that wrote more of them, and the single part of the old download.
        string[] exported = [$"{prefix}part-000000000000.parquet", $"{prefix}part-000000000001.parquet"];
        string[] stale = [$"{prefix}part-000000000002.parquet", $"{prefix}part-00000.parquet"];
        foreach (var name in exported.Concat(stale)) await _bucket.WriteAsync(name, new byte[] { 1 }, ContentTypes.Parquet, null, CancellationToken.None);

        var summary = await StatsBuilder().BuildAsync(TestRuns.Parameters(), CancellationToken.None);

        Assert.Equal(new StatsSummary(3, 9, prefix), summary);
        Assert.Equal(["stats", "stats_summary", "stats_export"], _bigQuery.InsertedJobs().Select(Key));
        var export = (string)_bigQuery.InsertedJobs()[2]["configuration"]!["query"]!["query"]!;
        Assert.StartsWith("EXPORT DATA OPTIONS (\n  uri = 'gs://my-bucket/runs/run-1/customer_stats/part-*.parquet',\n  format = 'PARQUET',", export, StringComparison.Ordinal);
        Assert.Contains("overwrite = TRUE", export, StringComparison.Ordinal);
        Assert.DoesNotContain("ORDER BY", export, StringComparison.Ordinal);
        Assert.Equal(exported, await _bucket.ListAsync(prefix, CancellationToken.None));
    }

    [Fact]
    public async Task An_export_whose_files_are_not_all_there_yet_is_looked_at_again_on_the_next_delivery()
    {
        _bigQuery.WithResults(Stages.BuildStats, "stats_summary", "BigQuery/results-stats-summary.json")
            .WithExport(Stages.BuildStats, "stats_export", fileCount: 2, rowCount: 3);
        await _bucket.WriteAsync($"{BucketLayout.CustomerStats("run-1")}part-000000000000.parquet", new byte[] { 1 }, ContentTypes.Parquet, null, CancellationToken.None);

        var error = await Assert.ThrowsAsync<BigQueryTransientException>(() => StatsBuilder().BuildAsync(TestRuns.Parameters(), CancellationToken.None));

        Assert.Contains("part-000000000001.parquet is not there", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_export_of_another_number_of_rows_than_customers_fails_the_run_with_both_numbers()
    {
        _bigQuery.WithResults(Stages.BuildStats, "stats_summary", "BigQuery/results-stats-summary.json")
            .WithExport(Stages.BuildStats, "stats_export", fileCount: 1, rowCount: 2);
        await _bucket.WriteAsync($"{BucketLayout.CustomerStats("run-1")}part-000000000000.parquet", new byte[] { 1 }, ContentTypes.Parquet, null, CancellationToken.None);

        var error = await Assert.ThrowsAsync<PermanentPipelineException>(() => StatsBuilder().BuildAsync(TestRuns.Parameters(), CancellationToken.None));

        Assert.Contains("wrote 2 rows for 3 customers", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TrainModel_with_a_fixed_k_builds_the_model_from_ML_CENTROIDS_and_ML_EVALUATE()
    {
        _bigQuery.WithResults(Stages.TrainModel, "training_summary", "BigQuery/results-training-summary.json")
            .WithResults(Stages.TrainModel, "evaluate", "BigQuery/results-evaluate-k3.json")
            .WithResults(Stages.TrainModel, "centroids", "BigQuery/results-centroids-k3.json")
            .WithResults(Stages.TrainModel, "training_info", "BigQuery/results-training-info-k3.json")
            .WithResults(Stages.TrainModel, "feature_info", "BigQuery/results-feature-info-k3.json");

        var model = await Engine().TrainAsync(TestRuns.Parameters(k: 3), previous: null, CancellationToken.None);

        Assert.Equal(["split", "training_summary", "model_k3", "model_k3_expiration", "evaluate", "centroids", "training_info", "feature_info"],
            _bigQuery.InsertedJobs().Select(Key));
        Assert.Contains("FROM ML.FEATURE_INFO(MODEL `my-project.segmentation.model_run_1_k3`)",
            (string)_bigQuery.InsertedJobs()[^1]["configuration"]!["query"]!["query"]!, StringComparison.Ordinal);
        Assert.Equal(BigQuerySegmentationEngine.Engine, model.Engine);
        Assert.Equal(3, model.K);
        Assert.Equal("fixed", model.KSelection);
        Assert.Equal(new ModelMetrics(0.873123, 1.204568, 0.987654), model.Metrics);
        Assert.Equal(7, model.Iterations);
        Assert.Equal((800L, 200L), (model.TrainingCustomers, model.TestCustomers));
        // BigQuery ML's own standardization (ML.FEATURE_INFO), in the order of the features.
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
            .WithResults(Stages.TrainModel, "training_info", "BigQuery/results-training-info-auto.json")
            .WithResults(Stages.TrainModel, "feature_info", "BigQuery/results-feature-info-k3.json");

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
    public async Task Predict_maps_engine_ids_to_stable_ids_by_parameter_and_exports_the_predictions_parts()
    {
        _bigQuery.WithResults(Stages.Predict, "segment_sizes", "BigQuery/results-segment-sizes.json")
            .WithExport(Stages.Predict, "predictions_export", fileCount: 1, rowCount: 2);
        await _bucket.WriteAsync($"{BucketLayout.Predictions("run-1")}part-000000000000.parquet", new byte[] { 1 }, ContentTypes.Parquet, null, CancellationToken.None);
        var model = Model();

        var sizes = await Engine().PredictAsync(TestRuns.Parameters(), model, CancellationToken.None);

        Assert.Equal([new SegmentSize(1, "Champions", 1), new SegmentSize(2, "At Risk", 0), new SegmentSize(3, "Hibernating", 1)], sizes);
        Assert.Equal(["customer_segments_table", "segment_runs_table", "customer_segments_latest_view", "predictions", "movement", "customer_segments_rows",
            "segment_sizes", "predictions_export"], _bigQuery.InsertedJobs().Select(Key));
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

        var export = (string)_bigQuery.InsertedJobs()[^1]["configuration"]!["query"]!["query"]!;
        Assert.Contains("uri = 'gs://my-bucket/runs/run-1/predictions/part-*.parquet'", export, StringComparison.Ordinal);
        Assert.Contains("SELECT * REPLACE (", export, StringComparison.Ordinal);
        Assert.Contains("FROM `my-project.segmentation.predictions_run_1`", export, StringComparison.Ordinal);
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
