using DuckDB.NET.Data;
using Pipeline.Core;

namespace Pipeline.Embedded;

/// <summary>
/// Puts the input order items in front of DuckDB as a view <c>order_items(order_id, user_id, status, created_at,
/// sale_price, product_id)</c> with normalized types (product_id is optional: NULL when absent or not a whole number), whatever the file: a CSV as BigQuery exports it (timestamps like
/// <c>2022-03-04 05:06:07 UTC</c>) or with ISO 8601 timestamps, a Parquet file, or a DuckDB database with an
/// <c>order_items</c> table. Checks the required columns and every value before any statistic is computed, and
/// reports the first problem as a permanent error naming the column and an offending value.
/// </summary>
public static class OrderItemsSource
{
    public static IReadOnlyList<string> RequiredColumns { get; } = ["order_id", "user_id", "status", "created_at", "sale_price"];

    /// <summary>Creates the view and validates the data; returns the number of rows.</summary>
    public static long Attach(DuckDBConnection connection, string? inputPath)
    {
        if (string.IsNullOrWhiteSpace(inputPath))
            throw new PermanentPipelineException("no input is configured: set Embedded:Input (--input) to a CSV, Parquet or DuckDB file");
        var path = Path.GetFullPath(inputPath);
        if (!File.Exists(path))
            throw new PermanentPipelineException($"the input file {path} does not exist");

        var source = Path.GetExtension(path).ToLowerInvariant() switch
        {
            ".csv" or ".gz" => $"read_csv({DuckDb.Literal(path)}, header = true, all_varchar = true)",
            ".parquet" => $"read_parquet({DuckDb.Literal(path)})",
            ".duckdb" or ".db" => AttachDatabase(connection, path),
            var other => throw new PermanentPipelineException(
                $"the input {path} has an unknown type '{other}': use .csv, .parquet or .duckdb"),
        };

        Dictionary<string, string> columns;
        try
        {
            DuckDb.Execute(connection, $"CREATE OR REPLACE TEMP VIEW order_items_raw AS SELECT * FROM {source}");
            columns = Describe(connection);
        }
        catch (DuckDBException e)
        {
            throw new PermanentPipelineException($"the input {path} cannot be read: {FirstLine(e.Message)}", e);
        }

        var missing = RequiredColumns.Where(c => !columns.ContainsKey(c)).ToList();
        if (missing.Count > 0)
            throw new PermanentPipelineException(
                $"the input {path} lacks the required column{(missing.Count > 1 ? "s" : "")} {string.Join(", ", missing)} " +
                $"(it has: {string.Join(", ", columns.Keys)})");

        DuckDb.Execute(connection, $"""
            CREATE OR REPLACE TEMP VIEW order_items AS
            SELECT
                {Integer("order_id", columns)} AS order_id,
                {Integer("user_id", columns)} AS user_id,
                CAST(status AS VARCHAR) AS status,
                {Timestamp("created_at", columns)} AS created_at,
                {Decimal("sale_price", columns)} AS sale_price,
                {(columns.ContainsKey("product_id") ? Integer("product_id", columns) : "CAST(NULL AS BIGINT)")} AS product_id,
                CAST(order_id AS VARCHAR) AS order_id_raw,
                CAST(user_id AS VARCHAR) AS user_id_raw,
                CAST(created_at AS VARCHAR) AS created_at_raw,
                CAST(sale_price AS VARCHAR) AS sale_price_raw
            FROM order_items_raw
            """);
        return Validate(connection, path);
    }

    private static long Validate(DuckDBConnection connection, string path)
    {
        (string Column, string Expected)[] checks =
        [
            ("order_id", "a whole number"),
            ("user_id", "a whole number"),
            ("created_at", "a timestamp such as 2022-03-04 05:06:07 UTC or 2022-03-04T05:06:07Z"),
            ("sale_price", "a number"),
        ];
        var selects = string.Join(",\n", checks.Select(c =>
            $"count(*) FILTER (WHERE {c.Column} IS NULL), first({c.Column}_raw) FILTER (WHERE {c.Column} IS NULL)"));
        try
        {
            using var command = DuckDb.Command(connection, $"SELECT count(*),\n{selects},\ncount(*) FILTER (WHERE status IS NULL) FROM order_items");
            using var reader = command.ExecuteReader();
            reader.Read();
            var rows = reader.GetInt64(0);
            for (var i = 0; i < checks.Length; i++)
            {
                var bad = reader.GetInt64(1 + 2 * i);
                if (bad == 0) continue;
                var example = reader.IsDBNull(2 + 2 * i) ? null : reader.GetString(2 + 2 * i);
                throw new PermanentPipelineException(example is null || example.Trim().Length == 0
                    ? $"the input {path} has {bad:N0} row(s) with an empty {checks[i].Column}"
                    : $"the input {path} has {bad:N0} row(s) whose {checks[i].Column} is not {checks[i].Expected}, e.g. '{Shorten(example)}'");
            }
            var noStatus = reader.GetInt64(1 + 2 * checks.Length);
            if (noStatus > 0)
                throw new PermanentPipelineException($"the input {path} has {noStatus:N0} row(s) with an empty status");
            return rows;
        }
        catch (DuckDBException e)
        {
            throw new PermanentPipelineException($"the input {path} cannot be read: {FirstLine(e.Message)}", e);
        }
    }

    private static string AttachDatabase(DuckDBConnection connection, string path)
    {
        try
        {
            DuckDb.Execute(connection, $"ATTACH {DuckDb.Literal(path)} AS source (READ_ONLY)");
        }
        catch (DuckDBException e)
        {
            throw new PermanentPipelineException($"the DuckDB database {path} cannot be opened: {FirstLine(e.Message)}", e);
        }
        var tables = DuckDb.Scalar<long>(connection,
            "SELECT count(*) FROM duckdb_tables() WHERE database_name = 'source' AND table_name = 'order_items'");
        if (tables == 0)
            throw new PermanentPipelineException($"the DuckDB database {path} has no order_items table");
        return "source.order_items";
    }

    private static Dictionary<string, string> Describe(DuckDBConnection connection)
    {
        var columns = new Dictionary<string, string>(StringComparer.Ordinal);
        using var command = DuckDb.Command(connection, "DESCRIBE order_items_raw");
        using var reader = command.ExecuteReader();
        while (reader.Read()) columns[reader.GetString(0)] = reader.GetString(1);
        return columns;
    }

    internal static bool IsText(string column, Dictionary<string, string> columns) => columns[column] == "VARCHAR";

    internal static string Integer(string column, Dictionary<string, string> columns) =>
        IsText(column, columns) ? $"TRY_CAST(trim({column}) AS BIGINT)" : $"TRY_CAST({column} AS BIGINT)";

    internal static string Decimal(string column, Dictionary<string, string> columns) =>
        IsText(column, columns) ? $"TRY_CAST(trim({column}) AS DOUBLE)" : $"TRY_CAST({column} AS DOUBLE)";

    /// <summary>
    /// Text timestamps: BigQuery's export format first, then ISO 8601 with or without an offset; all end as UTC
    /// wall-clock TIMESTAMPs (the connection's time zone is UTC).
    /// </summary>
    private static string Timestamp(string column, Dictionary<string, string> columns) => columns[column] switch
    {
        "VARCHAR" => $"""
            COALESCE(
                try_strptime(trim({column}), ['%Y-%m-%d %H:%M:%S.%f UTC', '%Y-%m-%d %H:%M:%S UTC', '%Y-%m-%d %H:%M UTC']),
                TRY_CAST(TRY_CAST(trim({column}) AS TIMESTAMPTZ) AS TIMESTAMP))
            """,
        "TIMESTAMP WITH TIME ZONE" => $"CAST({column} AS TIMESTAMP)",
        "DATE" => $"CAST({column} AS TIMESTAMP)",
        _ => $"TRY_CAST({column} AS TIMESTAMP)",
    };

    internal static string Shorten(string value) => value.Length <= 60 ? value : value[..60] + "…";

    internal static string FirstLine(string message) => message.Split('\n')[0].Trim();
}
