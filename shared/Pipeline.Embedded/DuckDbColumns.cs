using DuckDB.NET.Data;
using DuckDB.NET.Native;

namespace Pipeline.Embedded;

/// <summary>
/// Whole C# arrays in DuckDB queries without a copy: each array is lent as a scalar function of a row's position,
/// <c>name(position)</c> = <c>values[position]</c>, which a query calls on the rows the array was computed from (for
/// example a Parquet scan's <c>file_row_number</c>). DuckDB calls it a vector (2,048 rows) at a time on every thread.
/// </summary>
/// <remarks>
/// Copying millions of rows into a DuckDB table first costs more than computing them: the table's memory is fresh,
/// and on this kind of machine every fresh page is a fault on the host too. A lent column takes no memory, and a
/// query that never reads it never calls it.
/// </remarks>
public static class DuckDbColumns
{
    /// <summary>
    /// Registers <paramref name="name"/>(position BIGINT) on the connection, returning
    /// <paramref name="values"/>[position] as a BIGINT (<c>long</c>), DOUBLE (<c>double</c>) or BOOLEAN (<c>bool</c>).
    /// The array must not change while the connection may still call it. A position outside the array fails the query.
    /// </summary>
    public static void Lend<T>(DuckDBConnection connection, string name, T[] values)
    {
        _ = TypeOf(values); // refuses any array but long[], double[] and bool[] before DuckDB would
        connection.RegisterScalarFunction<long, T>(name, (readers, writer, rows) =>
        {
            var positions = readers[0];
            for (ulong row = 0; row < rows; row++)
            {
                var position = positions.GetValue<long>(row);
                if ((ulong)position >= (ulong)values.Length)
                    throw new ArgumentOutOfRangeException(nameof(values), $"{name}({position}): the lent column has {values.Length} rows");
                writer.WriteValue(values[position], row);
            }
        }, new ScalarFunctionOptions { IsPureFunction = true });
    }

    /// <summary>The DuckDB type of a column held as this array (what <see cref="DuckDbColumnReader"/> reads into, too).</summary>
    internal static DuckDBType TypeOf(Array column) => column switch
    {
        long[] => DuckDBType.BigInt,
        double[] => DuckDBType.Double,
        bool[] => DuckDBType.Boolean,
        _ => throw new ArgumentException($"no DuckDB column type for {column.GetType()}", nameof(column)),
    };
}
