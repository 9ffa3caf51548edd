using Microsoft.Extensions.Options;
using Pipeline.Core;

namespace Pipeline.Gcp;

/// <summary>
/// Records a completed (or released) run in BigQuery's <c>segment_runs</c>, which moves the
/// <c>customer_segments_latest</c> view to it when latest.json did; one MERGE, so a repeat changes nothing.
/// </summary>
public sealed class BigQueryCompletedRuns(IBigQueryClient bigQuery, IOptions<GcpOptions> gcp, IOptions<PipelineOptions> pipeline, TimeProvider clock)
    : IRunCompletionSink
{
    public async Task RunCompletedAsync(RunParameters run, bool isLatest, CancellationToken cancellationToken) =>
        await BigQueryStageRun.Start(bigQuery, Stages.GenerateCampaign, pipeline.Value, clock)
            .RunAsync(new SqlPlan(gcp.Value, run).RecordCompletedRun(isLatest), cancellationToken);
}
