using DuckDB.NET.Data;
using DuckDB.NET.Native;

namespace Pipeline.Embedded;

/// <summary>
/// Reads a query's BIGINT, DOUBLE and BOOLEAN columns into whole C# arrays, a vector at a time, through the C API's data
/// chunks: each vector's memory is copied as it is, where DuckDB.NET's data reader takes a call per value, which at
/// millions of rows cost more than DuckDB's own reading. The counterpart of <see cref="DuckDbColumns"/>.
/// </summary>
public static unsafe class DuckDbColumnReader
{
    /// <summary>
    /// Where a result column goes: row r to <c>Array[Start + r * Stride]</c>, a <c>long[]</c> for a BIGINT, a
    /// <c>double[]</c> for a DOUBLE and a <c>bool[]</c> for a BOOLEAN. A stride above 1 interleaves columns into one
    /// row-major array. <paramref name="NullAsNaN"/> lets a DOUBLE column hold nulls, written as NaN.
    /// </summary>
    public readonly record struct Target(Array Array, int Start = 0, int Stride = 1, bool NullAsNaN = false)
    {
        /// <summary>How many rows fit.</summary>
        public int Rows => Array.Length <= Start ? 0 : (Array.Length - Start + Stride - 1) / Stride;
    }

    /// <summary>
    /// Copies the rows of <paramref name="sql"/> (streamed, in the query's order) into <paramref name="columns"/>, one
    /// per result column. Returns the number of rows; a null or more rows than a target holds is an error.
    /// </summary>
    public static int Read(DuckDBConnection connection, string sql, params IReadOnlyList<Target> columns)
    {
        if (NativeMethods.PreparedStatements.DuckDBPrepare(connection.NativeConnection, sql, out var statement) != DuckDBState.Success)
        {
            using (statement) throw new InvalidOperationException($"DuckDB could not prepare the query: {NativeMethods.PreparedStatements.DuckDBPrepareError(statement)}");
        }
        using (statement)
        {
            var state = NativeMethods.PreparedStatements.DuckDBExecutePreparedStreaming(statement, out var result);
            try
            {
                if (state != DuckDBState.Success)
                    throw new InvalidOperationException($"DuckDB could not run the query: {NativeMethods.Query.DuckDBResultError(ref result)}");
                CheckTypes(ref result, columns);
                return Copy(result, columns);
            }
            finally
            {
                NativeMethods.Query.DuckDBDestroyResult(ref result);
            }
        }
    }

    /// <summary>
    /// <see cref="Read"/> of some of <paramref name="table"/>'s columns (each an expression and where it goes) as two
    /// streams side by side (<see cref="ReadBoth"/>): the first half of the columns and the rest. Both scans keep the
    /// table's order (DuckDB preserves a scan's order), so their rows line up.
    /// </summary>
    /// <param name="table">A table expression every connection to the database sees: files, or a table that is not TEMP.</param>
    public static int ReadSideBySide(DuckDBConnection connection, string table, IReadOnlyList<(string Sql, Target Target)> columns)
    {
        if (columns.Count < 2) return ReadColumns(connection, new Columns(table, columns));
        var half = (columns.Count + 1) / 2;
        var (first, second) = ReadBoth(connection, new Columns(table, [.. columns.Take(half)]), new Columns(table, [.. columns.Skip(half)]));
        if (first != second)
            throw new InvalidDataException($"{table} changed while it was read: {first} rows in one stream, {second} in the other");
        return first;
    }

    /// <summary>
    /// Two reads (<see cref="Read"/>) at once: <paramref name="first"/> on <paramref name="connection"/>, <paramref name="second"/>
    /// on a second connection to the same database. A stream is copied on one thread, so two take about half the time
    /// on two cores. Returns each one's rows.
    /// </summary>
    /// <param name="first">Its table must be one every connection to the database sees (files, or a table that is not TEMP); so must the second's.</param>
    public static (int First, int Second) ReadBoth(DuckDBConnection connection, Columns first, Columns second)
    {
        using var side = connection.Duplicate();
        side.Open();
        var rows = new int[2];
        Parallel.Invoke(() => rows[0] = ReadColumns(connection, first), () => rows[1] = ReadColumns(side, second));
        return (rows[0], rows[1]);
    }

    /// <summary>Some columns of a table expression, each an expression and where its values go.</summary>
    public readonly record struct Columns(string Table, IReadOnlyList<(string Sql, Target Target)> Select);

    private static int ReadColumns(DuckDBConnection connection, Columns columns) =>
        Read(connection, $"SELECT {string.Join(", ", columns.Select.Select(c => c.Sql))} FROM {columns.Table}", [.. columns.Select.Select(c => c.Target)]);

    private static void CheckTypes(ref DuckDBResult result, IReadOnlyList<Target> columns)
    {
        if ((int)NativeMethods.Query.DuckDBColumnCount(ref result) != columns.Count)
            throw new ArgumentException($"the query has {NativeMethods.Query.DuckDBColumnCount(ref result)} columns, not {columns.Count}", nameof(columns));
        for (var c = 0; c < columns.Count; c++)
        {
            var type = NativeMethods.Query.DuckDBColumnType(ref result, c);
            var expected = DuckDbColumns.TypeOf(columns[c].Array);
            if (type != expected)
                throw new ArgumentException($"column {NativeMethods.Query.DuckDBColumnName(ref result, c)} is {type}, not {expected}", nameof(columns));
        }
    }

    private static int Copy(DuckDBResult result, IReadOnlyList<Target> columns)
    {
        var capacity = columns.Min(c => c.Rows);
        var rows = 0;
        while (true)
        {
            using var chunk = NativeMethods.Query.DuckDBFetchChunk(result);
            var count = chunk.IsInvalid ? 0 : (int)NativeMethods.DataChunks.DuckDBDataChunkGetSize(chunk);
            if (count == 0) return rows;
            if (capacity - rows < count)
                throw new InvalidDataException($"the query returned more than the {capacity} rows expected");
            for (var c = 0; c < columns.Count; c++)
            {
                var vector = NativeMethods.DataChunks.DuckDBDataChunkGetVector(chunk, c);
                var target = columns[c];
                var validity = NativeMethods.Vectors.DuckDBVectorGetValidity(vector);
                if (!(target.NullAsNaN && target.Array is double[])) RequireValid(validity, count, c);
                var data = NativeMethods.Vectors.DuckDBVectorGetData(vector);
                switch (target.Array)
                {
                    case long[] values:
                        Copy(new ReadOnlySpan<long>(data, count), values, target.Start + rows * target.Stride, target.Stride);
                        break;
                    case double[] values:
                        Copy(new ReadOnlySpan<double>(data, count), values, target.Start + rows * target.Stride, target.Stride);
                        if (target.NullAsNaN && validity is not null)
                            for (var row = 0; row < count; row++)
                                if (!IsValid(validity, row)) values[target.Start + (rows + row) * target.Stride] = double.NaN;
                        break;
                    case bool[] values: // DuckDB's BOOLEAN is one byte, 0 or 1, as a .NET bool
                        Copy(new ReadOnlySpan<bool>(data, count), values, target.Start + rows * target.Stride, target.Stride);
                        break;
                }
            }
            rows += count;
        }
    }

    private static void Copy<T>(ReadOnlySpan<T> vector, T[] values, int start, int stride)
    {
        if (stride == 1)
        {
            vector.CopyTo(values.AsSpan(start));
            return;
        }
        for (var i = 0; i < vector.Length; i++) values[start + i * stride] = vector[i];
    }

    /// <summary>A vector's validity mask (null when every row is valid) must mark its first rows all valid.</summary>
    private static void RequireValid(ulong* validity, int count, int column)
    {
        if (validity is null) return;
        for (var row = 0; row < count; row++)
            if (!IsValid(validity, row))
                throw new InvalidDataException($"a null in column {column} at row {row} of a chunk");
    }

    /// <summary>Whether a row holds a value (is not null) by a vector's validity mask, which must not be null itself.</summary>
    private static bool IsValid(ulong* validity, int row) => (validity[row / 64] >> (row % 64) & 1) != 0;
}
