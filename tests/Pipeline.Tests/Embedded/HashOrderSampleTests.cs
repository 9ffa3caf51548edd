using DuckDB.NET.Data;
using Pipeline.Embedded;

namespace Pipeline.Tests.Embedded;

/// <summary>
/// The chart's and the report's sample: each segment's first customers in hash order, drawn by ranking only the
/// customers under a hash bound, must be exactly the customers that ranking every customer gives.
/// </summary>
public sealed class HashOrderSampleTests : IDisposable
{
    private readonly DuckDBConnection _connection = DuckDb.Open(new EmbeddedOptions());

    /// <summary>200,000 customers: segment 1 holds nine in ten, segment 2 the rest but 40, segment 3 those 40.</summary>
    private const string Table = """
        (SELECT user_id, CASE WHEN user_id % 10 <> 0 THEN 1 WHEN user_id < 400 THEN 3 ELSE 2 END AS centroid_id
         FROM range(200000) AS t(user_id))
        """;

    public void Dispose() => _connection.Dispose();

    [Fact]
    public void The_bounded_sample_is_each_segments_first_customers_in_hash_order()
    {
        var sizes = Sizes();
        Assert.Equal(new Dictionary<int, long> { [1] = 180_000, [2] = 19_960, [3] = 40 }, sizes);
        // Segment 3 asks for more customers than it has: it gives all of them.
        var quotas = new Dictionary<int, long> { [1] = 2_000, [2] = 300, [3] = 60 };

        var sample = HashOrderSample.Read(_connection, Table, "user_id, centroid_id", sizes, quotas, Row, r => r.CentroidId);

        Assert.Equal(Ranked(quotas), sample);
        Assert.Equal([2_000, 300, 40], sample.CountBy(r => r.CentroidId).OrderBy(c => c.Key).Select(c => c.Value));
    }

    [Fact]
    public void When_the_bound_leaves_a_segment_short_the_sample_is_drawn_again_without_it()
    {
        // Sizes a hundred times too large make the bounds a hundred times too tight: segment 1 keeps about 30 of the
        // 2,000 customers it must give, and the sample is drawn again over everyone.
        var sizes = Sizes().ToDictionary(s => s.Key, s => s.Value * 100);
        var quotas = new Dictionary<int, long> { [1] = 2_000, [2] = 300, [3] = 40 };

        var sample = HashOrderSample.Read(_connection, Table, "user_id, centroid_id", sizes, quotas, Row, r => r.CentroidId);

        Assert.Equal(Ranked(quotas), sample);
    }

    private readonly record struct Customer(long UserId, int CentroidId);

    private static Customer Row(System.Data.Common.DbDataReader reader) => new(reader.GetInt64(0), reader.GetInt32(1));

    private Dictionary<int, long> Sizes()
    {
        using var command = DuckDb.Command(_connection, $"SELECT centroid_id, count(*) FROM {Table} GROUP BY ALL");
        using var reader = command.ExecuteReader();
        var sizes = new Dictionary<int, long>();
        while (reader.Read()) sizes[reader.GetInt32(0)] = reader.GetInt64(1);
        return sizes;
    }

    /// <summary>The reference: every customer ranked within its segment, the first <c>quota</c> kept.</summary>
    private List<Customer> Ranked(IReadOnlyDictionary<int, long> quotas)
    {
        using var command = DuckDb.Command(_connection, $"""
            SELECT user_id, centroid_id FROM (
                SELECT user_id, centroid_id, row_number() OVER (PARTITION BY centroid_id ORDER BY hash(user_id), user_id) AS draw FROM {Table})
            WHERE draw <= CASE centroid_id {string.Join(" ", quotas.Select(q => $"WHEN {q.Key} THEN {q.Value}"))} END
            ORDER BY centroid_id, draw
            """);
        using var reader = command.ExecuteReader();
        var rows = new List<Customer>();
        while (reader.Read()) rows.Add(Row(reader));
        return rows;
    }
}
