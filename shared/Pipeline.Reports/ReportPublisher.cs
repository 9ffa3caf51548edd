using System.Text;
using Microsoft.Extensions.Logging;
using Pipeline.Core;

namespace Pipeline.Reports;

/// <summary>
/// Writes a run's <c>report.html</c> and the bucket's <c>index.html</c> when the run ends, whatever its end
/// (completed, failed): the stage protocol calls it through <see cref="IRunEndHook"/>.
/// </summary>
public sealed class ReportPublisher(IBucket bucket, RunLedger ledger, TimeProvider clock, ILogger<ReportPublisher> logger) : IRunEndHook
{
    public async Task RunEndedAsync(RunManifest manifest, CancellationToken cancellationToken)
    {
        await WriteReportAsync(manifest.RunId, cancellationToken);
        await WriteIndexAsync(cancellationToken);
    }

    /// <summary>Renders the run's report from the bucket's files and writes it; returns its object name.</summary>
    public async Task<string> WriteReportAsync(string runId, CancellationToken cancellationToken)
    {
        var started = clock.GetTimestamp();
        var report = await new RunReportReader(bucket, ledger).ReadAsync(runId, cancellationToken);
        var name = BucketLayout.Report(runId);
        await bucket.WriteAsync(name, Encoding.UTF8.GetBytes(RunReportPage.Render(report)), ContentTypes.Html, null, cancellationToken);
        logger.LogInformation("Report of run {RunId} written to {Report} in {Seconds:0.000} s", runId, bucket.Describe(name),
            clock.GetElapsedTime(started).TotalSeconds);
        return name;
    }

    /// <summary>Renders the index of every run in the bucket and writes it.</summary>
    public async Task WriteIndexAsync(CancellationToken cancellationToken)
    {
        var started = clock.GetTimestamp();
        var runs = await new RunCatalog(bucket, ledger).ReadAsync(cancellationToken);
        await bucket.WriteAsync(BucketLayout.Index, Encoding.UTF8.GetBytes(RunIndexPage.Render(runs, clock.GetUtcNow())), ContentTypes.Html, null, cancellationToken);
        logger.LogInformation("Index of {Runs} runs written to {Index} in {Seconds:0.000} s", runs.Count, bucket.Describe(BucketLayout.Index),
            clock.GetElapsedTime(started).TotalSeconds);
    }
}
