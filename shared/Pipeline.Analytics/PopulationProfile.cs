using Pipeline.Core;

namespace Pipeline.Analytics;

/// <summary>
/// The customer population a centroid is scored against: each feature's sorted values or quantiles (BigQuery's
/// APPROX_QUANTILES(x, 1000), or every value in process).
/// </summary>
public sealed record PopulationProfile(
    IReadOnlyList<double> DaysSinceLastOrder,
    IReadOnlyList<double> CountOrders,
    IReadOnlyList<double> AverageSpend)
{
    /// <summary>How many quantiles an in-process profile keeps: enough for a percentile rank to 0.1 %.</summary>
    public const int Quantiles = 1000;

    public static PopulationProfile FromFeatures(CustomerFeatures customers)
    {
        // Three independent selections from millions of values: one core each.
        var positions = QuantilePositions(customers.Count);
        var quantiles = new double[CustomerFeatures.Dimensions][];
        Parallel.For(0, CustomerFeatures.Dimensions, f =>
            quantiles[f] = SortedValuesAt(customers.Column(f), positions));
        return new(quantiles[0], quantiles[1], quantiles[2]);
    }

    /// <summary>
    /// Recency, frequency and monetary percentile ranks (0–1, 1 best) of a point. Recency is better when fewer
    /// days have passed. Days and orders are whole numbers in the data, so a centroid's value is rounded first:
    /// a centroid of one-order customers (1.02 orders) ranks among the customers with one order.
    /// </summary>
    public (double Recency, double Frequency, double Monetary) Rank(double daysSinceLastOrder, double countOrders, double averageSpend) =>
        (1 - PercentileRank(DaysSinceLastOrder, Math.Round(daysSinceLastOrder)),
         PercentileRank(CountOrders, Math.Round(countOrders)),
         PercentileRank(AverageSpend, averageSpend));

    /// <summary>Scores 1–5 from percentile ranks, as quintiles.</summary>
    public RfmScore Score(double daysSinceLastOrder, double countOrders, double averageSpend)
    {
        var (r, f, m) = Rank(daysSinceLastOrder, countOrders, averageSpend);
        return new RfmScore(Quintile(r), Quintile(f), Quintile(m));
    }

    private static int Quintile(double rank) => Math.Clamp(1 + (int)Math.Floor(rank * 5), 1, 5);

    /// <summary>The share of the population below the value, counting ties as half (the mid-rank).</summary>
    public static double PercentileRank(IReadOnlyList<double> sorted, double value)
    {
        if (sorted.Count == 0) return 0.5;
        var below = LowerBound(sorted, value);
        var notAbove = UpperBound(sorted, value);
        return (below + 0.5 * (notAbove - below)) / sorted.Count;
    }

    /// <summary>The quantiles' positions in sorted order (every position, when there are few values).</summary>
    private static int[] QuantilePositions(int count) => count <= Quantiles + 1
        ? [.. Enumerable.Range(0, count)]
        : [.. Enumerable.Range(0, Quantiles + 1).Select(q => (int)Math.Round((double)q * (count - 1) / Quantiles))];

    /// <summary>
    /// The values sorting <paramref name="column"/> would put at <paramref name="positions"/>: a whole-number feature
    /// (days, orders) tallied and read off the running counts as <see cref="GroupQuantiles"/> does, any other selected.
    /// </summary>
    private static double[] SortedValuesAt(double[] column, int[] positions) =>
        GroupQuantiles.WholeNumbersAt(column, positions) ?? RadixSelect.Select(column, positions);

    private static int LowerBound(IReadOnlyList<double> sorted, double value)
    {
        int low = 0, high = sorted.Count;
        while (low < high)
        {
            var mid = (low + high) / 2;
            if (sorted[mid] < value) low = mid + 1; else high = mid;
        }
        return low;
    }

    private static int UpperBound(IReadOnlyList<double> sorted, double value)
    {
        int low = 0, high = sorted.Count;
        while (low < high)
        {
            var mid = (low + high) / 2;
            if (sorted[mid] <= value) low = mid + 1; else high = mid;
        }
        return low;
    }
}
