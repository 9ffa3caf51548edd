using Pipeline.Analytics;
using Pipeline.Embedded;

namespace Pipeline.Tests.Embedded;

/// <summary>The audiences written from Predict's columns are the bytes DuckDB's CSV COPY of the audience query writes.</summary>
public sealed class AudienceCsvTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task Each_segment_is_duckdbs_csv_of_its_customers_outside_the_control_group()
    {
        // Ids across the whole BIGINT range, in user order; segment 3 has nobody, segment 4 only control-group members.
        var userIds = new[] { long.MinValue, -1_000_000_007L, -1, 0, 1, 9, 10, 99, 100, 123_456_789, 4_294_967_296, long.MaxValue - 1, long.MaxValue };
        var centroidIds = new long[] { 1, 2, 1, 2, 4, 1, 1, 2, 2, 1, 2, 1, 2 };
        var controlGroup = new[] { false, false, true, false, true, false, false, false, true, false, false, true, false };

        var audiences = AudienceCsv.Write(userIds, centroidIds, controlGroup, [1, 2, 3, 4]);

        Assert.Equal(new long[] { 4, 5, 0, 0 }, audiences.Select(a => a.Customers));
        await AssertDuckDbWritesAsync(userIds, centroidIds, controlGroup, [1, 2, 3, 4], audiences);
    }

    [Fact]
    public async Task Rows_across_many_chunks_land_in_order_in_each_file()
    {
        // Four chunks and a part of one, ids widening from 1 to 16 digits; segment 9 is not asked for.
        var random = new Random(7);
        var rows = 4 * RowChunks.Size + 1_234;
        var userIds = new long[rows];
        var centroidIds = new long[rows];
        var controlGroup = new bool[rows];
        for (long i = 0, id = 1; i < rows; i++, id += 1 + id / 10_000)
        {
            userIds[i] = id;
            centroidIds[i] = new long[] { 2, 5, 9 }[random.Next(3)];
            controlGroup[i] = random.Next(10) == 0;
        }

        var audiences = AudienceCsv.Write(userIds, centroidIds, controlGroup, [5, 2]);

        Assert.Equal(Enumerable.Range(0, rows).Count(i => centroidIds[i] == 5 && !controlGroup[i]), audiences[0].Customers);
        Assert.Equal(Enumerable.Range(0, rows).Count(i => centroidIds[i] == 2 && !controlGroup[i]), audiences[1].Customers);
        await AssertDuckDbWritesAsync(userIds, centroidIds, controlGroup, [5, 2], audiences);
    }

    /// <summary>Each audience is the file DuckDB's CSV COPY of its segment's query writes, byte for byte.</summary>
    private async Task AssertDuckDbWritesAsync(long[] userIds, long[] centroidIds, bool[] controlGroup, long[] segments,
        IReadOnlyList<(ReadOnlyMemory<byte> Text, long Customers)> audiences)
    {
        using var connection = DuckDb.Open(new EmbeddedOptions());
        DuckDbColumns.Lend(connection, "lent_user_id", userIds);
        DuckDbColumns.Lend(connection, "lent_centroid_id", centroidIds);
        DuckDbColumns.Lend(connection, "lent_control_group", controlGroup);
        DuckDb.Execute(connection, $"""
            CREATE TABLE p AS SELECT lent_user_id(range) AS user_id, lent_centroid_id(range) AS centroid_id, lent_control_group(range) AS control_group
            FROM range({userIds.Length})
            """);
        for (var k = 0; k < segments.Length; k++)
        {
            var csv = Path.Combine(_directory.Path, $"{segments[k]}.csv");
            DuckDb.Execute(connection, $"""
                COPY (SELECT user_id FROM p WHERE centroid_id = {segments[k]} AND NOT control_group ORDER BY user_id)
                TO {DuckDb.Literal(csv)} (FORMAT csv, HEADER true)
                """);
            Assert.Equal(await File.ReadAllBytesAsync(csv), audiences[k].Text.ToArray());
        }
    }

    [Fact]
    public void Columns_of_different_lengths_are_refused() =>
        Assert.Throws<ArgumentException>(() => AudienceCsv.Write([1, 2], [1], [false, false], [1]));
}
