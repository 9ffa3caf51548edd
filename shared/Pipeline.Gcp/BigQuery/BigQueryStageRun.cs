using Pipeline.Core;

namespace Pipeline.Gcp;

/// <summary>
/// One delivery's work on BigQuery for a stage: statements run as jobs within the stage's wait budget
/// (<see cref="PipelineOptions.StageWaitSeconds"/>); a job still running when the budget is spent ends the delivery
/// with <see cref="StageStillRunningException"/>, and the next delivery attaches to the same job.
/// </summary>
internal sealed class BigQueryStageRun(IBigQueryClient client, string stage, DateTimeOffset deadline, TimeProvider clock)
{
    public static BigQueryStageRun Start(IBigQueryClient client, string stage, PipelineOptions pipeline, TimeProvider clock) =>
        new(client, stage, clock.GetUtcNow() + TimeSpan.FromSeconds(pipeline.StageWaitSeconds), clock);

    public Task<BigQueryJob> StartAsync(SqlStatement statement, CancellationToken cancellationToken) =>
        client.StartAsync(statement, cancellationToken);

    /// <summary>Waits for a started job within what is left of the budget.</summary>
    public async Task CompleteAsync(BigQueryJob job, CancellationToken cancellationToken)
    {
        var remaining = deadline - clock.GetUtcNow();
        if (!await client.WaitAsync(job, remaining > TimeSpan.Zero ? remaining : TimeSpan.Zero, cancellationToken))
            throw new StageStillRunningException(stage, job.JobId);
    }

    /// <summary>Starts every statement first (so they run side by side), then waits for each.</summary>
    public async Task<IReadOnlyList<BigQueryJob>> RunAllAsync(IEnumerable<SqlStatement> statements, CancellationToken cancellationToken)
    {
        var jobs = new List<BigQueryJob>();
        foreach (var statement in statements) jobs.Add(await client.StartAsync(statement, cancellationToken));
        foreach (var job in jobs) await CompleteAsync(job, cancellationToken);
        return jobs;
    }

    public async Task<BigQueryJob> RunAsync(SqlStatement statement, CancellationToken cancellationToken) =>
        (await RunAllAsync([statement], cancellationToken))[0];

    /// <summary>Runs a query and reads its (small) result whole.</summary>
    public async Task<IReadOnlyList<BigQueryRow>> QueryAsync(SqlStatement statement, CancellationToken cancellationToken)
    {
        var job = await RunAsync(statement, cancellationToken);
        var rows = new List<BigQueryRow>();
        await foreach (var page in client.ReadAsync(job, cancellationToken)) rows.AddRange(page.Rows);
        return rows;
    }

    /// <summary>Runs a query and hands back its result page by page, for results too large to hold.</summary>
    public async Task<IAsyncEnumerable<BigQueryResultPage>> QueryPagesAsync(SqlStatement statement, CancellationToken cancellationToken) =>
        client.ReadAsync(await RunAsync(statement, cancellationToken), cancellationToken);
}
