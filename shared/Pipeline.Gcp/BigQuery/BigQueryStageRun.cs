using Pipeline.Core;

namespace Pipeline.Gcp;

/// <summary>
/// One delivery's work on BigQuery for a stage, within the stage's wait budget
/// (<see cref="PipelineOptions.StageWaitSeconds"/>). The budget covers the whole delivery — starting and waiting for
/// jobs, reading results, checking and tidying the exported files — not only the job waits: when it is spent, every
/// request in flight is cancelled and the delivery ends with <see cref="StageStillRunningException"/> (503), and the
/// next delivery attaches to the same jobs and carries on, before Pub/Sub's push deadline ends it from outside.
/// </summary>
internal sealed class BigQueryStageRun(IBigQueryClient client, string stage, DateTimeOffset deadline, TimeProvider clock)
{
    public static BigQueryStageRun Start(IBigQueryClient client, string stage, PipelineOptions pipeline, TimeProvider clock) =>
        new(client, stage, clock.GetUtcNow() + TimeSpan.FromSeconds(pipeline.StageWaitSeconds), clock);

    public Task<BigQueryJob> StartAsync(SqlStatement statement, CancellationToken cancellationToken) =>
        WithinBudgetAsync(statement.JobId(), ct => client.StartAsync(statement, ct), cancellationToken);

    /// <summary>Waits for a started job within what is left of the budget.</summary>
    public Task CompleteAsync(BigQueryJob job, CancellationToken cancellationToken) =>
        WithinBudgetAsync(job.JobId, async ct =>
        {
            if (!await client.WaitAsync(job, Remaining(), ct)) throw new StageStillRunningException(stage, job.JobId);
            return true;
        }, cancellationToken);

    /// <summary>Starts every statement first (so they run side by side), then waits for each.</summary>
    public async Task<IReadOnlyList<BigQueryJob>> RunAllAsync(IEnumerable<SqlStatement> statements, CancellationToken cancellationToken)
    {
        var jobs = new List<BigQueryJob>();
        foreach (var statement in statements) jobs.Add(await StartAsync(statement, cancellationToken));
        foreach (var job in jobs) await CompleteAsync(job, cancellationToken);
        return jobs;
    }

    public async Task<BigQueryJob> RunAsync(SqlStatement statement, CancellationToken cancellationToken) =>
        (await RunAllAsync([statement], cancellationToken))[0];

    /// <summary>Runs a query and reads its (small) result whole.</summary>
    public async Task<IReadOnlyList<BigQueryRow>> QueryAsync(SqlStatement statement, CancellationToken cancellationToken)
    {
        var job = await RunAsync(statement, cancellationToken);
        return await WithinBudgetAsync(job.JobId, async ct =>
        {
            var rows = new List<BigQueryRow>();
            await foreach (var page in client.ReadAsync(job, ct)) rows.AddRange(page.Rows);
            return rows;
        }, cancellationToken);
    }

    /// <summary>Runs a query and hands its result to <paramref name="onPage"/> page by page, within the budget.</summary>
    public async Task ReadPagesAsync(SqlStatement statement, Func<BigQueryResultPage, CancellationToken, Task> onPage, CancellationToken cancellationToken)
    {
        var job = await RunAsync(statement, cancellationToken);
        await WithinBudgetAsync(job.JobId, async ct =>
        {
            await foreach (var page in client.ReadAsync(job, ct)) await onPage(page, ct);
            return true;
        }, cancellationToken);
    }

    /// <summary>
    /// Runs an <c>EXPORT DATA</c> statement into the table's prefix in the bucket, then removes the parts an earlier
    /// attempt left that this export did not overwrite; returns the rows exported. No row passes through here.
    /// </summary>
    public async Task<long> ExportAsync(SqlStatement export, IBucket bucket, string tablePrefix, CancellationToken cancellationToken)
    {
        var job = await RunAsync(export, cancellationToken);
        return await WithinBudgetAsync(job.JobId, async ct =>
        {
            var written = await client.ExportStatisticsAsync(job, ct);
            await ExportedParts.TidyAsync(bucket, tablePrefix, written.FileCount, ct);
            return written.RowCount;
        }, cancellationToken);
    }

    private TimeSpan Remaining()
    {
        var remaining = deadline - clock.GetUtcNow();
        return remaining > TimeSpan.Zero ? remaining : TimeSpan.Zero;
    }

    /// <summary>
    /// Runs one step with a token that is cancelled when the budget is spent; that cancellation (not the caller's)
    /// becomes <see cref="StageStillRunningException"/> naming the job the step was about.
    /// </summary>
    private async Task<T> WithinBudgetAsync<T>(string jobId, Func<CancellationToken, Task<T>> step, CancellationToken cancellationToken)
    {
        using var budget = new CancellationTokenSource(Remaining(), clock);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, budget.Token);
        try
        {
            return await step(linked.Token);
        }
        catch (OperationCanceledException) when (budget.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new StageStillRunningException(stage, jobId);
        }
    }
}
