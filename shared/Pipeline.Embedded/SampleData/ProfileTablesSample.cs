using System.Globalization;
using DuckDB.NET.Data;

namespace Pipeline.Embedded.SampleData;

/// <summary>Where the sample's users and products were written.</summary>
public sealed record ProfileTablesSummary(string UsersPath, string ProductsPath, long Users, int Products);

/// <summary>
/// Writes the sample's thelook_ecommerce-shaped <c>users</c> and <c>products</c> tables (CSV or Parquet, by the
/// file name), matching the order items drawn with the same seed: users 1..N with the gender they bought for,
/// thelook's age, country and traffic-source mix; the 29,120 products with department, category, brand, the retail
/// price every sale of them has, and cost. Users also get made-up names, e-mails, streets and coordinates, as
/// thelook's have, so that tests can show none of it reaches an output. Each file is written whole (temporary file,
/// then rename).
/// </summary>
public static class ProfileTablesSample
{
    private static readonly string[] FirstNames = ["Alex", "Maria", "Wei", "Ana", "James", "Yuki", "Lucas", "Emma", "Min-jun", "Sofia"];
    private static readonly string[] LastNames = ["Smith", "Wang", "Silva", "Kim", "Martin", "Garcia", "Müller", "Tanaka", "Brown", "Li"];

    /// <summary>The users and products files beside an order items file: <c>order_items….csv</c> → <c>users….csv</c>, <c>products….csv</c>.</summary>
    public static (string Users, string Products) PathsBeside(string orderItemsPath)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(orderItemsPath))!;
        var name = Path.GetFileName(orderItemsPath);
        string Beside(string table) => Path.Combine(directory,
            name.StartsWith("order_items", StringComparison.Ordinal) ? table + name["order_items".Length..] : $"{table}-{name}");
        return (Beside("users"), Beside("products"));
    }

    public static async Task<ProfileTablesSummary> WriteAsync(string usersPath, string productsPath, long users, SampleOptions options,
        CancellationToken cancellationToken)
    {
        await Task.Run(() => Write(usersPath, "users", UsersTable, connection => AppendUsers(connection, users, options, cancellationToken)), cancellationToken);
        await Task.Run(() => Write(productsPath, "products", ProductsTable, connection => AppendProducts(connection, options.Seed)), cancellationToken);
        return new ProfileTablesSummary(Path.GetFullPath(usersPath), Path.GetFullPath(productsPath), users, OrderItemsGenerator.Products);
    }

    private const string UsersTable = """
        CREATE TABLE users (id BIGINT, first_name VARCHAR, last_name VARCHAR, email VARCHAR, age BIGINT, gender VARCHAR,
            street_address VARCHAR, country VARCHAR, latitude DOUBLE, longitude DOUBLE, traffic_source VARCHAR, created_at TIMESTAMP)
        """;

    private const string ProductsTable = """
        CREATE TABLE products (id BIGINT, cost DOUBLE, category VARCHAR, name VARCHAR, brand VARCHAR, retail_price DOUBLE, department VARCHAR)
        """;

    private static void Write(string path, string table, string create, Action<DuckDBConnection> append)
    {
        var format = OrderItemsSample.FormatFor(path);
        var target = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        var temporary = Path.Combine(Path.GetDirectoryName(target)!, $".{Path.GetFileName(target)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using var connection = DuckDb.Open(new EmbeddedOptions());
            DuckDb.Execute(connection, create);
            append(connection);
            // CSV timestamps as BigQuery exports them; Parquet keeps the TIMESTAMP type.
            var copy = format == SampleFormat.Csv
                ? "FORMAT csv, HEADER true, TIMESTAMPFORMAT '%Y-%m-%d %H:%M:%S UTC'"
                : "FORMAT parquet, COMPRESSION zstd";
            DuckDb.Execute(connection, $"COPY (SELECT * FROM {table} ORDER BY id) TO {DuckDb.Literal(temporary)} ({copy})");
            File.Move(temporary, target, overwrite: true);
        }
        finally
        {
            if (File.Exists(temporary)) File.Delete(temporary);
        }
    }

    private static void AppendUsers(DuckDBConnection connection, long users, SampleOptions options, CancellationToken cancellationToken)
    {
        var end = new DateTimeOffset(options.EndDate.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);
        var start = end.AddYears(-options.Years);
        var span = (end - start).TotalSeconds;
        using var appender = connection.CreateAppender("users");
        for (long id = 1; id <= users; id++)
        {
            if ((id & 0xFFFF) == 0) cancellationToken.ThrowIfCancellationRequested();
            var (age, country, traffic, signUp) = ThelookPeopleAndCatalogue.Person(options.Seed, id);
            var first = FirstNames[id % FirstNames.Length];
            var last = LastNames[id / FirstNames.Length % LastNames.Length];
            appender.CreateRow()
                .AppendValue(id)
                .AppendValue(first)
                .AppendValue(last)
                .AppendValue(string.Create(CultureInfo.InvariantCulture, $"{first.ToLowerInvariant()}.{last.ToLowerInvariant()}{id}@example.com"))
                .AppendValue((long)age)
                .AppendValue(ThelookPeopleAndCatalogue.IsFemale(options.Seed, id) ? "F" : "M")
                .AppendValue(string.Create(CultureInfo.InvariantCulture, $"{id % 9000 + 1} Sample Street"))
                .AppendValue(country)
                .AppendValue(-60 + (id % 12_000) / 100.0)
                .AppendValue(-170 + (id % 34_000) / 100.0)
                .AppendValue(traffic)
                .AppendValue(start.AddSeconds(Math.Floor(signUp * span)).UtcDateTime)
                .EndRow();
        }
    }

    private static void AppendProducts(DuckDBConnection connection, int seed)
    {
        var prices = OrderItemsGenerator.DrawCatalogue(seed);
        using var appender = connection.CreateAppender("products");
        for (var id = 1; id <= OrderItemsGenerator.Products; id++)
        {
            var (department, category, brand, costShare) = ThelookPeopleAndCatalogue.Product(seed, id);
            var retail = prices[id - 1] / 100.0;
            appender.CreateRow()
                .AppendValue((long)id)
                .AppendValue(Math.Round(retail * costShare, 2))
                .AppendValue(category)
                .AppendValue(string.Create(CultureInfo.InvariantCulture, $"{brand} {category} {id}"))
                .AppendValue(brand)
                .AppendValue(retail)
                .AppendValue(department)
                .EndRow();
        }
    }
}
