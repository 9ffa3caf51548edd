using System.IO.Compression;
using DuckDB.NET.Data;
using Pipeline.Core;

namespace Pipeline.Embedded;

/// <summary>
/// Puts the input order items in front of DuckDB as a view <c>order_items(order_id, user_id, status, created_at,
/// sale_price)</c> with normalized types, whatever the file: a CSV as BigQuery exports it (timestamps like
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
        if (new FileInfo(path).Length == 0)
            throw new PermanentPipelineException($"the input file {path} is empty: it needs a header ({string.Join(",", RequiredColumns)}) and rows");

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

        RequireWellFormedCsv(path, columns);
        var missing = RequiredColumns.Where(c => !columns.ContainsKey(c)).ToList();
        if (missing.Count > 0)
            throw new PermanentPipelineException(
                $"the input {path} lacks the required column{(missing.Count > 1 ? "s" : "")} {string.Join(", ", missing)} " +
                $"(it has: {string.Join(", ", columns.Keys)})");
        RequireTypes(path, columns);

        DuckDb.Execute(connection, $"""
            CREATE OR REPLACE TEMP VIEW order_items AS
            SELECT
                {Integer("order_id", columns)} AS order_id,
                {Integer("user_id", columns)} AS user_id,
                CAST(status AS VARCHAR) AS status,
                {Timestamp("created_at", columns)} AS created_at,
                {Decimal("sale_price", columns)} AS sale_price,
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
            ("sale_price", "a finite number"),
        ];
        var selects = string.Join(",\n", checks.Select(c =>
            $"count(*) FILTER (WHERE {c.Column} IS NULL), first({c.Column}_raw) FILTER (WHERE {c.Column} IS NULL)"));
        try
        {
            using var command = DuckDb.Command(connection, $"SELECT count(*),\n{selects},\ncount(*) FILTER (WHERE status IS NULL) FROM order_items");
            using var reader = command.ExecuteReader();
            reader.Read();
            var rows = reader.GetInt64(0);
            if (rows == 0)
                throw new PermanentPipelineException($"the input {path} has no order items: a header and no rows");
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

    /// <summary>
    /// Checks what DuckDB's CSV reader does not: a gzip file cut short (DuckDB reads what is there), a header
    /// naming a required column twice (DuckDB renames the second, sale_price_1, and the run would use the first),
    /// and rows that do not match the header (then DuckDB's sniffer takes a data row for the header, and the
    /// missing-column message would be misleading).
    /// </summary>
    private static void RequireWellFormedCsv(string path, Dictionary<string, string> columns)
    {
        var gzip = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase);
        if (!gzip && !path.EndsWith(".csv", StringComparison.OrdinalIgnoreCase)) return;
        if (gzip) RequireWholeGzip(path);

        string? header;
        using (var file = File.OpenRead(path))
        using (Stream content = gzip ? new GZipStream(file, CompressionMode.Decompress) : file)
        using (var reader = new StreamReader(content, detectEncodingFromByteOrderMarks: true))
            header = reader.ReadLine();
        if (header is null) return;

        var names = header.Split([',', ';', '\t', '|']).Select(n => n.Trim().Trim('"').Trim()).ToList();
        var twice = RequiredColumns.Where(c => names.Count(n => n == c) > 1).ToList();
        if (twice.Count > 0)
            throw new PermanentPipelineException(
                $"the input {path} has the column {string.Join(", ", twice)} more than once in its header; keep one");
        if (RequiredColumns.All(names.Contains) && !RequiredColumns.All(columns.ContainsKey))
            throw new PermanentPipelineException(
                $"the input {path} has rows that do not match its header of {names.Count} columns (e.g. a row with an extra " +
                "field): quote values that contain the delimiter, and give every row as many fields as the header");
    }

    /// <summary>A gzip file whose data ends early: its trailer (the uncompressed size) does not match what it holds.</summary>
    private static void RequireWholeGzip(string path)
    {
        long total = 0;
        uint expected;
        try
        {
            using (var file = File.OpenRead(path))
            using (var gzip = new GZipStream(file, CompressionMode.Decompress))
            {
                var buffer = new byte[81_920];
                int read;
                while ((read = gzip.Read(buffer)) > 0) total += read;
            }
            using var tail = File.OpenRead(path);
            tail.Seek(-4, SeekOrigin.End);
            var size = new byte[4];
            tail.ReadExactly(size);
            expected = BitConverter.ToUInt32(size);
        }
        catch (Exception e) when (e is InvalidDataException or IOException)
        {
            throw new PermanentPipelineException($"the input {path} is not a readable gzip file: {FirstLine(e.Message)}", e);
        }
        if ((uint)total != expected)
            throw new PermanentPipelineException(
                $"the input {path} is a truncated or damaged gzip file: it decompresses to {total:N0} bytes, its trailer says {expected:N0}");
    }

    private static readonly string[] IntegerTypes =
        ["TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT"];

    private static bool IsFractional(string type) => type is "FLOAT" or "DOUBLE" || type.StartsWith("DECIMAL", StringComparison.Ordinal);

    /// <summary>
    /// A typed column (Parquet, DuckDB) of a type that cannot hold the value: a boolean price or a numeric
    /// timestamp would otherwise be converted into something plausible and wrong.
    /// </summary>
    private static void RequireTypes(string path, Dictionary<string, string> columns)
    {
        foreach (var (column, expected, fits) in new (string, string, Func<string, bool>)[]
                 {
                     ("order_id", "a whole number such as 12345", t => IntegerTypes.Contains(t) || IsFractional(t)),
                     ("user_id", "a whole number such as 12345", t => IntegerTypes.Contains(t) || IsFractional(t)),
                     ("status", "text such as Complete", _ => false),
                     ("created_at", "a timestamp such as 2022-03-04 05:06:07 UTC", t => t.StartsWith("TIMESTAMP", StringComparison.Ordinal) || t == "DATE"),
                     ("sale_price", "a number such as 19.99", t => IntegerTypes.Contains(t) || IsFractional(t)),
                 })
        {
            var type = columns[column];
            if (type != "VARCHAR" && !fits(type))
                throw new PermanentPipelineException($"the input {path}'s column {column} is {type}: it must be {expected}, or text");
        }
    }

    private static bool IsText(string column, Dictionary<string, string> columns) => columns[column] == "VARCHAR";

    /// <summary>A whole number, or NULL: text with a fraction or an exponent, or a typed value with a fraction, is refused, not rounded.</summary>
    private static string Integer(string column, Dictionary<string, string> columns) => columns[column] switch
    {
        "VARCHAR" => $"CASE WHEN regexp_full_match(trim({column}), '[+-]?[0-9]+') THEN TRY_CAST(trim({column}) AS BIGINT) END",
        var type when IsFractional(type) => $"CASE WHEN {column} = trunc({column}) THEN TRY_CAST({column} AS BIGINT) END",
        _ => $"TRY_CAST({column} AS BIGINT)",
    };

    /// <summary>
    /// A finite double, or NULL (refused with the row count and an example): DuckDB reads <c>NaN</c>, <c>inf</c> and
    /// <c>-Infinity</c> as valid doubles, and one of them would make every centroid NaN.
    /// </summary>
    private static string Decimal(string column, Dictionary<string, string> columns)
    {
        var value = IsText(column, columns) ? $"TRY_CAST(trim({column}) AS DOUBLE)" : $"TRY_CAST({column} AS DOUBLE)";
        return $"CASE WHEN isfinite({value}) THEN {value} END";
    }

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

    private static string Shorten(string value) => value.Length <= 60 ? value : value[..60] + "…";

    private static string FirstLine(string message) => message.Split('\n')[0].Trim();
}
