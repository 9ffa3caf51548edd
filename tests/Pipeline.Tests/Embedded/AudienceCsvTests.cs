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
        using var connection = DuckDb.Open(new EmbeddedOptions());
        DuckDbColumns.Lend(connection, "lent_user_id", userIds);
        DuckDbColumns.Lend(connection, "lent_centroid_id", centroidIds);
        DuckDbColumns.Lend(connection, "lent_control_group", controlGroup);
        DuckDb.Execute(connection, $"""
            CREATE TABLE p AS SELECT lent_user_id(range) AS user_id, lent_centroid_id(range) AS centroid_id, lent_control_group(range) AS control_group
            FROM range({userIds.Length})
            """);

        var audiences = AudienceCsv.Write(userIds, centroidIds, controlGroup, [1, 2, 3, 4]);

        Assert.Equal(new long[] { 4, 5, 0, 0 }, audiences.Select(a => a.Customers));
        for (var k = 0; k < 4; k++)
        {
            var csv = Path.Combine(_directory.Path, $"{k + 1}.csv");
            DuckDb.Execute(connection, $"""
                COPY (SELECT user_id FROM p WHERE centroid_id = {k + 1} AND NOT control_group ORDER BY user_id)
                TO {DuckDb.Literal(csv)} (FORMAT csv, HEADER true)
                """);
            Assert.Equal(await File.ReadAllBytesAsync(csv), audiences[k].Text.ToArray());
        }
    }

    [Fact]
    public void Columns_of_different_lengths_are_refused() =>
        Assert.Throws<ArgumentException>(() => AudienceCsv.Write([1, 2], [1], [false, false], [1]));
}
