using DuckDB.NET.Data;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Pipeline.Core;

namespace Pipeline.Embedded;

/// <summary>
/// BuildStats on DuckDB: the contract's statistics (both presets) in SQL over the input order items, written as
/// <c>customer_stats/part-00000.parquet</c> (user_id, days_since_last_order, count_orders, average_spend; ordered by user_id).
/// </summary>
public sealed class DuckDbStatsBuilder(IOptions<EmbeddedOptions> options, IBucket bucket, ILogger<DuckDbStatsBuilder> logger)
    : ICustomerStatsBuilder
{
    public Task<StatsSummary> BuildAsync(RunParameters parameters, CancellationToken cancellationToken) =>
        Task.Run(async () =>
        {
            using var connection = DuckDb.Open(options.Value);
            logger.LogInformation("Reading and checking order items from {Input}", options.Value.Input);
            var rows = OrderItemsSource.Attach(connection, options.Value.Input);
            logger.LogInformation("{Rows} order items are valid; computing {Preset} statistics", rows, parameters.Metrics);
            cancellationToken.ThrowIfCancellationRequested();

            DuckDb.Execute(connection, StatsSql(parameters.Metrics),
                ("window_start", parameters.WindowStart.ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc)),
                ("window_end", parameters.WindowEnd.ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc)),
                ("as_of", parameters.AsOf.ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc)));
            var customers = DuckDb.Scalar<long>(connection, "SELECT count(*) FROM customer_stats");
            var items = DuckDb.Scalar<long>(connection, "SELECT CAST(coalesce(sum(items_counted), 0) AS BIGINT) FROM customer_stats");

            var statsObject = BucketLayout.CustomerStats(parameters.RunId);
            RequireFinite(connection, Stages.BuildStats, statsObject, "customer_stats", Features.AverageSpend);
            await ParquetExport.WriteAsync(connection,
                "SELECT user_id, days_since_last_order, count_orders, average_spend FROM customer_stats ORDER BY user_id",
                bucket, statsObject, cancellationToken);
            return new StatsSummary(customers, items, statsObject);
        }, cancellationToken);

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
    /// from the last counted item's UTC date to as_of.
    /// </summary>
    public static string StatsSql(StatsPreset preset) => preset switch
    {
        StatsPreset.Rfm => """
            CREATE OR REPLACE TEMP TABLE customer_stats AS
            SELECT
                user_id,
                date_diff('day', CAST(max(created_at) AS DATE), CAST($as_of AS DATE)) AS days_since_last_order,
                count(DISTINCT order_id) AS count_orders,
                sum(sale_price) / count(DISTINCT order_id) AS average_spend,
                count(*) AS items_counted
            FROM order_items
            WHERE created_at >= $window_start AND created_at < $window_end
              AND status NOT IN ('Cancelled', 'Returned')
            GROUP BY user_id
            """,
        StatsPreset.Lab => """
            CREATE OR REPLACE TEMP TABLE customer_stats AS
            SELECT
                user_id,
                date_diff('day', CAST(max(created_at) AS DATE), CAST($as_of AS DATE)) AS days_since_last_order,
                count(order_id) AS count_orders,
                avg(sale_price) AS average_spend,
                count(*) AS items_counted
            FROM order_items
            WHERE created_at >= $window_start AND created_at < $window_end
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
            await bucket.UploadFileAsync(objectName, temporary, contentType, cancellationToken);
        }
        finally
        {
            if (File.Exists(temporary)) File.Delete(temporary);
        }
    }
}
