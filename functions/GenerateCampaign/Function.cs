using Pipeline.Campaigns;
using Pipeline.Core;

namespace Pipeline.Functions.GenerateCampaign;

/// <summary>
/// Stage 5: the centroid summary (<c>centroids.csv</c>) and, per segment, a title, a persona and a next marketing
/// step (<c>campaign.json</c>, <c>campaign.md</c>), written with the segments' movement since the previous run; completes
/// the run (or holds it, when the quality gate did not pass).
/// </summary>
[PipelineFunction(Stages.GenerateCampaign, TriggeredBy = Topics.ChartRendered, Publishes = Topics.RunCompleted)]
public sealed class Function(StageExecutor stage, SegmentModelStore models, ICampaignWriter writer, IBucket bucket, RunLedger ledger,
    IStageProgress? progress = null) : IPipelineFunction
{
    private const int Steps = 3;
    private readonly IStageProgress _progress = progress ?? StageProgress.Silent;

    public Task HandleAsync(PipelineMessage message, CancellationToken cancellationToken) =>
        stage.RunAsync<ChartRendered>(Stages.GenerateCampaign, message, async (chart, ct) =>
        {
            var runId = chart.RunId;
            var model = await models.ReadAsync(chart.ModelObject, ct);
            var centroids = CentroidSummary.Build(model, chart.Segments);
            var centroidsObject = BucketLayout.Centroids(runId);
            foreach (var c in centroids)
                FiniteNumbers.RequireCentroid(Stages.GenerateCampaign, centroidsObject, c.CentroidId, c.DaysSinceLastOrder, c.CountOrders, c.AverageSpend);
            await bucket.WriteAsync(centroidsObject, CentroidSummary.ToCsv(centroids), ContentTypes.Csv, null, ct);
            // The writer may be a model behind an API, the one step here that can take long: say what is awaited.
            _progress.Report(new StageProgress(runId, Stages.GenerateCampaign, "centroids.csv written; writing personas", 1, Steps, "steps"));

            var prompt = CampaignPrompt.Build(centroids);
            // A run from before profiles existed has none; the campaign is then written from the centroids alone.
            var stored = await bucket.TryReadAsync(BucketLayout.Profiles(runId), ct);
            var profiles = stored is null ? null : PipelineJson.Deserialize<ProfilesDocument>(stored.Content);
            var migration = await ledger.GetMigrationAsync(runId, ct);
            var request = new CampaignRequest(runId, centroids, prompt, profiles, migration);
            var draft = await writer.WriteAsync(request, ct);
            _progress.Report(new StageProgress(runId, Stages.GenerateCampaign, "personas and next steps written", 2, Steps, "steps",
                $"by {draft.Writer}"));
            var document = new CampaignDocument(runId, draft.Writer, draft.Model, prompt, draft.Segments, centroids, draft.WriterInstructions,
                draft.Notes, request.ProfileContext, request.MovementContext);
            await bucket.WriteAsync(BucketLayout.CampaignJson(runId), PipelineJson.Serialize(document, indented: true), ContentTypes.Json, null, ct);
            await bucket.WriteAsync(BucketLayout.CampaignMarkdown(runId), CampaignMarkdown.Render(document), ContentTypes.Markdown, null, ct);
            _progress.Report(new StageProgress(runId, Stages.GenerateCampaign, "campaign.json and campaign.md written", Steps, Steps, "steps",
                Final: true));

            var files = BucketLayout.Files(runId);
            return new StageResult(
                Topics.RunCompleted,
                new RunCompleted(runId, chart.Parameters, files),
                Files: files,
                Notes: draft.Notes,
                CompletesRun: true);
        }, cancellationToken);
}
