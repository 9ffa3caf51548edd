using Pipeline.Core;

namespace Pipeline.Functions.RenderChart;

/// <summary>
/// Stage 4: the scatter chart of the segments ("Attribute grouped by K-means cluster"), drawn from a sample of the
/// predictions so that it stays readable and fast at millions of customers; written as <c>chart.png</c>.
/// </summary>
[PipelineFunction(Stages.RenderChart, TriggeredBy = Topics.PredictionsReady, Publishes = Topics.ChartRendered)]
public sealed class Function(StageExecutor stage, ISegmentationEngine engine, SegmentModelStore models, IBucket bucket,
    IStageProgress? progress = null) : IPipelineFunction
{
    private readonly IStageProgress _progress = progress ?? StageProgress.Silent;

    /// <summary>How many customers the chart draws at most; enough to show every segment's shape.</summary>
    public const int MaxPoints = 30_000;

    public Task HandleAsync(PipelineMessage message, CancellationToken cancellationToken) =>
        stage.RunAsync<PredictionsReady>(Stages.RenderChart, message, async (predictions, ct) =>
        {
            var model = await models.ReadAsync(predictions.ModelObject, ct);
            var points = await engine.SampleForChartAsync(predictions.Parameters, MaxPoints, ct);
            _progress.Report(new StageProgress(predictions.RunId, Stages.RenderChart, "customers sampled for the chart", 1, 2, "steps",
                string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{points.Count:N0} customers")));
            var png = SegmentChart.Render(model, predictions.Segments, points);
            var chart = BucketLayout.Chart(predictions.RunId);
            await bucket.WriteAsync(chart, png, ContentTypes.Png, null, ct);
            _progress.Report(new StageProgress(predictions.RunId, Stages.RenderChart, "chart.png drawn", 2, 2, "steps",
                string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{png.Length:N0} bytes"), Final: true));

            return new StageResult(
                Topics.ChartRendered,
                new ChartRendered(predictions.RunId, predictions.Parameters, predictions.ModelObject, chart, predictions.Segments),
                Metrics: new Dictionary<string, double> { ["chart_points"] = points.Count },
                Files: new Dictionary<string, string> { ["chart"] = chart });
        }, cancellationToken);
}
