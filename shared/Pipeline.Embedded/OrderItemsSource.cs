using System.IO.Compression;
using System.Text.RegularExpressions;
using DuckDB.NET.Data;
using Pipeline.Core;

namespace Pipeline.Embedded;

/// <summary>
/// Puts the input order items in front of DuckDB as a view <c>order_items(order_id, user_id, status, created_at,
/// sale_price, product_id)</c> with normalized types (product_id is optional: NULL when absent or not a whole number), whatever the file: a CSV as BigQuery exports it (timestamps like
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
        ("sale_price", "a finite number"),
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
        if (!RequiredColumns.All(columns.ContainsKey))
        {
            // The text read's checks say what is wrong with the header.
            CreateViews(connection, path, TextCsv(path));
            return false;
        }
        // The contract's timestamps parse with a fixed format an order of magnitude faster than the general cast
        // with time zones, which remains for ISO 8601 with offsets.
        var format = CsvTimestampFormats.FirstOrDefault(f => f.Shape.IsMatch(firstCreatedAt?.Trim() ?? "")).Format;
        var timestamp = format is null ? "TIMESTAMPTZ" : "TIMESTAMP";
        // Ids stay text: DuckDB's CSV reader would round 1.5 to 2, and an id with a fraction must be refused.
        var types = $"{{'order_id': 'VARCHAR', 'user_id': 'VARCHAR', 'status': 'VARCHAR', 'created_at': '{timestamp}', 'sale_price': 'DOUBLE'}}";
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
            InputKind.Csv => TextCsv(path),
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
            if (rows == 0)
                throw new PermanentPipelineException($"the input {path} has no order items: a header and no rows");
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

    /// <summary>Whether <c>count(*)</c> of the input costs no read of its values (Parquet and DuckDB know it; a CSV must be read).</summary>
    public static bool CountsRowsCheaply(string? inputPath) => Kind(Existing(inputPath)) is not InputKind.Csv;

    private static string Existing(string? inputPath)
    {
        if (string.IsNullOrWhiteSpace(inputPath))
            throw new PermanentPipelineException("no input is configured: set Embedded:Input (--input) to a CSV, Parquet or DuckDB file");
        var path = Path.GetFullPath(inputPath);
        if (!File.Exists(path))
            throw new PermanentPipelineException($"the input file {path} does not exist");
        if (new FileInfo(path).Length == 0)
            throw new PermanentPipelineException($"the input file {path} is empty: it needs a header ({string.Join(",", RequiredColumns)}) and rows");
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

    private static string TextCsv(string path) => $"read_csv({DuckDb.Literal(path)}, header = true, all_varchar = true)";

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
            columns = DuckDb.ColumnTypes(connection, "order_items_raw");
        }
        catch (DuckDBException e)
        {
            throw Unreadable(path, e);
        }
        RequireWellFormedCsv(path, columns);
        RequireColumns(path, columns);
        RequireTypes(path, columns);

        // The *_raw columns are read only when Validate names a bad value; DuckDB prunes them otherwise.
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

    private static bool IsFractional(string type) => type is "FLOAT" or "DOUBLE" || type.StartsWith("DECIMAL", StringComparison.Ordinal);

    /// <summary>
    /// A typed column (Parquet, DuckDB) of a type that cannot hold the value: a boolean price or a numeric
    /// timestamp would otherwise be converted into something plausible and wrong.
    /// </summary>
    private static void RequireTypes(string path, Dictionary<string, string> columns)
    {
        foreach (var (column, expected, fits) in new (string, string, Func<string, bool>)[]
                 {
                     ("order_id", "a whole number such as 12345", t => DuckDb.IsWholeNumberType(t) || IsFractional(t)),
                     ("user_id", "a whole number such as 12345", t => DuckDb.IsWholeNumberType(t) || IsFractional(t)),
                     ("status", "text such as Complete", _ => false),
                     ("created_at", "a timestamp such as 2022-03-04 05:06:07 UTC", t => t.StartsWith("TIMESTAMP", StringComparison.Ordinal) || t == "DATE"),
                     ("sale_price", "a number such as 19.99", t => DuckDb.IsWholeNumberType(t) || IsFractional(t)),
                 })
        {
            var type = columns[column];
            if (type != "VARCHAR" && !fits(type))
                throw new PermanentPipelineException($"the input {path}'s column {column} is {type}: it must be {expected}, or text");
        }
    }

    internal static bool IsText(string column, Dictionary<string, string> columns) => columns[column] == "VARCHAR";

    /// <summary>A whole number, or NULL: text with a fraction or an exponent, or a typed value with a fraction, is refused, not rounded.</summary>
    /// <remarks>
    /// Text is first taken as it is when it reads back unchanged from the BIGINT it casts to (<c>123</c>,
    /// <c>-5</c>): that costs a fraction of the regular expression, which was most of a CSV read's time, and is
    /// left for the rest (<c>+5</c>, <c>007</c>, spaces). Both refuse what DuckDB's cast would round or reinterpret
    /// (<c>1.5</c>, <c>2.0</c>, <c>1e3</c>, <c>0x10</c>, <c>1_000</c>).
    /// </remarks>
    internal static string Integer(string column, Dictionary<string, string> columns) => columns[column] switch
    {
        "BIGINT" => column,
        "VARCHAR" => $"""
            CASE WHEN CAST(TRY_CAST({column} AS BIGINT) AS VARCHAR) = {column} THEN TRY_CAST({column} AS BIGINT)
                 WHEN regexp_full_match(trim({column}), '[+-]?[0-9]+') THEN TRY_CAST(trim({column}) AS BIGINT) END
            """,
        var type when IsFractional(type) => $"CASE WHEN {column} = trunc({column}) THEN TRY_CAST({column} AS BIGINT) END",
        _ => $"TRY_CAST({column} AS BIGINT)",
    };

    /// <summary>
    /// A finite double, or NULL (refused with the row count and an example): DuckDB reads <c>NaN</c>, <c>inf</c> and
    /// <c>-Infinity</c> as valid doubles, and one of them would make every centroid NaN.
    /// </summary>
    internal static string Decimal(string column, Dictionary<string, string> columns)
    {
        var value = columns[column] switch
        {
            "DOUBLE" => column,
            "VARCHAR" => $"TRY_CAST(trim({column}) AS DOUBLE)",
            _ => $"TRY_CAST({column} AS DOUBLE)",
        };
        return $"CASE WHEN isfinite({value}) THEN {value} END";
    }

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

    internal static string Shorten(string value) => value.Length <= 60 ? value : value[..60] + "…";

    internal static string FirstLine(string message) => message.Split('\n')[0].Trim();
}
