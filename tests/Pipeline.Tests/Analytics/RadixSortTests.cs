using Pipeline.Analytics;

namespace Pipeline.Tests.Analytics;

public class RadixSortTests
{
    [Fact]
    public void Sorts_like_a_comparison_sort()
    {
        var random = new Random(3);
        // Whole numbers with many ties (days, orders), spends with cents, negatives, both zeros, extremes.
        double[] values =
        [
            .. Enumerable.Range(0, 50_000).Select(_ => (double)random.Next(0, 1_500)),
            .. Enumerable.Range(0, 50_000).Select(_ => Math.Round(random.NextDouble() * 2_000, 2)),
            .. Enumerable.Range(0, 1_000).Select(_ => -random.NextDouble() * 1e6),
            0.0, -0.0, double.MaxValue, double.MinValue, double.Epsilon, -double.Epsilon, double.PositiveInfinity, double.NegativeInfinity,
        ];
        var expected = values.Order().ToArray();

        RadixSort.Sort(values);

        Assert.Equal(expected, values);
    }

    [Fact]
    public void Sorts_constant_and_empty_columns()
    {
        double[] constant = [2, 2, 2];
        RadixSort.Sort(constant);
        Assert.Equal([2.0, 2.0, 2.0], constant);

        double[] empty = [];
        RadixSort.Sort(empty);
        Assert.Empty(empty);
    }

    [Fact]
    public void Quantiles_of_a_population_are_those_of_its_sorted_values()
    {
        var random = new Random(4);
        var ids = Enumerable.Range(1, 5_000).Select(i => (long)i).ToArray();
        var values = ids.SelectMany(_ => new[] { random.Next(0, 400), random.Next(1, 6), Math.Round(random.NextDouble() * 900, 2) }).ToArray();
        var profile = PopulationProfile.FromFeatures(new CustomerFeatures(ids, values));

        var spends = Enumerable.Range(0, ids.Length).Select(i => values[i * 3 + 2]).Order().ToArray();
        Assert.Equal(PopulationProfile.Quantiles + 1, profile.AverageSpend.Count);
        Assert.Equal(spends[0], profile.AverageSpend[0]);
        Assert.Equal(spends[2_500], profile.AverageSpend[500]);
        Assert.Equal(spends[^1], profile.AverageSpend[^1]);
    }
}
