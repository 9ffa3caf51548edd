using DuckDB.NET.Data;
using Pipeline.Embedded;
using Pipeline.Reports;

namespace Pipeline.Tests.Reports;

/// <summary>
/// The report's segment figures, summed in process from the arrays its medians read, against the SQL they replace:
/// counts and order sums exactly, revenue to the last bits a different order of addition changes, medians to the bit.
/// </summary>
public sealed class RunReportFiguresTests : IDisposable
{
    private readonly DuckDBConnection _connection = DuckDb.Open(new EmbeddedOptions());

    /// <summary>
    /// 20,000 customers in four segments; segment 3 has a customer without an average spend, segment 4 one customer
    /// with neither orders nor spend (SQL's SUM leaves nulls out, and a sum of nothing is null).
    /// </summary>
    private const string Predictions = """
        CREATE TABLE predictions AS
        SELECT user_id,
               CASE WHEN user_id = 5 THEN 4 ELSE 1 + user_id % 3 END AS centroid_id,
               CASE WHEN user_id = 5 THEN 'Few' ELSE 'Segment ' || (1 + user_id % 3) END AS segment,
               (hash(user_id) % 400)::BIGINT AS days_since_last_order,
               CASE WHEN user_id = 5 THEN NULL ELSE (1 + hash(user_id * 3) % 5)::BIGINT END AS count_orders,
               CASE WHEN user_id IN (5, 302) THEN NULL ELSE round((hash(user_id * 7) % 60000) / 100.0, 2) / (1 + hash(user_id * 11) % 3) END AS average_spend
        FROM range(1, 20001) AS t(user_id)
        """;

    public RunReportFiguresTests() => DuckDb.Execute(_connection, Predictions);

    public void Dispose() => _connection.Dispose();

    [Fact]
    public void Each_segments_figures_and_the_populations_are_the_sql_sums_and_medians()
    {
        var (population, segments) = RunReportReader.ReadFigures(_connection, "predictions");

        var expected = new List<SegmentFigures>();
        using (var command = DuckDb.Command(_connection, """
            SELECT grouping(centroid_id) = 1, centroid_id, any_value(segment), count(*),
                   sum(count_orders * average_spend)::DOUBLE, sum(count_orders)::DOUBLE,
                   quantile_cont(days_since_last_order::DOUBLE, 0.5), quantile_cont(count_orders::DOUBLE, 0.5), quantile_cont(average_spend, 0.5)
            FROM predictions
            GROUP BY GROUPING SETS ((centroid_id), ())
            ORDER BY grouping(centroid_id) DESC, centroid_id
            """))
        using (var reader = command.ExecuteReader())
            while (reader.Read())
            {
                double Number(int column) => reader.IsDBNull(column) ? double.NaN : reader.GetDouble(column);
                var everyone = reader.GetBoolean(0);
                // A group's medians are shown only when each feature has a value in it (GroupQuantiles.Of).
                var medians = new[] { Number(6), Number(7), Number(8) };
                if (medians.Any(double.IsNaN)) medians = [double.NaN, double.NaN, double.NaN];
                expected.Add(new SegmentFigures(everyone ? 0 : reader.GetInt32(1), everyone ? "All customers" : reader.GetString(2), reader.GetInt64(3),
                    Number(4), Number(5), medians[0], medians[1], medians[2]));
            }

        var actual = new[] { population! }.Concat(segments).ToList();
        Assert.Equal(expected.Select(e => (e.CentroidId, e.Segment, e.Customers, e.Orders, e.MedianDaysSinceLastOrder, e.MedianCountOrders, e.MedianAverageSpend)),
            actual.Select(a => (a.CentroidId, a.Segment, a.Customers, a.Orders, a.MedianDaysSinceLastOrder, a.MedianCountOrders, a.MedianAverageSpend)));
        Assert.All(expected.Zip(actual), pair =>
        {
            if (double.IsNaN(pair.First.Revenue)) Assert.True(double.IsNaN(pair.Second.Revenue));
            else Assert.Equal(pair.First.Revenue, pair.Second.Revenue, 1e-12 * Math.Abs(pair.First.Revenue));
        });
        var few = actual.Single(a => a.CentroidId == 4);
        Assert.True(double.IsNaN(few.Revenue) && double.IsNaN(few.Orders), "a segment with nothing to sum has no sums");
        Assert.Equal(3, segments.Count(s => s.CentroidId <= 3 && !double.IsNaN(s.Revenue)));
    }

    [Fact]
    public void No_customers_have_no_population_and_no_segments()
    {
        var (population, segments) = RunReportReader.ReadFigures(_connection, "(SELECT * FROM predictions WHERE false)");

        Assert.Null(population);
        Assert.Empty(segments);
    }
}
