using Microsoft.Extensions.Options;
using Pipeline.Core;

namespace Pipeline.Functions.Predict;

/// <summary>
/// Stage 3: a segment for every customer (not only the held-out ones), with each customer's segment in the previous run, since
/// when it is in its segment and whether it is in the control group, written as <c>predictions/</c>; who each
/// segment's customers are (<c>profiles.json</c>); the migration against the previous completed run
/// (<c>migration.csv</c>, <c>migration.json</c>), the audiences (<c>audiences/{segment}.csv</c>), and the quality
/// gate's verdict for the manifest.
/// </summary>
[PipelineFunction(Stages.Predict, TriggeredBy = Topics.ModelTrained, Publishes = Topics.PredictionsReady)]
public sealed class Function(StageExecutor stage, ISegmentationEngine engine, SegmentModelStore models, ISegmentProfiler profiler,
    IBucket bucket, IOptions<QualityGateOptions> gate, IStageProgress? progress = null) : IPipelineFunction
{
    private readonly IStageProgress _progress = progress ?? StageProgress.Silent;

    public Task HandleAsync(PipelineMessage message, CancellationToken cancellationToken) =>
        stage.RunAsync<ModelTrained>(Stages.Predict, message, async (trained, ct) =>
        {
            var runId = trained.RunId;
            var model = await models.ReadAsync(trained.ModelObject, ct);
            var (sizes, movement, audiences) = await engine.PredictAllAsync(trained.Parameters, model, ct);
            var predictions = BucketLayout.Predictions(runId);

            var migration = movement.Migration;
            await bucket.WriteAsync(BucketLayout.MigrationCsv(runId), MigrationMatrix.ToCsv(migration), ContentTypes.Csv, null, ct);
            await bucket.WriteAsync(BucketLayout.MigrationJson(runId), PipelineJson.Serialize(migration, indented: true), ContentTypes.Json, null, ct);

            var previous = migration.PreviousRunId is { } previousRun ? await models.ReadAsync(BucketLayout.Model(previousRun), ct) : null;
            var verdict = QualityGateRules.Evaluate(gate.Value, model, previous, migration, movement.NewestOrderDays);

            var metrics = new Dictionary<string, double>
            {
                ["predicted_customers"] = sizes.Sum(s => s.Customers),
                ["control_group_customers"] = movement.ControlGroup,
                ["audience_customers"] = audiences.Sum(a => a.Customers),
                ["newest_order_days"] = movement.NewestOrderDays,
                ["new_customers"] = migration.New,
                ["gone_customers"] = migration.Gone,
            };
            if (migration.ChangedShare is { } changed) metrics["changed_share"] = changed;
            var notes = verdict.Skipped.Select(c => $"quality gate: {c.Name} {c.Detail}").ToList();
            if (migration.Note is { } note) notes.Add($"migration: {note}");

            // Profiling joins the window's items to users and products again: at millions of items, a step of its own.
            _progress.Report(new StageProgress(trained.RunId, Stages.Predict, "profiling the segments", 0, model.K, "segments"));
            var profiles = await profiler.ProfileAsync(trained.Parameters, model, ct);
            var profilesObject = BucketLayout.Profiles(runId);
            await bucket.WriteAsync(profilesObject, PipelineJson.Serialize(profiles, indented: true), ContentTypes.Json, null, ct);
            _progress.Report(new StageProgress(runId, Stages.Predict, "profiles.json written", model.K, model.K, "segments", Final: true));
            notes.AddRange(profiles.Lacking.Select(l => $"Profiles: {l}"));

            return new StageResult(
                Topics.PredictionsReady,
                new PredictionsReady(runId, trained.Parameters, trained.ModelObject, predictions, sizes),
                Metrics: metrics,
                Files: new Dictionary<string, string>
                {
                    ["predictions"] = predictions,
                    ["profiles"] = profilesObject,
                    ["migration_csv"] = BucketLayout.MigrationCsv(runId),
                    ["migration_json"] = BucketLayout.MigrationJson(runId),
                    ["audiences"] = BucketLayout.Audiences(runId),
                },
                Notes: notes,
                Gate: verdict);
        }, cancellationToken);
}
