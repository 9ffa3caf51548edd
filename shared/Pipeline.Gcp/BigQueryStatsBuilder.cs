using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Pipeline.Core;

namespace Pipeline.Gcp;

/// <summary>
/// BuildStats on BigQuery: the run's per-customer statistics as a table of the dataset (it expires with the run),
/// exported by BigQuery as <c>customer_stats/part-*.parquet</c> into the bucket.
/// </summary>
public sealed class BigQueryStatsBuilder(
    IBigQueryClient bigQuery, IBucket bucket, IOptions<GcpOptions> gcp, IOptions<PipelineOptions> pipeline, TimeProvider clock,
    ILogger<BigQueryStatsBuilder> logger) : ICustomerStatsBuilder
{
    public async Task<StatsSummary> BuildAsync(RunParameters parameters, CancellationToken cancellationToken)
    {
        var plan = new SqlPlan(gcp.Value, parameters);
        var run = BigQueryStageRun.Start(bigQuery, Stages.BuildStats, pipeline.Value, clock);

        await run.RunAsync(plan.Stats(), cancellationToken);
        var summary = (await run.QueryAsync(plan.StatsSummary(), cancellationToken)).Single();
        var customers = summary.GetInt64("customers");
        var items = summary.GetInt64("items_counted");
        var nonFinite = summary.GetInt64("non_finite_prices");
        if (nonFinite > 0)
            throw new PermanentPipelineException(
                $"the input {plan.SourceTable} has {nonFinite:N0} row(s) whose sale_price is not a finite number, e.g. '{summary.GetString("non_finite_price_example")}'");

        var statsObject = BucketLayout.CustomerStats(parameters.RunId);
        var rows = await run.ExportAsync(plan.StatsExport(), bucket, statsObject, cancellationToken);
        if (rows != customers)
            throw new PermanentPipelineException(
                $"the export of {plan.StatsTable} wrote {rows} rows for {customers} customers into {bucket.Describe(statsObject)}");

        logger.LogInformation("Statistics of run {RunId}: {Customers} customers, {Items} items, in {StatsTable} and {StatsObject}",
            parameters.RunId, customers, items, plan.StatsTable, bucket.Describe(statsObject));
        return new StatsSummary(customers, items, statsObject);
    }
}
