using Pipeline.Core;

namespace Pipeline.Functions.BuildStats;

/// <summary>
/// Stage 1: per-customer RFM statistics for the trigger's window, materialized by the warehouse and written as
/// <c>customer_stats.parquet</c>.
/// </summary>
[PipelineFunction(Stages.BuildStats, TriggeredBy = Topics.Trigger, Publishes = Topics.StatsReady)]
public sealed class Function(StageExecutor stage, ICustomerStatsBuilder stats, TimeProvider clock) : IPipelineFunction
{
    public Task HandleAsync(PipelineMessage message, CancellationToken cancellationToken) =>
        stage.RunAsync(Stages.BuildStats, message, ResolveTrigger, async (run, ct) =>
        {
            var parameters = run.Parameters;
            var summary = await stats.BuildAsync(parameters, ct);
            if (summary.Customers == 0)
                throw new PermanentPipelineException(
                    $"no customer has a counted order item from {parameters.WindowStart:yyyy-MM-dd} to {parameters.WindowEnd:yyyy-MM-dd} (window_end exclusive)");

            return new StageResult(
                Topics.StatsReady,
                new StatsReady(run.RunId, parameters, summary.StatsObject, summary.Customers),
                Metrics: new Dictionary<string, double> { ["customers"] = summary.Customers, ["items_counted"] = summary.ItemsCounted },
                Files: new Dictionary<string, string> { ["customer_stats"] = summary.StatsObject });
        }, cancellationToken);

    private RunTriggered ResolveTrigger(PipelineMessage message)
    {
        var today = DateOnly.FromDateTime(clock.GetUtcNow().UtcDateTime);
        var parameters = TriggerParser.Parse(message.Data.Span, message.MessageId, message.PublishTime, today);
        return new RunTriggered(parameters.RunId, parameters);
    }
}
