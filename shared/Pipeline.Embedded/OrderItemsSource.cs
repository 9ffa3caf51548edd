using System.Text.RegularExpressions;
using DuckDB.NET.Data;
using Pipeline.Core;

namespace Pipeline.Embedded;

/// <summary>
/// Puts the input order items in front of DuckDB as a view <c>order_items(order_id, user_id, status, created_at,
/// sale_price)</c> with normalized types, whatever the file: a CSV as BigQuery exports it (timestamps like
/// <c>2022-03-04 05:06:07 UTC</c>) or with ISO 8601 timestamps, a Parquet file, or a DuckDB database with an
/// <c>order_items</c> table.
/// </summary>
/// <remarks>
/// Reading is done in two gears. <see cref="Attach"/> reads typed: a CSV is parsed straight into numbers and
/// timestamps with the one format its first row shows, which is as fast as DuckDB reads CSV; a bad value becomes
/// NULL (Parquet, databases) or makes the read fail (CSV). The statistics query counts those NULLs in the same pass
/// (<see cref="BadValue"/>). Only when that count is not zero or the typed read fails does the caller switch to
/// <see cref="AttachChecked"/>: every value read as text, parsed with every format the contract accepts, and checked
/// (<see cref="Validate"/>), which reports the first problem as a permanent error naming the column and an
/// offending value.
/// </remarks>
public static class OrderItemsSource
{
    public static IReadOnlyList<string> RequiredColumns { get; } = ["order_id", "user_id", "status", "created_at", "sale_price"];

    /// <summary>
    /// True for a row of <c>order_items</c> with a missing or unreadable value: the rows <see cref="Validate"/>
    /// reports. The statistics query counts them in its one pass.
    /// </summary>
    public const string BadValue =
        "(order_id IS NULL OR user_id IS NULL OR status IS NULL OR created_at IS NULL OR sale_price IS NULL)";

    // The value checks, in the order a problem is reported.
    private static readonly (string Column, string Expected)[] Checks =
    [
        ("order_id", "a whole number"),
        ("user_id", "a whole number"),
        ("created_at", "a timestamp such as 2022-03-04 05:06:07 UTC or 2022-03-04T05:06:07Z"),
        ("sale_price", "a number"),
    ];

    // BigQuery's CSV export writes UTC timestamps in one of these two shapes; a file's first row says which.
    private static readonly (Regex Shape, string Format)[] CsvTimestampFormats =
    [
        (new Regex(@"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC$", RegexOptions.CultureInvariant), "%Y-%m-%d %H:%M:%S UTC"),
        (new Regex(@"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{1,6} UTC$", RegexOptions.CultureInvariant), "%Y-%m-%d %H:%M:%S.%f UTC"),
    ];

    /// <summary>
    /// Creates the view <c>order_items</c> over a typed read of the input, without checking values (the statistics
    /// query counts bad ones; see <see cref="BadValue"/>). Returns whether a CSV is read typed, in which case a bad
    /// value makes the query fail instead.
    /// </summary>
    public static bool Attach(DuckDBConnection connection, string? inputPath)
    {
        var path = Existing(inputPath);
        var kind = Kind(path);
        if (kind is not InputKind.Csv)
        {
            var source = kind is InputKind.Parquet ? $"read_parquet({DuckDb.Literal(path)})" : AttachDatabase(connection, path);
            CreateViews(connection, path, source);
            return false;
        }

        var (columns, firstCreatedAt) = PeekCsv(connection, path);
        RequireColumns(path, columns);
        // The contract's timestamps parse with a fixed format an order of magnitude faster than the general cast
        // with time zones, which remains for ISO 8601 with offsets.
        var format = CsvTimestampFormats.FirstOrDefault(f => f.Shape.IsMatch(firstCreatedAt?.Trim() ?? "")).Format;
        var timestamp = format is null ? "TIMESTAMPTZ" : "TIMESTAMP";
        var types = $"{{'order_id': 'BIGINT', 'user_id': 'BIGINT', 'status': 'VARCHAR', 'created_at': '{timestamp}', 'sale_price': 'DOUBLE'}}";
        var typed = $"read_csv({DuckDb.Literal(path)}, header = true, types = {types}" +
                    (format is null ? ")" : $", timestampformat = {DuckDb.Literal(format)})");
        CreateViews(connection, path, typed);
        return true;
    }

    /// <summary>
    /// Creates the view <c>order_items</c> reading every CSV value as text and parsing it with every format the
    /// contract accepts, then checks every value; returns the number of rows.
    /// </summary>
    public static long AttachChecked(DuckDBConnection connection, string? inputPath)
    {
        var path = Existing(inputPath);
        var source = Kind(path) switch
        {
            InputKind.Csv => $"read_csv({DuckDb.Literal(path)}, header = true, all_varchar = true)",
            InputKind.Parquet => $"read_parquet({DuckDb.Literal(path)})",
            _ => AttachDatabase(connection, path),
        };
        CreateViews(connection, path, source);
        return Validate(connection, path);
    }

    /// <summary>Fails with the first bad value of <c>order_items</c>, naming its column and the value; returns the number of rows.</summary>
    public static long Validate(DuckDBConnection connection, string path)
    {
        var selects = string.Join(",\n", Checks.Select(c =>
            $"count(*) FILTER (WHERE {c.Column} IS NULL), first({c.Column}_raw) FILTER (WHERE {c.Column} IS NULL)"));
        try
        {
            using var command = DuckDb.Command(connection, $"SELECT count(*),\n{selects},\ncount(*) FILTER (WHERE status IS NULL) FROM order_items");
            using var reader = command.ExecuteReader();
            reader.Read();
            var rows = reader.GetInt64(0);
            for (var i = 0; i < Checks.Length; i++)
            {
                var bad = reader.GetInt64(1 + 2 * i);
                if (bad == 0) continue;
                var example = reader.IsDBNull(2 + 2 * i) ? null : reader.GetString(2 + 2 * i);
                throw new PermanentPipelineException(example is null || example.Trim().Length == 0
                    ? $"the input {path} has {bad:N0} row(s) with an empty {Checks[i].Column}"
                    : $"the input {path} has {bad:N0} row(s) whose {Checks[i].Column} is not {Checks[i].Expected}, e.g. '{Shorten(example)}'");
            }
            var noStatus = reader.GetInt64(1 + 2 * Checks.Length);
            if (noStatus > 0)
                throw new PermanentPipelineException($"the input {path} has {noStatus:N0} row(s) with an empty status");
            return rows;
        }
        catch (DuckDBException e)
        {
            throw Unreadable(path, e);
        }
    }

    /// <summary>The error for an input DuckDB cannot read at all.</summary>
    public static PermanentPipelineException Unreadable(string path, DuckDBException e) =>
        new($"the input {path} cannot be read: {FirstLine(e.Message)}", e);

    private enum InputKind { Csv, Parquet, Database }

    private static string Existing(string? inputPath)
    {
        if (string.IsNullOrWhiteSpace(inputPath))
            throw new PermanentPipelineException("no input is configured: set Embedded:Input (--input) to a CSV, Parquet or DuckDB file");
        var path = Path.GetFullPath(inputPath);
        if (!File.Exists(path))
            throw new PermanentPipelineException($"the input file {path} does not exist");
        return path;
    }

    private static InputKind Kind(string path) => Path.GetExtension(path).ToLowerInvariant() switch
    {
        ".csv" or ".gz" => InputKind.Csv,
        ".parquet" => InputKind.Parquet,
        ".duckdb" or ".db" => InputKind.Database,
        var other => throw new PermanentPipelineException(
            $"the input {path} has an unknown type '{other}': use .csv, .parquet or .duckdb"),
    };

    /// <summary>The CSV's columns and its first row's created_at, as text.</summary>
    private static (Dictionary<string, string> Columns, string? FirstCreatedAt) PeekCsv(DuckDBConnection connection, string path)
    {
        try
        {
            using var command = DuckDb.Command(connection, $"SELECT * FROM read_csv({DuckDb.Literal(path)}, header = true, all_varchar = true) LIMIT 1");
            using var reader = command.ExecuteReader();
            var columns = Enumerable.Range(0, reader.FieldCount).ToDictionary(reader.GetName, _ => "VARCHAR", StringComparer.Ordinal);
            var ordinal = columns.Keys.ToList().IndexOf("created_at");
            var first = ordinal >= 0 && reader.Read() && !reader.IsDBNull(ordinal) ? reader.GetString(ordinal) : null;
            return (columns, first);
        }
        catch (DuckDBException e)
        {
            throw Unreadable(path, e);
        }
    }

    private static void CreateViews(DuckDBConnection connection, string path, string source)
    {
        Dictionary<string, string> columns;
        try
        {
            DuckDb.Execute(connection, $"CREATE OR REPLACE TEMP VIEW order_items_raw AS SELECT * FROM {source}");
            columns = Describe(connection);
        }
        catch (DuckDBException e)
        {
            throw Unreadable(path, e);
        }
        RequireColumns(path, columns);

        // The *_raw columns are read only when Validate names a bad value; DuckDB prunes them otherwise.
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
    }

    private static void RequireColumns(string path, Dictionary<string, string> columns)
    {
        var missing = RequiredColumns.Where(c => !columns.ContainsKey(c)).ToList();
        if (missing.Count > 0)
            throw new PermanentPipelineException(
                $"the input {path} lacks the required column{(missing.Count > 1 ? "s" : "")} {string.Join(", ", missing)} " +
                $"(it has: {string.Join(", ", columns.Keys)})");
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

    private static string Integer(string column, Dictionary<string, string> columns) => columns[column] switch
    {
        "BIGINT" => column,
        "VARCHAR" => $"TRY_CAST(trim({column}) AS BIGINT)",
        _ => $"TRY_CAST({column} AS BIGINT)",
    };

    private static string Decimal(string column, Dictionary<string, string> columns) => columns[column] switch
    {
        "DOUBLE" => column,
        "VARCHAR" => $"TRY_CAST(trim({column}) AS DOUBLE)",
        _ => $"TRY_CAST({column} AS DOUBLE)",
    };

    /// <summary>
    /// All timestamps end as UTC wall-clock TIMESTAMPs (the connection's time zone is UTC). Text: BigQuery's export
    /// format first, then ISO 8601 with or without an offset. A timestamp column goes through its microseconds
    /// since the epoch, which costs nothing per row (a cast from TIMESTAMPTZ would cost as much again as the
    /// statistics) and keeps the window filter above the scan: DuckDB would otherwise skip Parquet row groups by
    /// their statistics, and some writers' statistics for TIMESTAMPTZ (Parquet.Net's) make it skip every row.
    /// </summary>
    private static string Timestamp(string column, Dictionary<string, string> columns) => columns[column] switch
    {
        "VARCHAR" => $"""
            COALESCE(
                try_strptime(trim({column}), ['%Y-%m-%d %H:%M:%S.%f UTC', '%Y-%m-%d %H:%M:%S UTC', '%Y-%m-%d %H:%M UTC']),
                TRY_CAST(TRY_CAST(trim({column}) AS TIMESTAMPTZ) AS TIMESTAMP))
            """,
        "TIMESTAMP" or "TIMESTAMP WITH TIME ZONE" => $"make_timestamp(epoch_us({column}))",
        "DATE" => $"CAST({column} AS TIMESTAMP)",
        _ => $"TRY_CAST({column} AS TIMESTAMP)",
    };

    private static string Shorten(string value) => value.Length <= 60 ? value : value[..60] + "…";

    private static string FirstLine(string message) => message.Split('\n')[0].Trim();
}
