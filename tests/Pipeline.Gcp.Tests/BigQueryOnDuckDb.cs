using System.Text.RegularExpressions;
using DuckDB.NET.Data;
using Pipeline.Embedded;

namespace Pipeline.Gcp.Tests;

/// <summary>
/// Runs the GCP backend's BigQuery SQL on DuckDB, after a purely mechanical translation of the dialect (XOR,
/// DATE_DIFF's argument order, parameter markers, type and table names), so that its meaning can be checked here
/// against the in-process rule and the embedded backend's SQL.
/// </summary>
internal static partial class BigQueryOnDuckDb
{
    [GeneratedRegex(@"(\w+) \^ (\([^()]*\))")]
    private static partial Regex Xor();

    [GeneratedRegex(@"@(\w+)")]
    private static partial Regex Parameter();

    [GeneratedRegex(@"`[^`]+\.(\w+)`")]
    private static partial Regex QuotedTable();

    /// <summary>The query part of a <c>CREATE OR REPLACE TABLE … AS</c> statement (or a plain query), in DuckDB's dialect.</summary>
    public static string Translate(string bigQuerySql, IReadOnlyDictionary<string, string> tables)
    {
        var start = bigQuerySql.IndexOf("\nAS\n", StringComparison.Ordinal);
        var query = start < 0 ? bigQuerySql : bigQuerySql[(start + 4)..];
        query = Xor().Replace(query, "xor($1, $2)");
        query = query
            .Replace("DATE_DIFF(@as_of, DATE(MAX(created_at)), DAY)", "date_diff('day', CAST(MAX(created_at) AS DATE), @as_of)", StringComparison.Ordinal)
            .Replace("TIMESTAMP(@window_start)", "CAST(@window_start AS TIMESTAMP)", StringComparison.Ordinal)
            .Replace("TIMESTAMP(@window_end)", "CAST(@window_end AS TIMESTAMP)", StringComparison.Ordinal)
            .Replace("AS INT64", "AS BIGINT", StringComparison.Ordinal)
            .Replace("AS FLOAT64", "AS DOUBLE", StringComparison.Ordinal)
            .Replace("PERCENTILE_CONT(", "quantile_cont(", StringComparison.Ordinal);
        query = QuotedTable().Replace(query, m => tables[m.Groups[1].Value]);
        return Parameter().Replace(query, "$$$1");
    }

    public static DuckDBConnection Open() => DuckDb.Open(new EmbeddedOptions());
}
