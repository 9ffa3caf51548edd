using Pipeline.Analytics;

namespace Pipeline.Tests.Analytics;

public class RadixSelectTests
{
    [Fact]
    public void Selects_what_a_comparison_sort_puts_at_each_position()
    {
        var random = new Random(3);
        // Whole numbers with many ties (days, orders), spends with cents, negatives, both zeros, extremes.
        double[] values =
        [
            .. Enumerable.Range(0, 50_000).Select(_ => (double)random.Next(0, 1_500)),
            .. Enumerable.Range(0, 50_000).Select(_ => Math.Round(random.NextDouble() * 2_000, 2)),
            .. Enumerable.Range(0, 30_000).Select(_ => 1.0),
            .. Enumerable.Range(0, 1_000).Select(_ => -random.NextDouble() * 1e6),
            0.0, -0.0, double.MaxValue, double.MinValue, double.Epsilon, -double.Epsilon, double.PositiveInfinity, double.NegativeInfinity,
        ];
        random.Shuffle(values);
        var sorted = values.Order().ToArray();
        int[] positions = [0, 0, 1, 2, 3, 4, 5, .. Enumerable.Range(0, 1_001).Select(q => q * (sorted.Length - 1) / 1_000), sorted.Length - 1];
        positions = [.. positions.Order()];

        var selected = RadixSelect.Select(values, positions);

        Assert.Equal(positions.Select(p => BitConverter.DoubleToInt64Bits(sorted[p])), selected.Select(BitConverter.DoubleToInt64Bits));
    }

    [Fact]
    public void Selects_every_position_of_small_constant_and_empty_columns()
    {
        double[] few = [3, -0.0, 2, 0.0, 2];
        Assert.Equal([-0.0, 0.0, 2, 2, 3], RadixSelect.Select(few, [0, 1, 2, 3, 4]));
        Assert.Equal([2.0, 2.0], RadixSelect.Select(Enumerable.Repeat(2.0, 10_000).ToArray(), [0, 9_999]));
        Assert.Empty(RadixSelect.Select([], []));
        Assert.Throws<ArgumentException>(() => RadixSelect.Select([1.0, 2.0], [1, 0]));
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
        var days = Enumerable.Range(0, ids.Length).Select(i => values[i * 3]).Order().ToArray();
        Assert.Equal(Enumerable.Range(0, 1_001).Select(q => days[(int)Math.Round(q * 4_999.0 / 1_000)]), profile.DaysSinceLastOrder);

        var few = PopulationProfile.FromFeatures(new CustomerFeatures([1, 2, 3], [5, 1, 9.5, 2, 3, 1.5, 4, 2, 7]));
        Assert.Equal([2.0, 4, 5], few.DaysSinceLastOrder);
        Assert.Equal([1.5, 7, 9.5], few.AverageSpend);
    }

    /// <summary>
    /// Whole-number features are counted, not selected: the same doubles as sorting them, for negatives, a single value
    /// and a range too wide to count; a −0 or a fraction anywhere in a column sends it to the selection, which agrees.
    /// </summary>
    [Theory]
    [InlineData("narrow")]
    [InlineData("negative")]
    [InlineData("constant")]
    [InlineData("too wide to count")]
    [InlineData("one fraction")]
    [InlineData("minus zero")]
    public void Quantiles_of_whole_numbers_are_those_of_their_sorted_values(string column)
    {
        var random = new Random(column.Length);
        const int rows = 7_000;
        double[] values = column switch
        {
            "narrow" => [.. Enumerable.Range(0, rows).Select(_ => (double)random.Next(0, 1_500))],
            "negative" => [.. Enumerable.Range(0, rows).Select(_ => (double)random.Next(-40, 3))],
            "constant" => [.. Enumerable.Repeat(1.0, rows)],
            "too wide to count" => [.. Enumerable.Range(0, rows).Select(i => i == 0 ? 1e12 : (double)random.Next(0, 100))],
            "one fraction" => [.. Enumerable.Range(0, rows).Select(i => i == 5 ? 2.5 : (double)random.Next(0, 10))],
            _ => [.. Enumerable.Range(0, rows).Select(i => i % 7 == 0 ? -0.0 : (double)random.Next(0, 3))],
        };
        var ids = Enumerable.Range(1, rows).Select(i => (long)i).ToArray();
        var features = ids.SelectMany((_, i) => new[] { values[i], values[rows - 1 - i], Math.Round(random.NextDouble() * 900, 2) }).ToArray();

        var profile = PopulationProfile.FromFeatures(new CustomerFeatures(ids, features));

        var sorted = values.Order().ThenBy(v => double.IsNegative(v) ? 0 : 1).ToArray(); // −0 before +0, as the selection orders them
        var expected = Enumerable.Range(0, PopulationProfile.Quantiles + 1).Select(q => sorted[(int)Math.Round(q * (rows - 1.0) / PopulationProfile.Quantiles)])
            .Select(BitConverter.DoubleToInt64Bits).ToList();
        Assert.Equal(expected, profile.DaysSinceLastOrder.Select(BitConverter.DoubleToInt64Bits));
        Assert.Equal(expected, profile.CountOrders.Select(BitConverter.DoubleToInt64Bits));
    }
}
