using System.Numerics;
using DuckDB.NET.Data;
using DuckDB.NET.Native;

namespace Pipeline.Embedded;

/// <summary>
/// Appends whole C# arrays to a DuckDB table as its columns, a vector (2,048 rows) at a time, through the C API's
/// data chunks: each column's memory is copied as it is, where DuckDB.NET's appender takes a call per value, which
/// at millions of rows cost more than computing the values.
/// </summary>
public static unsafe class DuckDbColumns
{
    /// <summary>
    /// Appends the rows of <paramref name="columns"/> (equal lengths, in the table's column order) to
    /// <paramref name="table"/>: a <c>long[]</c> to a BIGINT column, or to an INTEGER, SMALLINT or TINYINT column
    /// that holds each of its values (narrowed a vector at a time: a table of narrower columns takes less fresh
    /// memory, which costs more than the copy); a <c>double[]</c> to a DOUBLE and a <c>bool[]</c> to a BOOLEAN,
    /// none of them null.
    /// </summary>
    /// <exception cref="OverflowException">A value does not fit its narrower column.</exception>
    public static void Append(DuckDBConnection connection, string table, params IReadOnlyList<Array> columns)
    {
        var rows = columns.Count == 0 ? 0 : columns[0].Length;
        if (columns.Any(c => c.Length != rows))
            throw new ArgumentException($"columns of different lengths: {string.Join(", ", columns.Select(c => c.Length))}", nameof(columns));
        var tableTypes = TableTypes(connection, table);
        var stored = columns.Select((c, i) => c is long[] && i < tableTypes.Count && tableTypes[i] is DuckDBType.Integer or DuckDBType.SmallInt or DuckDBType.TinyInt
            ? tableTypes[i] : TypeOf(c)).ToArray();
        var types = stored.Select(NativeMethods.LogicalType.DuckDBCreateLogicalType).ToArray();
        try
        {
            Check(NativeMethods.Appender.DuckDBAppenderCreate(connection.NativeConnection, null!, table, out var appender), appender);
            using (appender)
            using (var chunk = NativeMethods.DataChunks.DuckDBCreateDataChunk(types.Select(t => t.DangerousGetHandle()).ToArray(), (ulong)types.Length))
            {
                var vectorSize = (int)NativeMethods.Helpers.DuckDBVectorSize();
                for (var start = 0; start < rows; start += vectorSize)
                {
                    var count = Math.Min(vectorSize, rows - start);
                    NativeMethods.DataChunks.DuckDBDataChunkReset(chunk);
                    for (var c = 0; c < columns.Count; c++)
                        Copy(columns[c], stored[c], start, count, NativeMethods.Vectors.DuckDBVectorGetData(NativeMethods.DataChunks.DuckDBDataChunkGetVector(chunk, c)));
                    NativeMethods.DataChunks.DuckDBDataChunkSetSize(chunk, (ulong)count);
                    Check(NativeMethods.Appender.DuckDBAppendDataChunk(appender, chunk), appender);
                }
                Check(NativeMethods.Appender.DuckDBAppenderClose(appender), appender);
            }
        }
        finally
        {
            foreach (var type in types) type.Dispose();
        }
    }

    /// <summary>The DuckDB type of a column held as this array (what <see cref="DuckDbColumnReader"/> reads into, too).</summary>
    internal static DuckDBType TypeOf(Array column) => column switch
    {
        long[] => DuckDBType.BigInt,
        double[] => DuckDBType.Double,
        bool[] => DuckDBType.Boolean,
        _ => throw new ArgumentException($"no DuckDB column type for {column.GetType()}", nameof(column)),
    };

    /// <summary>
    /// The narrowest of TINYINT, SMALLINT, INTEGER and BIGINT that holds every value, as DuckDB names it: the type of a
    /// table column that <see cref="Append"/> fills from <paramref name="values"/>.
    /// </summary>
    public static string NarrowestInteger(long[] values)
    {
        if (values.Length == 0) return "TINYINT";
        var (min, max) = (values.Min(), values.Max()); // vectorized
        return min >= sbyte.MinValue && max <= sbyte.MaxValue ? "TINYINT"
            : min >= short.MinValue && max <= short.MaxValue ? "SMALLINT"
            : min >= int.MinValue && max <= int.MaxValue ? "INTEGER"
            : "BIGINT";
    }

    /// <summary>The table's column types, in column order.</summary>
    private static List<DuckDBType> TableTypes(DuckDBConnection connection, string table)
    {
        var types = new List<DuckDBType>();
        using var command = DuckDb.Command(connection, $"SELECT column_type FROM (DESCRIBE {table})");
        using var reader = command.ExecuteReader();
        while (reader.Read())
            types.Add(reader.GetString(0) switch
            {
                "TINYINT" => DuckDBType.TinyInt,
                "SMALLINT" => DuckDBType.SmallInt,
                "INTEGER" => DuckDBType.Integer,
                _ => DuckDBType.Invalid, // any other: the array's own type (TypeOf)
            });
        return types;
    }

    /// <summary>Rows <paramref name="start"/> to <paramref name="start"/> + <paramref name="count"/> into a vector's data of type <paramref name="stored"/>.</summary>
    private static void Copy(Array column, DuckDBType stored, int start, int count, void* vector)
    {
        switch (column)
        {
            case long[] values when stored == DuckDBType.Integer:
                Narrow(values.AsSpan(start, count), new Span<int>(vector, count));
                break;
            case long[] values when stored == DuckDBType.SmallInt:
                Narrow(values.AsSpan(start, count), new Span<short>(vector, count));
                break;
            case long[] values when stored == DuckDBType.TinyInt:
                Narrow(values.AsSpan(start, count), new Span<sbyte>(vector, count));
                break;
            case long[] values:
                values.AsSpan(start, count).CopyTo(new Span<long>(vector, count));
                break;
            case double[] values:
                values.AsSpan(start, count).CopyTo(new Span<double>(vector, count));
                break;
            case bool[] values: // a .NET bool is one byte, 0 or 1, as DuckDB's BOOLEAN
                values.AsSpan(start, count).CopyTo(new Span<bool>(vector, count));
                break;
        }
    }

    /// <summary>Each value into a narrower integer, checked: one that does not fit throws <see cref="OverflowException"/>.</summary>
    private static void Narrow<T>(ReadOnlySpan<long> values, Span<T> vector) where T : struct, IBinaryInteger<T>
    {
        for (var i = 0; i < values.Length; i++) vector[i] = T.CreateChecked(values[i]);
    }

    private static void Check(DuckDBState state, DuckDB.NET.Native.DuckDBAppender appender)
    {
        if (state == DuckDBState.Success) return;
        using var error = NativeMethods.Appender.DuckDBAppenderErrorData(appender);
        throw new InvalidOperationException($"appending to DuckDB failed: {(error.IsInvalid ? "no error message" : error.Message)}");
    }
}
