using System.Globalization;
using DuckDB.NET.Data;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Pipeline.Core;

namespace Pipeline.Embedded;

/// <summary>
/// BuildStats on DuckDB: the contract's statistics (both presets) in SQL over the input order items, written as
/// <c>customer_stats/part-00000.parquet</c> (the columns of <see cref="BucketTables.CustomerStats"/>, ordered by user_id).
/// </summary>
/// <remarks>
/// The input is read once: the statistics query also counts rows with a missing or unreadable value, and only
/// when there are some is the input read again, as text, to name the first one (<see cref="OrderItemsSource"/>).
/// </remarks>
public sealed class DuckDbStatsBuilder(IOptions<EmbeddedOptions> options, IBucket bucket, ILogger<DuckDbStatsBuilder> logger,
    IStageProgress? progress = null) : ICustomerStatsBuilder
{
    private const string ReadingStep = "reading order items";
    private readonly IStageProgress _progress = progress ?? StageProgress.Silent;

    public Task<StatsSummary> BuildAsync(RunParameters parameters, CancellationToken cancellationToken) =>
        Task.Run(async () =>
        {
            using var connection = DuckDb.Open(options.Value);
            var input = options.Value.Input;
            logger.LogInformation("Computing {Preset} statistics from {Input}", parameters.Metrics, input);
            var typedCsv = OrderItemsSource.Attach(connection, input);
            // Rows read are counted only where that costs nothing (Parquet and DuckDB know it without reading
            // values); a CSV's progress is DuckDB's percentage of the file.
            long? rows = _progress.Listening && OrderItemsSource.CountsRowsCheaply(input)
                ? DuckDb.Scalar<long>(connection, "SELECT count(*) FROM order_items_raw")
                : null;
            var (customers, items, bad) = TryCompute(connection, parameters, input, typedCsv, statement =>
                DuckDbProgress.Run(connection, _progress, percentage => Reading(parameters.RunId, rows, percentage), statement));
            if (bad != 0 || customers == 0)
            {
                // Rare: a value the typed read could not take (or nothing counted, which may be an input without
                // rows). Read again as text, with every accepted format, and name the first bad value; if there is
                // none, the text read's statistics are the answer.
                logger.LogInformation("The typed read of {Input} met a value it could not take; reading every value as text", input);
                cancellationToken.ThrowIfCancellationRequested();
                rows = OrderItemsSource.AttachChecked(connection, input);
                (customers, items, bad) = TryCompute(connection, parameters, input, typedCsv: false, statement =>
                    DuckDbProgress.Run(connection, _progress, percentage => Reading(parameters.RunId, rows, percentage), statement));
                if (bad != 0)
                    throw new PermanentPipelineException($"the input {input} has {bad:N0} row(s) with a missing or unreadable value");
            }
            cancellationToken.ThrowIfCancellationRequested();
            _progress.Report(Reading(parameters.RunId, rows, 100) with
            {
                Detail = string.Create(CultureInfo.InvariantCulture, $"{items:N0} items counted in the window, {customers:N0} customers"),
                Final = true,
            });

            var statsObject = BucketLayout.CustomerStats(parameters.RunId);
            RequireFinite(connection, Stages.BuildStats, statsObject, "customer_stats", Features.AverageSpend);
            await ParquetExport.WriteAsync(connection,
                $"SELECT {string.Join(", ", BucketTables.CustomerStats.Select(c => c.Name))} FROM customer_stats ORDER BY user_id",
                bucket, statsObject, cancellationToken);
            _progress.Report(new StageProgress(parameters.RunId, Stages.BuildStats, "writing customer_stats", customers, customers, "customers", Final: true));
            logger.LogInformation("{Customers} customers from {Items} counted order items", customers, items);
            return new StatsSummary(customers, items, statsObject);
        }, cancellationToken);

    /// <summary>Rows read so far, from DuckDB's percentage; a CSV's share of the file when its rows are not counted.</summary>
    private static StageProgress Reading(string runId, long? rows, double percentage) => rows is { } total
        ? new StageProgress(runId, Stages.BuildStats, ReadingStep, (long)Math.Round(total * percentage / 100), total, "rows")
        : new StageProgress(runId, Stages.BuildStats, ReadingStep, (long)Math.Round(percentage), 100, "%");

    /// <summary>
    /// Computes <c>customer_stats</c> in one pass over the input, counting rows with a bad value as it goes. A typed
    /// CSV read that meets a value it cannot convert fails; that counts as a bad value too (-1).
    /// </summary>
    /// <param name="run">Runs the statistics statement (with progress reported while it runs).</param>
    private static (long Customers, long Items, long BadValues) TryCompute(DuckDBConnection connection, RunParameters parameters,
        string? input, bool typedCsv, Action<Action> run)
    {
        try
        {
            run(() => DuckDb.Execute(connection, StatsSql(parameters.Metrics),
                ("window_start", parameters.WindowStart.ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc)),
                ("window_end", parameters.WindowEnd.ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc)),
                ("as_of", parameters.AsOf.ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc))));
        }
        catch (DuckDBException) when (typedCsv)
        {
            return (0, 0, -1);
        }
        catch (DuckDBException e)
        {
            throw OrderItemsSource.Unreadable(Path.GetFullPath(input!), e);
        }
        using var command = DuckDb.Command(connection,
            "SELECT count(*), CAST(coalesce(sum(items_counted), 0) AS BIGINT), " +
            "CAST(coalesce(sum(bad_values), 0) AS BIGINT) FROM customer_stats");
        using var reader = command.ExecuteReader();
        reader.Read();
        return (reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2));
    }

    /// <summary>
    /// Fails the stage when a column of a table about to be written holds NaN or infinity (prices that are each
    /// finite can still add up past what a double holds), naming the column and a customer as the example.
    /// </summary>
    public static void RequireFinite(DuckDBConnection connection, string stage, string objectName, string table, string column)
    {
        using var command = DuckDb.Command(connection,
            $"SELECT count(*), first(user_id) FROM {table} WHERE NOT isfinite(CAST({column} AS DOUBLE))");
        using var reader = command.ExecuteReader();
        reader.Read();
        var rows = reader.GetInt64(0);
        if (rows > 0)
            throw FiniteNumbers.Error(stage, objectName, column, rows, $"user_id {reader.GetValue(1)}");
    }

    /// <summary>
    /// The statistics of CONTRACT.md, "Customer statistics": the window is half-open in UTC; recency counts days
    /// from the last counted item's UTC date to as_of. Beside them, each customer's counted items, distinct orders
    /// and revenue, which the segment profiles add up instead of reading the items again: in the same aggregate
    /// they cost almost nothing (rfm's distinct orders are its count_orders again).
    /// </summary>
    public static string StatsSql(StatsPreset preset) => preset switch
    {
        StatsPreset.Rfm => $"""
            CREATE OR REPLACE TEMP TABLE customer_stats AS
            SELECT
                user_id,
                date_diff('day', CAST(max(created_at) AS DATE), CAST($as_of AS DATE)) AS days_since_last_order,
                count(DISTINCT order_id) AS count_orders,
                sum(sale_price) / count(DISTINCT order_id) AS average_spend,
                count(*) AS items_counted,
                count(DISTINCT order_id) AS distinct_orders,
                sum(sale_price) AS revenue,
                count(*) FILTER (WHERE {OrderItemsSource.BadValue}) AS bad_values
            FROM order_items
            WHERE (created_at >= $window_start AND created_at < $window_end AND status NOT IN ('Cancelled', 'Returned'))
               OR {OrderItemsSource.BadValue}
            GROUP BY user_id
            """,
        StatsPreset.Lab => $"""
            CREATE OR REPLACE TEMP TABLE customer_stats AS
            SELECT
                user_id,
                date_diff('day', CAST(max(created_at) AS DATE), CAST($as_of AS DATE)) AS days_since_last_order,
                count(order_id) AS count_orders,
                avg(sale_price) AS average_spend,
                count(*) AS items_counted,
                count(DISTINCT order_id) AS distinct_orders,
                sum(sale_price) AS revenue,
                count(*) FILTER (WHERE {OrderItemsSource.BadValue}) AS bad_values
            FROM order_items
            WHERE (created_at >= $window_start AND created_at < $window_end) OR {OrderItemsSource.BadValue}
            GROUP BY user_id
            """,
        _ => throw new ArgumentOutOfRangeException(nameof(preset)),
    };
}

/// <summary>Writes a DuckDB query's result as a bucket table: one Parquet part under the table's prefix, written whole.</summary>
public static class ParquetExport
{
    public static Task WriteAsync(DuckDBConnection connection, string query, IBucket bucket, string tablePrefix,
        CancellationToken cancellationToken) =>
        CopyAsync(connection, query, "FORMAT parquet, COMPRESSION zstd", bucket, BucketLayout.Part(tablePrefix, 0), ContentTypes.Parquet, cancellationToken);

    /// <summary>The query's result as one CSV object with a header line (an audience file).</summary>
    public static Task WriteCsvAsync(DuckDBConnection connection, string query, IBucket bucket, string objectName,
        CancellationToken cancellationToken) =>
        CopyAsync(connection, query, "FORMAT csv, HEADER true", bucket, objectName, ContentTypes.Csv, cancellationToken);

    private static async Task CopyAsync(DuckDBConnection connection, string query, string format, IBucket bucket, string objectName,
        string contentType, CancellationToken cancellationToken)
    {
        var temporary = Path.Combine(Path.GetTempPath(), $"pipeline-{Guid.NewGuid():N}.export");
        try
        {
            DuckDb.Execute(connection, $"COPY ({query}) TO {DuckDb.Literal(temporary)} ({format})");
            await bucket.MoveFileInAsync(objectName, temporary, contentType, cancellationToken);
        }
        finally
        {
            if (File.Exists(temporary)) File.Delete(temporary);
        }
    }
}
