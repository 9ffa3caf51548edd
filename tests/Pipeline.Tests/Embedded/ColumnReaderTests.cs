using Pipeline.Embedded;

namespace Pipeline.Tests.Embedded;

/// <summary>The C API's chunks give the values DuckDB.NET's data reader gives, in the same order, to the bit.</summary>
public sealed class ColumnReaderTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    /// <summary>Statistics-shaped Parquet (several row groups, integer and double columns) read both ways.</summary>
    [Fact]
    public void Reads_what_the_data_reader_reads_into_columns_and_interleaved_rows()
    {
        const int rows = 70_000; // row groups of 10,000, vectors of 2,048: neither divides the other
        var path = Path.Combine(_directory.Path, "stats.parquet");
        using var connection = DuckDb.Open(new EmbeddedOptions());
        DuckDb.Execute(connection, $"""
            COPY (SELECT CAST(i * 7 + 3 AS INTEGER) AS user_id, CAST(i % 1500 AS BIGINT) AS days, CAST(1 + i % 4 AS SMALLINT) AS orders,
                    CASE i WHEN 0 THEN -0.0 WHEN 1 THEN 'NaN'::DOUBLE WHEN 2 THEN 5e-324 ELSE i / 7.0 END AS spend
                  FROM range({rows}) AS t(i))
            TO {DuckDb.Literal(path)} (FORMAT parquet, ROW_GROUP_SIZE 10000)
            """);
        var sql = $"SELECT CAST(user_id AS BIGINT), CAST(days AS DOUBLE), CAST(orders AS DOUBLE), spend FROM read_parquet({DuckDb.Literal(path)})";
        var expectedIds = new List<long>();
        var expectedValues = new List<double>();
        using (var command = DuckDb.Command(connection, sql))
        using (var reader = command.ExecuteReader())
            while (reader.Read())
            {
                expectedIds.Add(reader.GetInt64(0));
                for (var f = 1; f <= 3; f++) expectedValues.Add(reader.GetDouble(f));
            }

        var ids = new long[rows];
        var values = new double[rows * 3];
        var spends = new double[rows];
        var read = DuckDbColumnReader.Read(connection, sql,
            new(ids), new(values, 0, 3), new(values, 1, 3), new(spends));
        DuckDbColumnReader.Read(connection, sql,
            new(new long[rows]), new(new double[rows]), new(new double[rows]), new(values, 2, 3));

        Assert.Equal(rows, read);
        Assert.Equal(expectedIds, ids);
        Assert.Equal(expectedValues.Select(BitConverter.DoubleToInt64Bits), values.Select(BitConverter.DoubleToInt64Bits));
        Assert.Equal(Enumerable.Range(0, rows).Select(i => BitConverter.DoubleToInt64Bits(expectedValues[i * 3 + 2])),
            spends.Select(BitConverter.DoubleToInt64Bits));
    }

    [Fact]
    public void Reads_booleans_and_refuses_nulls_other_types_and_more_rows_than_the_arrays_hold()
    {
        using var connection = DuckDb.Open(new EmbeddedOptions());
        var five = new long[5];

        Assert.Equal(3, DuckDbColumnReader.Read(connection, "SELECT range FROM range(3)", new DuckDbColumnReader.Target(five)));
        Assert.Equal([0L, 1, 2, 0, 0], five);
        Assert.Equal(0, DuckDbColumnReader.Read(connection, "SELECT range FROM range(0)", new DuckDbColumnReader.Target(five)));
        var flags = new bool[4];
        Assert.Equal(4, DuckDbColumnReader.Read(connection, "SELECT range % 3 = 0 FROM range(4)", new DuckDbColumnReader.Target(flags)));
        Assert.Equal([true, false, false, true], flags);
        Assert.Throws<ArgumentException>(() => DuckDbColumnReader.Read(connection, "SELECT range FROM range(3)", new DuckDbColumnReader.Target(new int[3])));
        Assert.Throws<InvalidDataException>(() => DuckDbColumnReader.Read(connection,
            "SELECT CASE WHEN range = 3000 THEN NULL ELSE range END FROM range(4000)", new DuckDbColumnReader.Target(new long[4000])));
        Assert.Throws<InvalidDataException>(() => DuckDbColumnReader.Read(connection, "SELECT range FROM range(6)", new DuckDbColumnReader.Target(five)));
        Assert.Throws<ArgumentException>(() => DuckDbColumnReader.Read(connection, "SELECT range FROM range(3)", new DuckDbColumnReader.Target(new double[3])));
        Assert.Throws<ArgumentException>(() => DuckDbColumnReader.Read(connection, "SELECT range, range FROM range(3)", new DuckDbColumnReader.Target(five)));
        Assert.Throws<InvalidOperationException>(() => DuckDbColumnReader.Read(connection, "SELECT nothing FROM range(3)", new DuckDbColumnReader.Target(five)));
    }

    /// <summary>
    /// Two streams side by side line up row for row with one stream, over several files of several row groups each,
    /// on both cores; one column alone is one stream.
    /// </summary>
    [Fact]
    public void Side_by_side_streams_line_up_with_one_stream_across_files_and_row_groups()
    {
        const int rows = 250_000;
        using var connection = DuckDb.Open(new EmbeddedOptions());
        var paths = Enumerable.Range(0, 3).Select(part =>
        {
            var path = Path.Combine(_directory.Path, $"part-{part}.parquet");
            DuckDb.Execute(connection, $"""
                COPY (SELECT i AS user_id, hash(i) % 1000 AS days, 1 + i % 7 AS orders, i / 3.0 AS spend
                      FROM range({part * rows / 3}, {(part + 1) * rows / 3}) AS t(i))
                TO {DuckDb.Literal(path)} (FORMAT parquet, ROW_GROUP_SIZE 12345)
                """);
            return path;
        }).ToList();
        var table = $"read_parquet([{string.Join(", ", paths.Select(DuckDb.Literal))}])";
        string[] sql = ["CAST(user_id AS BIGINT)", "CAST(days AS DOUBLE)", "CAST(orders AS DOUBLE)", "spend"];
        var (ids, values) = (new long[rows], new double[rows * 3]);
        DuckDbColumnReader.Read(connection, $"SELECT {string.Join(", ", sql)} FROM {table}", new(ids), new(values, 0, 3), new(values, 1, 3), new(values, 2, 3));

        var (sideIds, sideValues) = (new long[rows], new double[rows * 3]);
        var read = DuckDbColumnReader.ReadSideBySide(connection, table,
            [(sql[0], new(sideIds)), .. Enumerable.Range(0, 3).Select(f => (sql[f + 1], new DuckDbColumnReader.Target(sideValues, f, 3)))]);

        Assert.Equal(rows, read);
        Assert.Equal(ids, sideIds);
        Assert.Equal(values, sideValues);
        Assert.Equal(Enumerable.Range(0, rows).Select(i => (long)i), sideIds);
        var alone = new long[rows];
        Assert.Equal(rows, DuckDbColumnReader.ReadSideBySide(connection, table, [(sql[0], new(alone))]));
        Assert.Equal(ids, alone);
    }
}
