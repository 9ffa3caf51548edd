using Pipeline.Core;

namespace Pipeline.Functions.TrainModel;

/// <summary>
/// Stage 2: a K-means model on the run's statistics, its centroids matched to the last completed run's so that
/// segment ids keep their meaning; written as <c>model.json</c>.
/// </summary>
[PipelineFunction(Stages.TrainModel, TriggeredBy = Topics.StatsReady, Publishes = Topics.ModelTrained)]
public sealed class Function(StageExecutor stage, ISegmentationEngine engine, SegmentModelStore models) : IPipelineFunction
{
    public Task HandleAsync(PipelineMessage message, CancellationToken cancellationToken) =>
        stage.RunAsync<StatsReady>(Stages.TrainModel, message, async (stats, ct) =>
        {
            var previous = await models.ReadPreviousAsync(stats.RunId, ct);
            var model = await engine.TrainAsync(stats.Parameters, previous, ct);
            var modelObject = BucketLayout.Model(stats.RunId);
            FiniteNumbers.Require(Stages.TrainModel, modelObject, model);
            await models.WriteAsync(modelObject, model, ct);

            return new StageResult(
                Topics.ModelTrained,
                new ModelTrained(stats.RunId, stats.Parameters, modelObject, model.K),
                Metrics: new Dictionary<string, double>
                {
                    ["k"] = model.K,
                    ["iterations"] = model.Iterations,
                    ["training_customers"] = model.TrainingCustomers,
                    ["test_customers"] = model.TestCustomers,
                    ["davies_bouldin_index"] = model.Metrics.DaviesBouldinIndex,
                    ["mean_squared_distance"] = model.Metrics.MeanSquaredDistance,
                },
                Files: new Dictionary<string, string> { ["model"] = modelObject });
        }, cancellationToken);
}
