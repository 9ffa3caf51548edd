using System.Diagnostics;
using DuckDB.NET.Data;

namespace Pipeline.Benchmarks;

/// <summary>
/// The floor: DuckDB alone, two threads, reading the same file, computing the same statistics as BuildStats
/// (the <c>rfm</c> preset, window 2025, as of 2026-01-01) and writing them ordered by user as zstd Parquet — what
/// BuildStats would cost if validating, the pipeline and .NET were free.
/// </summary>
public static class Floor
{
    public static TimeSpan Measure(string input, string output)
    {
        var source = input.EndsWith(".csv", StringComparison.OrdinalIgnoreCase)
            ? $"read_csv('{input}', header = true, timestampformat = '%Y-%m-%d %H:%M:%S UTC')"
            : $"read_parquet('{input}')";
        var watch = Stopwatch.StartNew();
        using var connection = new DuckDBConnection("DataSource=:memory:");
        connection.Open();
        ThelookOrderItems.Execute(connection, "SET threads = 2");
        ThelookOrderItems.Execute(connection, "SET TimeZone = 'UTC'");
        ThelookOrderItems.Execute(connection, $"""
            COPY (
                SELECT user_id,
                    date_diff('day', CAST(max(created_at) AS DATE), DATE '2026-01-01') AS days_since_last_order,
                    count(DISTINCT order_id) AS count_orders,
                    sum(sale_price) / count(DISTINCT order_id) AS average_spend
                FROM {source}
                WHERE created_at >= '2025-01-01 00:00:00+00' AND created_at < '2026-01-01 00:00:00+00'
                  AND status NOT IN ('Cancelled', 'Returned')
                GROUP BY user_id
                ORDER BY user_id
            ) TO '{output}' (FORMAT parquet, COMPRESSION zstd)
            """);
        return watch.Elapsed;
    }
}
