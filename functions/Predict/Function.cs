using Pipeline.Core;

namespace Pipeline.Functions.Predict;

/// <summary>
/// Stage 3: a segment for every customer (not only the held-out ones), written as <c>predictions.parquet</c>, and
/// who each segment's customers are (<c>profiles.json</c>), so that the chart, the campaign and the report can use it.
/// </summary>
[PipelineFunction(Stages.Predict, TriggeredBy = Topics.ModelTrained, Publishes = Topics.PredictionsReady)]
public sealed class Function(StageExecutor stage, ISegmentationEngine engine, SegmentModelStore models, ISegmentProfiler profiler, IBucket bucket,
    IStageProgress? progress = null) : IPipelineFunction
{
    private readonly IStageProgress _progress = progress ?? StageProgress.Silent;

    public Task HandleAsync(PipelineMessage message, CancellationToken cancellationToken) =>
        stage.RunAsync<ModelTrained>(Stages.Predict, message, async (trained, ct) =>
        {
            var model = await models.ReadAsync(trained.ModelObject, ct);
            var sizes = await engine.PredictAsync(trained.Parameters, model, ct);
            var predictions = BucketLayout.Predictions(trained.RunId);

            // Profiling joins the window's items to users and products again: at millions of items, a step of its own.
            _progress.Report(new StageProgress(trained.RunId, Stages.Predict, "profiling the segments", 0, model.K, "segments"));
            var profiles = await profiler.ProfileAsync(trained.Parameters, model, ct);
            var profilesObject = BucketLayout.Profiles(trained.RunId);
            await bucket.WriteAsync(profilesObject, PipelineJson.Serialize(profiles, indented: true), ContentTypes.Json, null, ct);
            _progress.Report(new StageProgress(trained.RunId, Stages.Predict, "profiles.json written", model.K, model.K, "segments", Final: true));

            return new StageResult(
                Topics.PredictionsReady,
                new PredictionsReady(trained.RunId, trained.Parameters, trained.ModelObject, predictions, sizes),
                Metrics: new Dictionary<string, double> { ["predicted_customers"] = sizes.Sum(s => s.Customers) },
                Files: new Dictionary<string, string> { ["predictions"] = predictions, ["profiles"] = profilesObject },
                Notes: profiles.Lacking.Select(l => $"Profiles: {l}").ToList());
        }, cancellationToken);
}
