using DuckDB.NET.Data;
using Pipeline.Core;

namespace Pipeline.Embedded;

/// <summary>
/// Puts the optional thelook_ecommerce <c>users</c> and <c>products</c> tables in front of DuckDB as views with
/// normalized types — <c>users(id, gender, age, country, traffic_source)</c> and
/// <c>products(id, department, category, brand, cost)</c> — from a CSV or Parquet file (<c>--users</c>,
/// <c>--products</c>) or from the tables of that name in a DuckDB database given as the input. Like the order items,
/// every value is checked first and the first problem is a permanent error naming the column and an offending value.
/// Only the profiled columns are read: names, e-mails, addresses and coordinates never enter a query.
/// </summary>
public static class ProfileTableSource
{
    /// <summary>How a column is read: an id (a whole number, never empty, unique), text, a whole number, a number.</summary>
    private enum Kind { Id, Text, Integer, Number }

    private sealed record Table(string Name, string Setting, IReadOnlyList<(string Column, Kind Kind)> Columns);

    private static readonly Table Users = new("users", "--users (Embedded:Users)",
        [("id", Kind.Id), ("gender", Kind.Text), ("age", Kind.Integer), ("country", Kind.Text), ("traffic_source", Kind.Text)]);

    private static readonly Table Products = new("products", "--products (Embedded:Products)",
        [("id", Kind.Id), ("department", Kind.Text), ("category", Kind.Text), ("brand", Kind.Text), ("cost", Kind.Number)]);

    /// <summary>The columns each table needs, by table name.</summary>
    public static IReadOnlyDictionary<string, IReadOnlyList<string>> RequiredColumns { get; } = new[] { Users, Products }
        .ToDictionary(t => t.Name, t => (IReadOnlyList<string>)t.Columns.Select(c => c.Column).ToList());

    /// <summary>
    /// Creates the <c>users</c> view when a users table is given; returns where it came from, or null. Call after
    /// <see cref="OrderItemsSource.Attach"/>, which attaches a DuckDB input database as <c>source</c>.
    /// </summary>
    public static string? AttachUsers(DuckDBConnection connection, EmbeddedOptions options) =>
        Attach(connection, Users, options.Users, options.Input);

    /// <summary>Creates the <c>products</c> view when a products table is given; returns where it came from, or null.</summary>
    public static string? AttachProducts(DuckDBConnection connection, EmbeddedOptions options) =>
        Attach(connection, Products, options.Products, options.Input);

    private static string? Attach(DuckDBConnection connection, Table table, string? file, string? input)
    {
        string source, described;
        if (!string.IsNullOrWhiteSpace(file))
        {
            var path = Path.GetFullPath(file);
            if (!File.Exists(path))
                throw new PermanentPipelineException($"the {table.Name} file {path} given by {table.Setting} does not exist");
            described = $"the {table.Name} file {path}";
            source = Path.GetExtension(path).ToLowerInvariant() switch
            {
                ".csv" or ".gz" => $"read_csv({DuckDb.Literal(path)}, header = true, all_varchar = true)",
                ".parquet" => $"read_parquet({DuckDb.Literal(path)})",
                var other => throw new PermanentPipelineException(
                    $"{described} has an unknown type '{other}': use .csv or .parquet (or put a {table.Name} table in the DuckDB input)"),
            };
        }
        else if (IsDatabase(input) && HasSourceTable(connection, table.Name))
        {
            source = $"source.{table.Name}";
            described = $"the {table.Name} table of {Path.GetFullPath(input!)}";
        }
        else
        {
            return null;
        }

        Dictionary<string, string> columns;
        try
        {
            DuckDb.Execute(connection, $"CREATE OR REPLACE TEMP VIEW {table.Name}_raw AS SELECT * FROM {source}");
            columns = DuckDb.ColumnTypes(connection, $"{table.Name}_raw");
        }
        catch (DuckDBException e)
        {
            throw new PermanentPipelineException($"{described} cannot be read: {OrderItemsSource.FirstLine(e.Message)}", e);
        }

        var missing = table.Columns.Select(c => c.Column).Where(c => !columns.ContainsKey(c)).ToList();
        if (missing.Count > 0)
            throw new PermanentPipelineException(
                $"{described} lacks the required column{(missing.Count > 1 ? "s" : "")} {string.Join(", ", missing)} " +
                $"(it has: {string.Join(", ", columns.Keys)})");

        var selects = table.Columns.Select(c => c.Kind switch
        {
            Kind.Id or Kind.Integer => $"{OrderItemsSource.Integer(c.Column, columns)} AS {c.Column}, CAST({c.Column} AS VARCHAR) AS {c.Column}_raw",
            Kind.Number => $"{OrderItemsSource.Decimal(c.Column, columns)} AS {c.Column}, CAST({c.Column} AS VARCHAR) AS {c.Column}_raw",
            _ => $"NULLIF(trim(CAST({c.Column} AS VARCHAR)), '') AS {c.Column}",
        });
        DuckDb.Execute(connection, $"CREATE OR REPLACE TEMP VIEW {table.Name} AS SELECT {string.Join(", ", selects)} FROM {table.Name}_raw");
        try
        {
            Validate(connection, table, described);
        }
        catch (DuckDBException e)
        {
            throw new PermanentPipelineException($"{described} cannot be read: {OrderItemsSource.FirstLine(e.Message)}", e);
        }
        return described["the ".Length..];
    }

    /// <summary>Ids present, whole and unique; whole numbers and numbers where there is a value.</summary>
    private static void Validate(DuckDBConnection connection, Table table, string described)
    {
        foreach (var (column, kind) in table.Columns.Where(c => c.Kind != Kind.Text))
        {
            var expected = kind == Kind.Number ? "a number" : "a whole number";
            var emptyAllowed = kind != Kind.Id ? $" AND nullif(trim({column}_raw), '') IS NOT NULL" : "";
            using var command = DuckDb.Command(connection,
                $"SELECT count(*), first({column}_raw) FROM {table.Name} WHERE {column} IS NULL{emptyAllowed}");
            using var reader = command.ExecuteReader();
            reader.Read();
            var bad = reader.GetInt64(0);
            if (bad == 0) continue;
            var example = reader.IsDBNull(1) ? "" : reader.GetString(1);
            throw new PermanentPipelineException(example.Trim().Length == 0
                ? $"{described} has {bad:N0} row(s) with an empty {column}"
                : $"{described} has {bad:N0} row(s) whose {column} is not {expected}, e.g. '{OrderItemsSource.Shorten(example)}'");
        }

        using var duplicates = DuckDb.Command(connection,
            $"SELECT count(*), min(id) FROM (SELECT id FROM {table.Name} GROUP BY id HAVING count(*) > 1)");
        using var found = duplicates.ExecuteReader();
        found.Read();
        if (found.GetInt64(0) > 0)
            throw new PermanentPipelineException(
                $"{described} has {found.GetInt64(0):N0} id(s) on more than one row, e.g. id {found.GetInt64(1)}: each id must be one row");
    }

    private static bool IsDatabase(string? input) =>
        input is not null && Path.GetExtension(input).ToLowerInvariant() is ".duckdb" or ".db";

    private static bool HasSourceTable(DuckDBConnection connection, string name) =>
        DuckDb.Scalar<long>(connection,
            "SELECT count(*) FROM duckdb_tables() WHERE database_name = 'source' AND table_name = $name", ("name", name)) > 0;
}
