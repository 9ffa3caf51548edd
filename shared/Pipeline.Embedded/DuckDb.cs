using Pipeline.Core;
using System.Globalization;
using DuckDB.NET.Data;

namespace Pipeline.Embedded;

/// <summary>Opens in-memory DuckDB connections set up the way the pipeline needs them: UTC, bounded memory.</summary>
public static class DuckDb
{
    public static DuckDBConnection Open(EmbeddedOptions options)
    {
        var connection = new DuckDBConnection("DataSource=:memory:");
        connection.Open();
        Execute(connection, "SET TimeZone = 'UTC'");
        Execute(connection, $"SET threads = {Math.Max(1, Environment.ProcessorCount)}");
        Execute(connection, $"SET temp_directory = {Literal(Path.Combine(Path.GetTempPath(), "pipeline-duckdb"))}");
        if (!string.IsNullOrWhiteSpace(options.MemoryLimit))
            Execute(connection, $"SET memory_limit = {Literal(options.MemoryLimit)}");
        return connection;
    }

    public static void Execute(DuckDBConnection connection, string sql, params (string Name, object? Value)[] parameters)
    {
        using var command = Command(connection, sql, parameters);
        command.ExecuteNonQuery();
    }

    public static T Scalar<T>(DuckDBConnection connection, string sql, params (string Name, object? Value)[] parameters)
    {
        using var command = Command(connection, sql, parameters);
        return (T)Convert.ChangeType(command.ExecuteScalar()!, typeof(T), CultureInfo.InvariantCulture);
    }

    public static DuckDBCommand Command(DuckDBConnection connection, string sql, params (string Name, object? Value)[] parameters)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters) command.Parameters.Add(new DuckDBParameter(name, value));
        return command;
    }

    /// <summary>Each column's DuckDB type (as DESCRIBE names it) of a table, view or table function such as read_parquet.</summary>
    public static Dictionary<string, string> ColumnTypes(DuckDBConnection connection, string relation)
    {
        var types = new Dictionary<string, string>(StringComparer.Ordinal);
        using var command = Command(connection, $"SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM {relation})");
        using var reader = command.ExecuteReader();
        while (reader.Read()) types[reader.GetString(0)] = reader.GetString(1);
        return types;
    }

    /// <summary>Whether a column type (as DESCRIBE names it) holds whole numbers: DuckDB's integer types, signed or unsigned.</summary>
    public static bool IsWholeNumberType(string type) =>
        type is "TINYINT" or "SMALLINT" or "INTEGER" or "BIGINT" or "HUGEINT" or "UTINYINT" or "USMALLINT" or "UINTEGER" or "UBIGINT" or "UHUGEINT";

    /// <summary>A SQL string literal, for the few places DuckDB takes no parameter (file paths in COPY, SET).</summary>
    public static string Literal(string value) => $"'{value.Replace("'", "''", StringComparison.Ordinal)}'";

    /// <summary><c>read_parquet([...])</c> over a table's local parts: the one way DuckDB reads a bucket table.</summary>
    public static string ReadParquet(LocalParts parts) =>
        $"read_parquet([{string.Join(", ", parts.Paths.Select(Literal))}])";

    /// <summary>A double as a SQL literal that round-trips exactly.</summary>
    public static string Number(double value) =>
        double.IsFinite(value) ? value.ToString("R", CultureInfo.InvariantCulture) : throw new ArgumentException($"{value} is not a finite number");
}
