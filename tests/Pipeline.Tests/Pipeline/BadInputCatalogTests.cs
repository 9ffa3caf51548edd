using System.IO.Compression;
using System.Text;
using System.Text.Json.Nodes;
using Pipeline.Campaigns;
using Pipeline.Core;
using Pipeline.Embedded;
using Pipeline.Runner;

namespace Pipeline.Tests.Pipeline;

/// <summary>
/// The bad-input catalogue: files and triggers a real user could produce, each run through the whole chain in
/// process. A bad one ends the run with one clear reason naming the column or field and an example, <c>failed</c>
/// in the manifest, <c>run-failed</c> published once, no retry, no latest.json and no stack trace; an acceptable
/// one (BOM, CRLF, quoting, gzip, offsets…) completes with exactly the statistics computed by hand.
/// RELIABILITY.md, "Bad input", counts these cases by category.
/// </summary>
public sealed class BadInputCatalogTests
{
    private static readonly DateOnly Start = new(2025, 1, 1);
    private static readonly DateOnly End = new(2026, 1, 1);

    /// <summary>12 customers in the window (user 9's only item is at window_end), edge times, two-item orders.</summary>
    private static readonly TestItem[] Items =
    [
        new(1, 1, "Complete", new(2025, 3, 1, 10, 0, 0), 20.00),
        new(1, 1, "Complete", new(2025, 3, 1, 10, 0, 0), 30.50),
        new(2, 1, "Shipped", new(2025, 6, 15, 8, 30, 0), 15.25),
        new(3, 2, "Complete", new(2025, 11, 30, 23, 59, 59), 99.99),
        new(4, 3, "Cancelled", new(2025, 12, 1, 12, 0, 0), 40.00),
        new(5, 3, "Complete", new(2025, 2, 2, 2, 2, 2), 12.00),
        new(6, 4, "Returned", new(2025, 7, 7, 7, 7, 7), 5.00),
        new(7, 4, "Complete", new(2025, 8, 8, 8, 8, 8), 55.55),
        new(8, 5, "Complete", new(2025, 9, 9, 9, 9, 9), 8.75),
        new(9, 5, "Processing", new(2025, 10, 10, 10, 10, 10), 18.25),
        new(10, 6, "Complete", new(2024, 12, 31, 23, 59, 59), 70.00),
        new(11, 6, "Complete", new(2025, 1, 1, 0, 0, 0), 33.00),
        new(12, 7, "Complete", new(2025, 12, 31, 23, 59, 59), 1.99),
        new(13, 8, "Complete", new(2025, 4, 4, 4, 4, 4), 250.00),
        new(14, 9, "Complete", new(2026, 1, 1, 0, 0, 0), 60.00),
        new(15, 10, "Complete", new(2025, 5, 20, 13, 45, 0), 42.00),
        new(16, 11, "Shipped", new(2025, 9, 30, 18, 0, 0), 64.10),
        new(17, 12, "Complete", new(2025, 10, 31, 6, 0, 0), 19.99),
    ];

    private static string Good => OrderItemsByHand.Csv(Items);
    private const string Row = "1,1,Complete,2025-05-05 10:00:00 UTC,10.5";
    private static string WithRow(string row) => Good + row + "\n";

    /// <summary>A file the run is given: its name and how to write it into a directory.</summary>
    public sealed record InputFile(string Name, Action<string> Write)
    {
        /// <summary>Writes the file into the directory and returns its path.</summary>
        public string WriteInto(TempDirectory directory)
        {
            var path = directory.File(Name);
            Write(path);
            return path;
        }

        public static InputFile Text(string name, string content) => new(name, path => File.WriteAllText(path, content));
        public static InputFile Bytes(string name, byte[] content) => new(name, path => File.WriteAllBytes(path, content));

        /// <summary>The canonical CSV turned into another format by a DuckDB statement (<c>{csv}</c>, <c>{out}</c>).</summary>
        public static InputFile Converted(string name, string sql) => new(name, path =>
        {
            var csv = path + ".source.csv";
            File.WriteAllText(csv, Good);
            using var connection = DuckDb.Open(new EmbeddedOptions());
            DuckDb.Execute(connection, sql.Replace("{csv}", DuckDb.Literal(csv), StringComparison.Ordinal)
                .Replace("{out}", DuckDb.Literal(path), StringComparison.Ordinal));
        });
    }

    /// <summary>The canonical items typed as BigQuery's Parquet export types them.</summary>
    private const string Typed = """
        SELECT CAST(order_id AS BIGINT) AS order_id, CAST(user_id AS BIGINT) AS user_id, status,
               CAST(replace(created_at, ' UTC', '') AS TIMESTAMP) AS created_at, CAST(sale_price AS DOUBLE) AS sale_price
        FROM read_csv({csv}, header = true, all_varchar = true)
        """;

    /// <summary>A bad input: the stage that must refuse it and the words the reason must contain.</summary>
    public sealed record Refused(string Category, InputFile Input, string Stage, string Reason);

    /// <summary>An acceptable input and the items it stands for (its statistics are computed from them).</summary>
    public sealed record Accepted(string Category, InputFile Input, IReadOnlyList<TestItem> Means);

    private static Refused Value(string column, string row, string reason) =>
        new($"file: bad {column} values", InputFile.Text("items.csv", WithRow(row)), Stages.BuildStats, reason);

    public static IReadOnlyDictionary<string, Refused> RefusedFiles { get; } = new Dictionary<string, Refused>
    {
        // Files that are not order items at all.
        ["empty file"] = new("file: structure", InputFile.Text("items.csv", ""), Stages.BuildStats, "is empty"),
        ["header only"] = new("file: structure", InputFile.Text("items.csv", OrderItemsByHand.Header + "\n"), Stages.BuildStats, "has no order items"),
        ["binary noise named .csv"] = new("file: structure", InputFile.Bytes("items.csv", [.. Enumerable.Range(0, 4096).Select(i => (byte)(i * 7919 % 251))]), Stages.BuildStats, "items.csv"),
        ["unknown extension"] = new("file: structure", InputFile.Text("items.xlsx", Good), Stages.BuildStats, "has an unknown type '.xlsx': use .csv, .parquet or .duckdb"),
        ["no such file"] = new("file: structure", new InputFile("nowhere.csv", _ => { }), Stages.BuildStats, "nowhere.csv does not exist"),
        ["a row with an extra field"] = new("file: structure", InputFile.Text("items.csv", WithRow(Row + ",7")), Stages.BuildStats, "has rows that do not match its header of 5 columns"),
        ["not UTF-8 (Latin-1 status)"] = new("file: structure", InputFile.Bytes("items.csv", [.. Encoding.UTF8.GetBytes(Good), .. Encoding.Latin1.GetBytes("18,13,Complété,2025-05-05 10:00:00 UTC,3\n")]), Stages.BuildStats, "cannot be read"),
        ["gzip cut short"] = new("file: structure", new InputFile("items.csv.gz", path => File.WriteAllBytes(path, Gzip(Good)[..40])), Stages.BuildStats, "is a truncated or damaged gzip file"),
        ["truncated Parquet"] = new("file: structure", new InputFile("items.parquet", path =>
        {
            InputFile.Converted("full.parquet", $"COPY ({Typed}) TO {{out}} (FORMAT parquet)").Write(path);
            var bytes = File.ReadAllBytes(path);
            File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);
        }), Stages.BuildStats, "cannot be read"),
        ["DuckDB file without the table"] = new("file: structure", InputFile.Converted("items.duckdb",
            "ATTACH {out} AS target; CREATE TABLE target.orders AS SELECT 1 AS x; DETACH target"), Stages.BuildStats, "has no order_items table"),
        ["not a DuckDB file"] = new("file: structure", InputFile.Text("items.duckdb", Good), Stages.BuildStats, "cannot be opened"),

        // Columns.
        ["missing sale_price"] = new("file: columns", InputFile.Text("items.csv", "order_id,user_id,status,created_at\n1,1,Complete,2025-05-05 10:00:00 UTC\n"), Stages.BuildStats, "lacks the required column sale_price (it has: order_id, user_id, status, created_at)"),
        ["missing three columns"] = new("file: columns", InputFile.Text("items.csv", "order_id,user_id\n1,1\n"), Stages.BuildStats, "lacks the required columns status, created_at, sale_price"),
        ["misspelt column"] = new("file: columns", InputFile.Text("items.csv", Good.Replace("user_id", "userid", StringComparison.Ordinal)), Stages.BuildStats, "lacks the required column user_id"),
        ["upper-case header"] = new("file: columns", InputFile.Text("items.csv", Good.Replace(OrderItemsByHand.Header, OrderItemsByHand.Header.ToUpperInvariant(), StringComparison.Ordinal)), Stages.BuildStats, "lacks the required columns order_id, user_id, status, created_at, sale_price (it has: ORDER_ID"),
        ["duplicate sale_price column"] = new("file: columns", InputFile.Text("items.csv", OrderItemsByHand.Header + ",sale_price\n" + Row + ",99\n"), Stages.BuildStats, "has the column sale_price more than once"),
        ["no header row"] = new("file: columns", InputFile.Text("items.csv", string.Join("\n", Good.Split('\n').Skip(1))), Stages.BuildStats, "lacks the required columns"),
        ["Parquet sale_price as text"] = new("file: columns", InputFile.Converted("items.parquet",
            $"COPY (SELECT * REPLACE ('about ' || sale_price AS sale_price) FROM ({Typed})) TO {{out}} (FORMAT parquet)"), Stages.BuildStats, "sale_price is not a finite number, e.g. 'about 20.0'"),
        ["Parquet sale_price as boolean"] = new("file: columns", InputFile.Converted("items.parquet",
            $"COPY (SELECT * REPLACE (sale_price > 20 AS sale_price) FROM ({Typed})) TO {{out}} (FORMAT parquet)"), Stages.BuildStats, "column sale_price is BOOLEAN"),
        ["Parquet created_at as a number"] = new("file: columns", InputFile.Converted("items.parquet",
            $"COPY (SELECT * REPLACE (epoch(created_at) AS created_at) FROM ({Typed})) TO {{out}} (FORMAT parquet)"), Stages.BuildStats, "column created_at is DOUBLE"),
        ["Parquet user_id with fractions"] = new("file: columns", InputFile.Converted("items.parquet",
            $"COPY (SELECT * REPLACE (user_id + 0.5 AS user_id) FROM ({Typed})) TO {{out}} (FORMAT parquet)"), Stages.BuildStats, "user_id is not a whole number, e.g. '1.5'"),

        // Every kind of bad value in every required column.
        ["order_id: text"] = Value("order_id", "A-17,1,Complete,2025-05-05 10:00:00 UTC,10.5", "order_id is not a whole number, e.g. 'A-17'"),
        ["order_id: empty"] = Value("order_id", ",1,Complete,2025-05-05 10:00:00 UTC,10.5", "1 row(s) with an empty order_id"),
        ["order_id: fraction"] = Value("order_id", "1.5,1,Complete,2025-05-05 10:00:00 UTC,10.5", "order_id is not a whole number, e.g. '1.5'"),
        ["order_id: beyond 64 bits"] = Value("order_id", "99999999999999999999,1,Complete,2025-05-05 10:00:00 UTC,10.5", "order_id is not a whole number, e.g. '99999999999999999999'"),
        // DuckDB's own cast takes these as 2 and 1000; the id check must not.
        ["order_id: a fraction of zero"] = Value("order_id", "2.0,1,Complete,2025-05-05 10:00:00 UTC,10.5", "order_id is not a whole number, e.g. '2.0'"),
        ["order_id: digit separators"] = Value("order_id", "1_000,1,Complete,2025-05-05 10:00:00 UTC,10.5", "order_id is not a whole number, e.g. '1_000'"),
        ["user_id: text"] = Value("user_id", "1,abc,Complete,2025-05-05 10:00:00 UTC,10.5", "user_id is not a whole number, e.g. 'abc'"),
        ["user_id: empty"] = Value("user_id", "1,,Complete,2025-05-05 10:00:00 UTC,10.5", "1 row(s) with an empty user_id"),
        ["user_id: exponent"] = Value("user_id", "1,1e3,Complete,2025-05-05 10:00:00 UTC,10.5", "user_id is not a whole number, e.g. '1e3'"),
        ["user_id: beyond 64 bits"] = Value("user_id", "1,18446744073709551616,Complete,2025-05-05 10:00:00 UTC,10.5", "user_id is not a whole number, e.g. '18446744073709551616'"),
        ["user_id: hexadecimal"] = Value("user_id", "1,0x10,Complete,2025-05-05 10:00:00 UTC,10.5", "user_id is not a whole number, e.g. '0x10'"),
        ["status: empty"] = Value("status", "1,1,,2025-05-05 10:00:00 UTC,10.5", "1 row(s) with an empty status"),
        ["created_at: empty"] = Value("created_at", "1,1,Complete,,10.5", "1 row(s) with an empty created_at"),
        ["created_at: words"] = Value("created_at", "1,1,Complete,yesterday,10.5", "created_at is not a timestamp such as 2022-03-04 05:06:07 UTC or 2022-03-04T05:06:07Z, e.g. 'yesterday'"),
        ["created_at: US format"] = Value("created_at", "1,1,Complete,05/05/2025 10:00,10.5", "created_at is not a timestamp such as 2022-03-04 05:06:07 UTC or 2022-03-04T05:06:07Z, e.g. '05/05/2025 10:00'"),
        ["created_at: 30 February"] = Value("created_at", "1,1,Complete,2025-02-30 10:00:00 UTC,10.5", "e.g. '2025-02-30 10:00:00 UTC'"),
        ["created_at: hour 25"] = Value("created_at", "1,1,Complete,2025-05-05 25:00:00 UTC,10.5", "e.g. '2025-05-05 25:00:00 UTC'"),
        ["created_at: Unix seconds"] = Value("created_at", "1,1,Complete,1746439200,10.5", "e.g. '1746439200'"),
        ["sale_price: currency sign"] = Value("sale_price", "1,1,Complete,2025-05-05 10:00:00 UTC,$3.50", "sale_price is not a finite number, e.g. '$3.50'"),
        ["sale_price: decimal comma"] = Value("sale_price", "1,1,Complete,2025-05-05 10:00:00 UTC,\"3,50\"", "sale_price is not a finite number, e.g. '3,50'"),
        ["sale_price: words"] = Value("sale_price", "1,1,Complete,2025-05-05 10:00:00 UTC,ten", "sale_price is not a finite number, e.g. 'ten'"),
        ["sale_price: empty"] = Value("sale_price", "1,1,Complete,2025-05-05 10:00:00 UTC,", "1 row(s) with an empty sale_price"),
        ["sale_price: NaN"] = Value("sale_price", "1,1,Complete,2025-05-05 10:00:00 UTC,NaN", "1 row(s) whose sale_price is not a finite number, e.g. 'NaN'"),
        ["sale_price: inf"] = Value("sale_price", "1,1,Complete,2025-05-05 10:00:00 UTC,inf", "1 row(s) whose sale_price is not a finite number, e.g. 'inf'"),
        ["sale_price: -Infinity"] = Value("sale_price", "1,1,Complete,2025-05-05 10:00:00 UTC,-Infinity", "1 row(s) whose sale_price is not a finite number, e.g. '-Infinity'"),
        ["sale_price: beyond a double"] = Value("sale_price", "1,1,Complete,2025-05-05 10:00:00 UTC,1e400", "sale_price is not a finite number, e.g. '1e400'"),
        ["sale_price: NaN in two rows"] = new("file: bad sale_price values", InputFile.Text("items.csv", WithRow(Row.Replace("10.5", "nan", StringComparison.Ordinal)) + Row.Replace("10.5", "NAN", StringComparison.Ordinal) + "\n"), Stages.BuildStats, "2 row(s) whose sale_price is not a finite number, e.g. 'nan'"),
        ["sale_price: sums past a double"] = new("file: absurd numbers", InputFile.Text("items.csv", WithRow("90,1,Complete,2025-05-05 10:00:00 UTC,1e308") + "91,1,Complete,2025-05-06 10:00:00 UTC,1e308\n"), Stages.BuildStats, "BuildStats refused to write runs/catalog/customer_stats/: average_spend is not a finite number in 1 place(s), e.g. user_id 1"),
        ["NaN in the Parquet sale_price"] = new("file: bad sale_price values", InputFile.Converted("items.parquet",
            $"COPY (SELECT * REPLACE (CASE WHEN user_id = 4 THEN 'NaN'::DOUBLE ELSE sale_price END AS sale_price) FROM ({Typed})) TO {{out}} (FORMAT parquet)"), Stages.BuildStats, "2 row(s) whose sale_price is not a finite number, e.g. 'nan'"),

        // Data that is well formed but cannot make a model.
        ["every item outside the window"] = new("file: nothing to segment", InputFile.Text("items.csv", OrderItemsByHand.Csv(Items.Select(i => i with { CreatedAtUtc = i.CreatedAtUtc.AddYears(-3) }))), Stages.BuildStats, "no customer has a counted order item from 2025-01-01 to 2026-01-01"),
        ["every item cancelled or returned"] = new("file: nothing to segment", InputFile.Text("items.csv", OrderItemsByHand.Csv(Items.Select((i, n) => i with { Status = n % 2 == 0 ? "Cancelled" : "Returned" }))), Stages.BuildStats, "no customer has a counted order item from 2025-01-01 to 2026-01-01"),
        ["fewer customers than k"] = new("file: nothing to segment", InputFile.Text("items.csv", OrderItemsByHand.Csv(Items.Take(3))), Stages.TrainModel, "too few customers for k = 2"),
        ["every customer the same"] = new("file: nothing to segment", InputFile.Text("items.csv", OrderItemsByHand.Csv(Enumerable.Range(1, 12).Select(u => new TestItem(u, u, "Complete", new(2025, 6, 1, 12, 0, 0), 10)))), Stages.TrainModel, "have only 1 different combination(s) of days_since_last_order, count_orders and average_spend, e.g. (214, 1, 10)"),
    };

    public static IReadOnlyDictionary<string, Accepted> AcceptedFiles { get; } = new Dictionary<string, Accepted>
    {
        ["BigQuery CSV export"] = new("file: acceptable", InputFile.Text("items.csv", Good), Items),
        ["UTF-8 byte order mark"] = new("file: acceptable", InputFile.Bytes("items.csv", [0xEF, 0xBB, 0xBF, .. Encoding.UTF8.GetBytes(Good)]), Items),
        ["CRLF line ends"] = new("file: acceptable", InputFile.Text("items.csv", OrderItemsByHand.Csv(Items, "\r\n")), Items),
        ["every field quoted"] = new("file: acceptable", InputFile.Text("items.csv", string.Join("\n", Good.TrimEnd('\n').Split('\n').Select(line => string.Join(",", line.Split(',').Select(f => $"\"{f}\"")))) + "\n"), Items),
        ["gzip"] = new("file: acceptable", InputFile.Bytes("items.csv.gz", Gzip(Good)), Items),
        ["Parquet"] = new("file: acceptable", InputFile.Converted("items.parquet", $"COPY ({Typed}) TO {{out}} (FORMAT parquet)"), Items),
        ["Parquet with TIMESTAMPTZ and DOUBLE ids"] = new("file: acceptable", InputFile.Converted("items.parquet",
            $"COPY (SELECT * REPLACE (CAST(order_id AS DOUBLE) AS order_id, CAST(user_id AS DOUBLE) AS user_id, created_at AT TIME ZONE 'UTC' AS created_at) FROM ({Typed})) TO {{out}} (FORMAT parquet)"), Items),
        ["DuckDB database"] = new("file: acceptable", InputFile.Converted("items.duckdb", $"ATTACH {{out}} AS target; CREATE TABLE target.order_items AS {Typed}; DETACH target"), Items),
        ["ISO 8601 with Z"] = new("file: acceptable", InputFile.Text("items.csv", Good.Replace(" UTC", "Z", StringComparison.Ordinal).Replace(' ', 'T')), Items),
        ["ISO 8601 with offsets"] = new("file: acceptable", InputFile.Text("items.csv", Rewrite(Items, (i, n) =>
            new DateTimeOffset(i.CreatedAtUtc, TimeSpan.Zero).ToOffset(TimeSpan.FromMinutes(n % 2 == 0 ? 330 : -480)).ToString("yyyy-MM-ddTHH:mm:sszzz", System.Globalization.CultureInfo.InvariantCulture))), Items),
        ["mixed timestamp formats"] = new("file: acceptable", InputFile.Text("items.csv", Rewrite(Items, (i, n) => (n % 3) switch
        {
            0 => i.CreatedAtUtc.ToString("yyyy-MM-dd HH:mm:ss 'UTC'", System.Globalization.CultureInfo.InvariantCulture),
            1 => i.CreatedAtUtc.ToString("yyyy-MM-ddTHH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture),
            _ => i.CreatedAtUtc.ToString("yyyy-MM-dd HH:mm:ss.ffffff 'UTC'", System.Globalization.CultureInfo.InvariantCulture),
        })), Items),
        ["thelook's extra columns, reordered"] = new("file: acceptable", InputFile.Text("items.csv",
            "id,sale_price,created_at,status,user_id,product_id,order_id,shipped_at\n" + string.Concat(Items.Select((i, n) =>
                $"{n + 100},{i.SalePrice.ToString(System.Globalization.CultureInfo.InvariantCulture)},{i.CreatedAtUtc:yyyy-MM-dd HH:mm:ss} UTC,{i.Status},{i.UserId},{n * 3},{i.OrderId},\n"))), Items),
        ["spaces around values"] = new("file: acceptable", InputFile.Text("items.csv", string.Join("\n", Good.TrimEnd('\n').Split('\n').Select((line, n) => n == 0 ? line : string.Join(",", line.Split(',').Select((f, c) => c == 2 ? f : $" {f} ")))) + "\n"), Items),
        ["ids near the 64-bit limit"] = Renumbered(i => i with { UserId = long.MaxValue - i.UserId, OrderId = long.MaxValue - 100 + i.OrderId }),
        // DuckDB's sniffer then reads no quoting at all: the stray quote stays part of the status, and the row counts.
        ["a stray quote"] = new("file: acceptable", InputFile.Text("items.csv", WithRow("1,1,\"Complete,2025-05-05 10:00:00 UTC,10.5")),
            [.. Items, new(1, 1, "\"Complete", new(2025, 5, 5, 10, 0, 0), 10.5)]),
        ["negative user ids"] = Renumbered(i => i with { UserId = i.UserId - 1_000 }),
        // Ids that do not read back unchanged from a number take the slower text read, which accepts them.
        ["ids with a plus sign and leading zeros"] = new("file: acceptable", InputFile.Text("items.csv",
            OrderItemsByHand.Header + "\n" + string.Concat(Items.Select(i => string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"{i.OrderId:D6},+{i.UserId},{i.Status},{i.CreatedAtUtc:yyyy-MM-dd HH:mm:ss} UTC,{i.SalePrice}\n")))), Items),
    };

    private static Accepted Renumbered(Func<TestItem, TestItem> renumber)
    {
        var items = Items.Select(renumber).ToArray();
        return new("file: acceptable", InputFile.Text("items.csv", OrderItemsByHand.Csv(items)), items);
    }

    private static string Rewrite(IEnumerable<TestItem> items, Func<TestItem, int, string> createdAt) =>
        OrderItemsByHand.Header + "\n" + string.Concat(items.Select((i, n) => string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"{i.OrderId},{i.UserId},{i.Status},{createdAt(i, n)},{i.SalePrice}\n")));

    private static byte[] Gzip(string text)
    {
        using var buffer = new MemoryStream();
        using (var gzip = new GZipStream(buffer, CompressionLevel.Fastest))
            gzip.Write(Encoding.UTF8.GetBytes(text));
        return buffer.ToArray();
    }

    // ---- Triggers ---------------------------------------------------------------------------------------------

    /// <summary>A trigger message body (bytes, as Pub/Sub would carry them) and the words its reason must contain.</summary>
    public sealed record BadTrigger(string Category, byte[] Body, string Reason);

    /// <summary>A trigger for the test window with one field set as <paramref name="json"/> says.</summary>
    private static BadTrigger Field(string field, string json, string reason)
    {
        var window = string.Concat(new[] { ("window_start", "2025-01-01"), ("window_end", "2026-01-01") }
            .Where(w => !json.Contains($"\"{w.Item1}\"", StringComparison.Ordinal))
            .Select(w => $"\"{w.Item1}\": \"{w.Item2}\", "));
        return new($"trigger: {field}", Encoding.UTF8.GetBytes($"{{{window}{json}}}"), reason);
    }

    private static BadTrigger Body(string category, byte[] body, string reason) => new(category, body, reason);

    public static IReadOnlyDictionary<string, BadTrigger> BadTriggers { get; } = new Dictionary<string, BadTrigger>
    {
        ["not JSON"] = Body("trigger: body", "run tonight please"u8.ToArray(), "the trigger is not valid JSON"),
        ["truncated JSON"] = Body("trigger: body", "{\"k\": 5"u8.ToArray(), "the trigger is not valid JSON"),
        ["a JSON array"] = Body("trigger: body", "[{\"k\": 5}]"u8.ToArray(), "the trigger must be a JSON object, not array"),
        ["a JSON string"] = Body("trigger: body", "\"k=5\""u8.ToArray(), "the trigger must be a JSON object, not string"),
        ["JSON null"] = Body("trigger: body", "null"u8.ToArray(), "the trigger must be a JSON object, not null"),
        ["not UTF-8 (Latin-1)"] = Body("trigger: body", Encoding.Latin1.GetBytes("{\"run_id\": \"caf\u00e9\"}"), "the trigger is not UTF-8 text: byte 0xE9 at position 15 is not valid UTF-8"),
        ["UTF-16"] = Body("trigger: body", Encoding.Unicode.GetBytes("{\"k\": 5}"), "the trigger is not valid JSON"),
        ["a NaN literal"] = Body("trigger: body", "{\"test_fraction\": NaN}"u8.ToArray(), "the trigger is not valid JSON"),
        ["oversized (2 MB unknown field)"] = Body("trigger: body", Encoding.UTF8.GetBytes($"{{\"notes\": \"{new string('x', 2_000_000)}\"}}"), "unknown field in the trigger: notes"),
        ["oversized run_id (1 MB)"] = Body("trigger: run_id", Encoding.UTF8.GetBytes($"{{\"run_id\": \"{new string('r', 1_000_000)}\"}}"), "run_id 'rrrrrrrrrr"),
        ["unknown field"] = Field("unknown fields", "\"window\": 365", "unknown field in the trigger: window (known: run_id, window_start"),
        ["two unknown fields"] = Field("unknown fields", "\"K\": 5, \"Seed\": 1", "unknown fields in the trigger: K, Seed"),
        ["a field twice"] = Body("trigger: body", "{\"k\": 5, \"k\": 8}"u8.ToArray(), "the trigger has the field k more than once"),
        ["run_id: number"] = Field("run_id", "\"run_id\": 20260101", "run_id must be a string"),
        ["run_id: path"] = Field("run_id", "\"run_id\": \"../other\"", "run_id '../other' is invalid: use 1 to 63 letters, digits, '_' or '-'"),
        ["run_id: empty"] = Field("run_id", "\"run_id\": \"\"", "run_id '' is invalid"),
        ["run_id: 64 characters"] = Field("run_id", $"\"run_id\": \"{new string('a', 64)}\"", "is invalid: use 1 to 63 letters"),
        ["run_id: spaces"] = Field("run_id", "\"run_id\": \"nightly run\"", "run_id 'nightly run' is invalid"),
        ["window_start: number"] = Field("window_start", "\"window_start\": 2025", "window_start must be a date as \"YYYY-MM-DD\", not 2025"),
        ["window_start: US date"] = Field("window_start", "\"window_start\": \"01/01/2025\"", "window_start must be a date as \"YYYY-MM-DD\", not \"01/01/2025\""),
        ["window_start: 30 February"] = Field("window_start", "\"window_start\": \"2025-02-30\"", "window_start must be a date as \"YYYY-MM-DD\", not \"2025-02-30\""),
        ["window_start: a timestamp"] = Field("window_start", "\"window_start\": \"2025-01-01T00:00:00Z\"", "window_start must be a date as \"YYYY-MM-DD\""),
        ["window_end: boolean"] = Field("window_end", "\"window_end\": true", "window_end must be a date as \"YYYY-MM-DD\", not true"),
        ["window_end: object"] = Field("window_end", "\"window_end\": {\"date\": \"2026-01-01\"}", "window_end must be a date as \"YYYY-MM-DD\", not {"),
        ["window: empty"] = Field("window_start / window_end", "\"window_start\": \"2025-06-01\", \"window_end\": \"2025-06-01\"", "window_end (2025-06-01) must be after window_start (2025-06-01)"),
        ["window: backwards"] = Field("window_start / window_end", "\"window_start\": \"2026-01-01\", \"window_end\": \"2025-01-01\"", "window_end (2025-01-01) must be after window_start (2026-01-01)"),
        ["as_of: before window_end"] = Field("as_of", "\"as_of\": \"2025-06-01\"", "as_of (2025-06-01) must not be before window_end (2026-01-01)"),
        ["as_of: array"] = Field("as_of", "\"as_of\": [\"2026-01-01\"]", "as_of must be a date as \"YYYY-MM-DD\", not [\"2026-01-01\"]"),
        ["k: words"] = Field("k", "\"k\": \"five\"", "k must be a whole number from 2 to 20 or \"auto\", not \"five\""),
        ["k: 1"] = Field("k", "\"k\": 1", "k must be from 2 to 20, not 1"),
        ["k: 21"] = Field("k", "\"k\": 21", "k must be from 2 to 20, not 21"),
        ["k: negative"] = Field("k", "\"k\": -3", "k must be from 2 to 20, not -3"),
        ["k: fraction"] = Field("k", "\"k\": 2.5", "k must be a whole number from 2 to 20 or \"auto\", not 2.5"),
        ["k: huge"] = Field("k", "\"k\": 1e20", "k must be a whole number from 2 to 20 or \"auto\", not 1e20"),
        ["k: boolean"] = Field("k", "\"k\": true", "k must be a whole number from 2 to 20 or \"auto\", not true"),
        ["k: array"] = Field("k", "\"k\": [5]", "k must be a whole number from 2 to 20 or \"auto\", not [5]"),
        ["k: AUTO"] = Field("k", "\"k\": \"AUTO\"", "not \"AUTO\""),
        ["metrics: upper case"] = Field("metrics", "\"metrics\": \"RFM\"", "metrics must be \"rfm\" or \"lab\", not \"RFM\""),
        ["metrics: number"] = Field("metrics", "\"metrics\": 1", "metrics must be \"rfm\" or \"lab\", not 1"),
        ["seed: negative"] = Field("seed", "\"seed\": -1", "seed must be a whole number from 0 to 2147483647, not -1"),
        ["seed: fraction"] = Field("seed", "\"seed\": 1.5", "seed must be a whole number from 0 to 2147483647, not 1.5"),
        ["seed: text"] = Field("seed", "\"seed\": \"42\"", "seed must be a whole number from 0 to 2147483647, not \"42\""),
        ["seed: past 32 bits"] = Field("seed", "\"seed\": 2147483648", "seed must be a whole number from 0 to 2147483647, not 2147483648"),
        ["test_fraction: 0"] = Field("test_fraction", "\"test_fraction\": 0", "test_fraction must be a number greater than 0 and at most 0.5, not 0"),
        ["test_fraction: 0.9"] = Field("test_fraction", "\"test_fraction\": 0.9", "test_fraction must be a number greater than 0 and at most 0.5, not 0.9"),
        ["test_fraction: negative"] = Field("test_fraction", "\"test_fraction\": -0.1", "not -0.1"),
        ["test_fraction: text"] = Field("test_fraction", "\"test_fraction\": \"0.2\"", "test_fraction must be a number greater than 0 and at most 0.5, not \"0.2\""),
        ["test_fraction: percent"] = Field("test_fraction", "\"test_fraction\": 20", "not 20"),
    };

    public static TheoryData<string> RefusedFileNames => [.. RefusedFiles.Keys];
    public static TheoryData<string> AcceptedFileNames => [.. AcceptedFiles.Keys];
    public static TheoryData<string> BadTriggerNames => [.. BadTriggers.Keys];

    // ---- The runs ---------------------------------------------------------------------------------------------

    private static JsonObject Trigger() => new()
    {
        ["run_id"] = "catalog", ["window_start"] = "2025-01-01", ["window_end"] = "2026-01-01", ["k"] = 2, ["seed"] = 42,
    };

    /// <summary>Publishes the body as a trigger, delivers until the chain stops, and returns the one end message's run.</summary>
    private static async Task<(RunManifest Manifest, LocalPipeline Pipeline, string Bucket)> RunAsync(TempDirectory directory, string input, byte[] trigger)
    {
        var bucket = directory.File("bucket");
        var pipeline = LocalPipeline.Create(bucket, input);
        await pipeline.Bus.PublishAsync(Topics.Trigger, trigger, new Dictionary<string, string>(), CancellationToken.None);
        var undelivered = await pipeline.Bus.DrainAsync(pipeline.Functions, CancellationToken.None);
        Assert.True(undelivered.Count == 0, $"a bad input must be a permanent failure, not a retry: {(undelivered.Count > 0 ? undelivered[0].LastError.Message : "")}");

        var end = Assert.Single(pipeline.Bus.Published, p => p.Topic is Topics.RunFailed or Topics.RunCompleted);
        var runId = end.Message.Attributes["run_id"];
        var manifest = await pipeline.Ledger.GetAsync(runId, CancellationToken.None);
        Assert.NotNull(manifest);
        return (manifest, pipeline, bucket);
    }

    private static async Task FailsAsync(TempDirectory directory, string input, byte[] trigger, string stage, string reason)
    {
        var (manifest, pipeline, bucket) = await RunAsync(directory, input, trigger);
        await using var _ = pipeline;

        Assert.True(manifest.Status == RunStatus.Failed, $"the run {manifest.Status.ToString().ToLowerInvariant()}; it should have failed");
        Assert.NotNull(manifest.Error);
        Assert.True(stage == manifest.Error.Stage && manifest.Error.Reason.Contains(reason, StringComparison.Ordinal),
            $"expected {stage}: …{reason}…, got {manifest.Error.Stage}: {manifest.Error.Reason}");
        Assert.True(manifest.Error.Announced);
        Assert.Equal(StageStatus.Failed, manifest.Stages.GetValueOrDefault(stage)?.Status ?? StageStatus.Failed);
        var failed = Assert.Single(pipeline.Bus.Published, p => p.Topic == Topics.RunFailed);
        Assert.Equal(manifest.Error.Reason, PipelineJson.Deserialize<RunFailed>(failed.Message.Data.Span).Reason);
        // One clear line: no stack trace, no exception type names, nothing a user cannot act on.
        Assert.DoesNotContain('\n', manifest.Error.Reason);
        Assert.DoesNotContain(" at Pipeline.", manifest.Error.Reason, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", manifest.Error.Reason, StringComparison.Ordinal);
        Assert.InRange(manifest.Error.Reason.Length, 20, 600);
        Assert.False(File.Exists(Path.Combine(bucket, BucketLayout.Latest)));
        Assert.False(File.Exists(Path.Combine(bucket, BucketLayout.CampaignJson(manifest.RunId))));
    }

    [Theory]
    [MemberData(nameof(RefusedFileNames))]
    public async Task A_bad_file_fails_the_run_with_a_clear_reason(string name)
    {
        var refused = RefusedFiles[name];
        using var directory = new TempDirectory();
        await FailsAsync(directory, refused.Input.WriteInto(directory), Encoding.UTF8.GetBytes(Trigger().ToJsonString()), refused.Stage, refused.Reason);
    }

    [Theory]
    [MemberData(nameof(BadTriggerNames))]
    public async Task A_bad_trigger_fails_the_run_with_a_clear_reason(string name)
    {
        var bad = BadTriggers[name];
        using var directory = new TempDirectory();
        var input = directory.Write("items.csv", Good);
        await FailsAsync(directory, input, bad.Body, Stages.BuildStats, bad.Reason);
    }

    [Theory]
    [MemberData(nameof(AcceptedFileNames))]
    public async Task An_acceptable_file_completes_with_the_statistics_computed_by_hand(string name)
    {
        var accepted = AcceptedFiles[name];
        using var directory = new TempDirectory();
        // A handful of hand-made customers cannot pass the quality gate (too few for k); this test is about the statistics.
        var trigger = Trigger();
        trigger["accept_held"] = true;
        var (manifest, pipeline, bucket) = await RunAsync(directory, accepted.Input.WriteInto(directory), Encoding.UTF8.GetBytes(trigger.ToJsonString()));
        await using var _ = pipeline;

        Assert.True(manifest.Status == RunStatus.Completed, $"the run failed: {manifest.Error?.Reason}");
        var expected = OrderItemsByHand.Stats(accepted.Means, StatsPreset.Rfm, Start, End, End);
        var actual = await StatsFile.ReadAsync(new FileSystemBucket(bucket), BucketLayout.CustomerStats(manifest.RunId));
        OrderItemsByHand.AssertSame(expected, actual);
        Assert.Equal(expected.Count, manifest.Metrics["customers"]);
        Assert.True(File.Exists(Path.Combine(bucket, BucketLayout.Latest)));
        var campaign = PipelineJson.Deserialize<CampaignDocument>(File.ReadAllBytes(Path.Combine(bucket, BucketLayout.CampaignJson(manifest.RunId))));
        Assert.All(campaign.Centroids, c => Assert.True(double.IsFinite(c.AverageSpend) && double.IsFinite(c.DaysSinceLastOrder)));
    }

    [Fact]
    public void The_catalogue_has_at_least_60_cases_in_every_category_named()
    {
        var categories = Categories();
        Assert.True(categories.Values.Sum() >= 60, $"only {categories.Values.Sum()} cases");
        Assert.Equal(RefusedFiles.Count + AcceptedFiles.Count + BadTriggers.Count, categories.Values.Sum());
    }

    [Fact]
    public void RELIABILITY_md_counts_the_cases_as_the_catalogue_has_them()
    {
        var table = ReliabilityDocument.Table("Bad input");
        var expected = Categories();
        Assert.Equal(expected.OrderBy(c => c.Key), table.Where(r => !r.Key.StartsWith("**", StringComparison.Ordinal))
            .Select(r => KeyValuePair.Create(r.Key, int.Parse(r.Value, System.Globalization.CultureInfo.InvariantCulture))).OrderBy(c => c.Key));
        Assert.Equal($"**{expected.Values.Sum()}**", table["**total**"]);
    }

    /// <summary>Cases per category, for RELIABILITY.md.</summary>
    public static IReadOnlyDictionary<string, int> Categories() =>
        RefusedFiles.Values.Select(c => c.Category)
            .Concat(AcceptedFiles.Values.Select(c => c.Category))
            .Concat(BadTriggers.Values.Select(c => c.Category))
            .GroupBy(c => c)
            .ToDictionary(g => g.Key, g => g.Count());
}
