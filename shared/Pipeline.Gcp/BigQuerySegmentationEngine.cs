using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Pipeline.Analytics;
using Pipeline.Core;

namespace Pipeline.Gcp;

/// <summary>
/// TrainModel, Predict and RenderChart on BigQuery ML: K-means (<c>CREATE MODEL … model_type = 'KMEANS'</c>) on the
/// training split, ML.EVALUATE on the held-out customers, ML.CENTROIDS for the centroids, ML.PREDICT for every
/// customer, and a stratified sample for the chart. The model itself turns into <see cref="SegmentModel"/> the same
/// way as the embedded engine's (<see cref="SegmentModelBuilder"/>): stable ids, RFM scores and names.
/// </summary>
public sealed class BigQuerySegmentationEngine(
    IBigQueryClient bigQuery, IBucket bucket, IOptions<GcpOptions> gcp, IOptions<PipelineOptions> pipeline, IOptions<AudienceOptions> audiences,
    RunLedger ledger, TimeProvider clock, ILogger<BigQuerySegmentationEngine> logger) : ISegmentationEngine
{
    public const string Engine = "bigquery-ml-kmeans";

    public async Task<SegmentModel> TrainAsync(RunParameters parameters, SegmentModel? previous, CancellationToken cancellationToken)
    {
        var plan = new SqlPlan(gcp.Value, parameters);
        var run = BigQueryStageRun.Start(bigQuery, Stages.TrainModel, pipeline.Value, clock);

        await run.RunAsync(plan.Split(), cancellationToken);
        var summary = (await run.QueryAsync(plan.TrainingSummary(), cancellationToken)).Single();
        var training = summary.GetInt64("training_customers");
        var test = summary.GetInt64("test_customers");

        var candidates = plan.Candidates.Where(k => k <= training).ToList();
        var minimum = plan.Candidates[0];
        if (candidates.Count == 0 || (parameters.K is { } fixedK && training < fixedK))
            throw new PermanentPipelineException(
                $"too few customers for k = {minimum}: {training + test} customers in the window, {training} of them in the training split");

        // Every candidate trains side by side; a redelivery attaches to the jobs already running.
        await run.RunAllAsync(candidates.Select(plan.TrainModel), cancellationToken);
        await run.RunAllAsync(candidates.Select(plan.ExpireModel), cancellationToken);

        var evaluations = (await run.QueryAsync(plan.Evaluate(candidates, onHeldOut: test > 0), cancellationToken))
            .ToDictionary(r => (int)r.GetInt64("k"), r => new ModelMetrics(
                Math.Round(r.GetDouble("davies_bouldin_index"), 6), Math.Round(r.GetDouble("mean_squared_distance"), 6), 0));
        var centroids = (await run.QueryAsync(plan.Centroids(candidates), cancellationToken))
            .GroupBy(r => (int)r.GetInt64("k"))
            .ToDictionary(g => g.Key, g => g.OrderBy(r => r.GetInt64("centroid_id")).ToList());
        var trainingInfo = (await run.QueryAsync(plan.TrainingInfo(candidates), cancellationToken))
            .ToDictionary(r => (int)r.GetInt64("k"), r => (Iterations: (int)r.GetInt64("iterations"), Loss: r.GetDouble("loss")));

        var (k, selection) = parameters.K is { } chosen ? (chosen, "fixed") : ChooseK(candidates, evaluations);
        if (!evaluations.TryGetValue(k, out var metrics) || !centroids.TryGetValue(k, out var rows) || !trainingInfo.TryGetValue(k, out var info))
            throw new BigQueryTransientException($"BigQuery returned no evaluation, centroids or training info for k = {k}", null, null);
        if (!rows.Select(r => r.GetInt64("centroid_id")).SequenceEqual(Enumerable.Range(1, k).Select(i => (long)i)))
            throw new PermanentPipelineException($"ML.CENTROIDS returned centroid ids other than 1..{k} for {plan.Model(k)}");

        var standardization = Standardization(await run.QueryAsync(plan.FeatureInfo(k), cancellationToken), plan.Model(k));
        var draft = new ModelDraft(
            parameters.RunId, Engine, selection, standardization,
            rows.Select(r => Features.All.Select(r.GetDouble).ToArray()).ToList(),
            metrics with { TrainingLoss = Math.Round(info.Loss, 6) },
            info.Iterations, training, test, parameters.Seed);
        var population = new PopulationProfile(
            summary.GetDoubleList($"quantiles_{Features.DaysSinceLastOrder}"),
            summary.GetDoubleList($"quantiles_{Features.CountOrders}"),
            summary.GetDoubleList($"quantiles_{Features.AverageSpend}"));

        logger.LogInformation("Trained {Model} for run {RunId}: k = {K} ({Selection}), Davies-Bouldin {Index}",
            plan.Model(k), parameters.RunId, k, selection, metrics.DaviesBouldinIndex);
        return SegmentModelBuilder.Build(draft, population, previous);
    }

    public async Task<IReadOnlyList<SegmentSize>> PredictAsync(RunParameters parameters, SegmentModel model, CancellationToken cancellationToken)
    {
        var plan = new SqlPlan(gcp.Value, parameters);
        var run = BigQueryStageRun.Start(bigQuery, Stages.Predict, pipeline.Value, clock);

        var previous = await PreviousRunAsync(model, cancellationToken);
        await run.RunAllAsync([plan.CustomerSegmentsSetup(), plan.SegmentRunsSetup()], cancellationToken);
        await run.RunAsync(plan.LatestViewSetup(), cancellationToken);
        await run.RunAsync(plan.Predictions(model), cancellationToken);
        await run.RunAsync(plan.Movement(previous?.RunId, previous?.AsOf, audiences.Value), cancellationToken);
        await run.RunAsync(plan.RecordSegments(), cancellationToken);
        var counted = (await run.QueryAsync(plan.SegmentSizes(), cancellationToken))
            .ToDictionary(r => (int)r.GetInt64("centroid_id"), r => r.GetInt64("customers"));
        var sizes = model.Centroids
            .OrderBy(c => c.CentroidId)
            .Select(c => new SegmentSize(c.CentroidId, c.Segment, counted.GetValueOrDefault(c.CentroidId)))
            .ToList();

        var predictionsObject = BucketLayout.Predictions(parameters.RunId);
        var rows = await run.ExportAsync(plan.PredictionsExport(), bucket, predictionsObject, cancellationToken);
        if (rows != sizes.Sum(s => s.Customers))
            throw new PermanentPipelineException(
                $"the export of {plan.PredictionsTable} wrote {rows} rows for {sizes.Sum(s => s.Customers)} predictions into {bucket.Describe(predictionsObject)}");

        logger.LogInformation("Predicted {Customers} customers of run {RunId} into {PredictionsTable} and {PredictionsObject}",
            rows, parameters.RunId, plan.PredictionsTable, bucket.Describe(predictionsObject));
        return sizes;
    }

    public async Task<SegmentMovement> MovementAsync(RunParameters parameters, SegmentModel model, IReadOnlyList<SegmentSize> sizes,
        CancellationToken cancellationToken)
    {
        var plan = new SqlPlan(gcp.Value, parameters);
        var run = BigQueryStageRun.Start(bigQuery, Stages.Predict, pipeline.Value, clock);
        var previous = await PreviousRunAsync(model, cancellationToken);

        var summary = (await run.QueryAsync(plan.MovementSummary(), cancellationToken)).Single();

        MigrationMatrix.PreviousRun? before = null;
        var flows = new List<MigrationFlow>();
        if (previous is not null)
        {
            var previousSizes = (await run.QueryAsync(plan.PreviousSegmentSizes(previous.RunId, previous.AsOf), cancellationToken))
                .Select(r => new SegmentSize((int)r.GetInt64("centroid_id"), r.GetString("segment") ?? "", r.GetInt64("customers"))).ToList();
            before = new MigrationMatrix.PreviousRun(previous.RunId, previous.AsOf, previousSizes);
            flows.AddRange((await run.QueryAsync(plan.MigrationFlows(previous.RunId, previous.AsOf), cancellationToken))
                .Select(r => new MigrationFlow(
                    r.IsNull("from_centroid") ? null : (int)r.GetInt64("from_centroid"),
                    r.IsNull("to_centroid") ? null : (int)r.GetInt64("to_centroid"),
                    r.GetInt64("customers"))));
        }
        return new SegmentMovement(MigrationMatrix.Build(parameters.RunId, parameters.AsOf, before, sizes, flows),
            summary.GetInt64("newest_order_days"), summary.GetInt64("control_group"));
    }

    /// <summary>
    /// The audience files, written by BigQuery and Cloud Storage (<see cref="AudienceParts"/>): per segment an
    /// <c>EXPORT DATA</c> of its user ids as CSV parts, composed with a header into <c>audiences/{segment}.csv</c>. The
    /// sizes come from a COUNT query, checked against each export's row count; no user id passes through here.
    /// </summary>
    public async Task<IReadOnlyList<AudienceFile>> WriteAudiencesAsync(RunParameters parameters, SegmentModel model, CancellationToken cancellationToken)
    {
        var plan = new SqlPlan(gcp.Value, parameters);
        var run = BigQueryStageRun.Start(bigQuery, Stages.Predict, pipeline.Value, clock);

        var sizes = (await run.QueryAsync(plan.AudienceSizes(), cancellationToken))
            .ToDictionary(r => (int)r.GetInt64("centroid_id"), r => r.GetInt64("customers"));
        var unknown = sizes.Keys.Except(model.Centroids.Select(c => c.CentroidId)).Order().ToList();
        if (unknown.Count > 0)
            throw new PermanentPipelineException($"{plan.PredictionsTable} has centroid_id {unknown[0]}, which the model does not have");

        var files = new List<AudienceFile>();
        foreach (var centroid in model.Centroids.OrderBy(c => c.CentroidId))
        {
            var file = new AudienceFile(centroid.CentroidId, centroid.Segment, BucketLayout.Audience(parameters.RunId, centroid.Segment),
                sizes.GetValueOrDefault(centroid.CentroidId));
            await WriteAudienceAsync(run, plan.AudienceExport(centroid.CentroidId, centroid.Segment),
                AudienceParts.Prefix(parameters.RunId, centroid.Segment), file, cancellationToken);
            files.Add(file);
        }
        logger.LogInformation("Wrote {Audiences} audience files with {Customers} customers of run {RunId} into {AudiencesFolder}",
            files.Count, files.Sum(f => f.Customers), parameters.RunId, bucket.Describe(BucketLayout.Audiences(parameters.RunId)));
        return files;
    }

    private async Task WriteAudienceAsync(BigQueryStageRun run, SqlStatement export, string partsPrefix, AudienceFile file, CancellationToken cancellationToken)
    {
        var jobId = export.JobId();
        // A delivery that composed the file and was stopped while deleting the parts leaves only the tidying: the
        // compose replaced the file whole, and its parts came from this same job.
        var composed = await run.WithinBudgetAsync(jobId,
            async ct => (await bucket.ListAsync(file.ObjectName, ct)).Contains(file.ObjectName, StringComparer.Ordinal), cancellationToken);
        if (!composed)
        {
            var written = await run.ExportAsync(export, bucket, partsPrefix, ExportedParts.Csv, cancellationToken);
            if (written.RowCount != file.Customers)
                throw new PermanentPipelineException(
                    $"the export of segment {file.Segment} (centroid_id {file.CentroidId}) wrote {written.RowCount} user ids for {file.Customers} customers outside the control group into {bucket.Describe(partsPrefix)}");
            await run.WithinBudgetAsync(jobId, async ct =>
            {
                await AudienceParts.ComposeAsync(bucket, partsPrefix, ExportedParts.Names(partsPrefix, written.FileCount, ExportedParts.Csv), file.ObjectName, ct);
                return true;
            }, cancellationToken);
        }
        await run.WithinBudgetAsync(jobId, async ct =>
        {
            await AudienceParts.RemoveAsync(bucket, partsPrefix, ct);
            return true;
        }, cancellationToken);
    }

    /// <summary>The run this run's movement is measured against: the previous completed run its model was matched to.</summary>
    private async Task<PreviousRun?> PreviousRunAsync(SegmentModel model, CancellationToken cancellationToken) =>
        model.MatchedToRun is { } runId && (await ledger.GetAsync(runId, cancellationToken))?.Parameters is { } previous
            ? new PreviousRun(runId, previous.AsOf)
            : null;

    private sealed record PreviousRun(string RunId, DateOnly AsOf);

    public async Task<IReadOnlyList<ChartPoint>> SampleForChartAsync(RunParameters parameters, int maxPoints, CancellationToken cancellationToken)
    {
        var plan = new SqlPlan(gcp.Value, parameters);
        var run = BigQueryStageRun.Start(bigQuery, Stages.RenderChart, pipeline.Value, clock);
        return (await run.QueryAsync(plan.ChartSample(maxPoints), cancellationToken))
            .Select(r => new ChartPoint(r.GetDouble(Features.DaysSinceLastOrder), r.GetDouble(Features.AverageSpend), (int)r.GetInt64("centroid_id")))
            .ToList();
    }

    /// <summary>
    /// The means and standard deviations ML.FEATURE_INFO reports for the model's features, in <see cref="Features.All"/>
    /// order (a constant feature's missing or zero deviation is 0, as in-process).
    /// </summary>
    private static Standardization Standardization(IReadOnlyList<BigQueryRow> featureInfo, string model)
    {
        var byInput = featureInfo.ToDictionary(r => r.GetString("input") ?? "", StringComparer.OrdinalIgnoreCase);
        var missing = Features.All.Where(f => !byInput.ContainsKey(f)).ToList();
        if (missing.Count > 0)
            throw new PermanentPipelineException($"ML.FEATURE_INFO of {model} has no row for {string.Join(", ", missing)}");
        return new Standardization(
            Features.All.Select(f => byInput[f].GetNullableDouble("mean") ?? 0).ToList(),
            Features.All.Select(f => byInput[f].GetNullableDouble("stddev") ?? 0).ToList());
    }

    /// <summary>The lowest Davies–Bouldin index on the held-out customers wins; ties go to the smaller k.</summary>
    private static (int K, string Selection) ChooseK(IReadOnlyList<int> candidates, IReadOnlyDictionary<int, ModelMetrics> evaluations)
    {
        var scores = candidates.Where(evaluations.ContainsKey).Select(k => (K: k, Index: evaluations[k].DaviesBouldinIndex)).ToList();
        if (scores.Count == 0) throw new BigQueryTransientException("ML.EVALUATE returned no candidate's metrics", null, null);
        var best = scores.OrderBy(s => Math.Round(s.Index, 9)).ThenBy(s => s.K).First();
        var table = string.Join(", ", scores.Select(s => string.Create(CultureInfo.InvariantCulture, $"k={s.K}: {s.Index:0.###}")));
        return (best.K, $"auto: lowest Davies-Bouldin index on held-out customers ({table})");
    }
}
