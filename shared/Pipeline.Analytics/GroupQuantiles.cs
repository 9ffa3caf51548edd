namespace Pipeline.Analytics;

/// <summary>
/// Interpolating quantiles (SQL's <c>PERCENTILE_CONT</c>, DuckDB's <c>quantile_cont</c>) of columns of values, per
/// group and for every row together, to the bit and without a sort: whole numbers in a narrow range are tallied and
/// the values at each quantile's ranks read off the running counts; other values are gathered side by side by group,
/// and <see cref="RadixSelect"/> finds the one or two values each quantile reads, within each group and then within all.
/// </summary>
public static class GroupQuantiles
{
    /// <summary>The largest group id: groups are segments' centroid ids, a handful of small numbers.</summary>
    public const int MaxGroup = 1 << 16;

    /// <summary>
    /// The <paramref name="fractions"/> quantiles of each of <paramref name="columns"/>, by group (0: every row; a group
    /// only when each column has a value in it): [column][fraction].
    /// </summary>
    /// <param name="groups">Each row's group, from 1 to <see cref="MaxGroup"/>.</param>
    /// <param name="columns">The values, one a row; NaN is a missing value, left out of its column's quantiles.</param>
    public static Dictionary<int, double[][]> Of(long[] groups, IReadOnlyList<double[]> columns, IReadOnlyList<double> fractions)
    {
        if (columns.Any(c => c.Length != groups.Length))
            throw new ArgumentException($"{groups.Length} groups but columns of {string.Join(", ", columns.Select(c => c.Length))} values", nameof(columns));
        var (least, greatest) = groups.Length == 0 ? (1, 0) : (groups.Min(), groups.Max());
        if (least < 1 || greatest > MaxGroup)
            throw new ArgumentException($"group ids must be from 1 to {MaxGroup}", nameof(groups));
        var slots = (int)greatest + 1;

        // [column][group] → the column's quantiles in that group (null when it has no value there); slot 0 is everyone.
        var byColumn = new double[]?[columns.Count][];
        Parallel.For(0, columns.Count, c => byColumn[c] = OfColumn(groups, columns[c], slots, fractions));

        var quantiles = new Dictionary<int, double[][]>();
        for (var group = 0; group < slots; group++)
            if (byColumn.All(column => column[group] is not null))
                quantiles[group] = [.. byColumn.Select(column => column[group]!)];
        return quantiles;
    }

    /// <summary>At most this many tallies (groups × distinct whole numbers) are counted instead of selecting.</summary>
    private const int MaxTallies = 1 << 22;

    private static double[]?[] OfColumn(long[] groups, double[] values, int slots, IReadOnlyList<double> fractions) =>
        WholeNumbers(values) is { } range && (long)range.Width * slots <= MaxTallies
            ? Tallied(groups, values, slots, range.Least, range.Width, fractions)
            : Gathered(groups, values, slots, fractions);

    /// <summary>The least value and how many whole numbers reach the greatest, when every value (NaN aside) is whole; else null.</summary>
    private static (double Least, int Width)? WholeNumbers(double[] values)
    {
        var (least, greatest) = (double.PositiveInfinity, double.NegativeInfinity);
        foreach (var value in values)
        {
            if (double.IsNaN(value)) continue;
            // −0 would come back as +0 from a tally.
            if (value != Math.Floor(value) || (value == 0 && double.IsNegative(value))) return null;
            (least, greatest) = (Math.Min(least, value), Math.Max(greatest, value));
        }
        if (least > greatest) return (0, 1);
        return greatest - least < MaxTallies ? (least, (int)(greatest - least) + 1) : null;
    }

    /// <summary>
    /// Whole numbers in a narrow range (days, orders): each group's count of each value, then the values at the ranks
    /// read off the running counts — one pass, no gathering.
    /// </summary>
    private static double[]?[] Tallied(long[] groups, double[] values, int slots, double least, int width, IReadOnlyList<double> fractions)
    {
        var tallies = new int[slots * width];
        for (var i = 0; i < values.Length; i++)
            if (!double.IsNaN(values[i])) tallies[groups[i] * width + (int)(values[i] - least)]++;
        var everyone = tallies.AsSpan(0, width); // group 0 has no rows of its own: it gathers every group's tallies
        for (var group = 1; group < slots; group++)
            for (var v = 0; v < width; v++) everyone[v] += tallies[group * width + v];

        var quantiles = new double[]?[slots];
        for (var group = 0; group < slots; group++)
        {
            var row = new ReadOnlyMemory<int>(tallies, group * width, width);
            var count = 0;
            foreach (var tally in row.Span) count += tally;
            quantiles[group] = Interpolated(count, fractions, positions => ValuesAt(row.Span, least, positions));
        }
        return quantiles;
    }

    /// <summary>
    /// The values sorting <paramref name="values"/> (one group, no NaN) would put at sorted <paramref name="positions"/>
    /// (ascending), counted and read off the running counts as a group's are, when they are whole numbers in a range
    /// narrow enough to count; else null (then a selection will do).
    /// </summary>
    internal static double[]? WholeNumbersAt(double[] values, IReadOnlyList<int> positions)
    {
        if (WholeNumbers(values) is not { } range) return null;
        var tallies = new int[range.Width];
        foreach (var value in values) tallies[(int)(value - range.Least)]++;
        return ValuesAt(tallies, range.Least, positions);
    }

    /// <summary>The values at sorted <paramref name="positions"/> (ascending) of the values <paramref name="tallies"/> counts.</summary>
    private static double[] ValuesAt(ReadOnlySpan<int> tallies, double least, IReadOnlyList<int> positions)
    {
        var values = new double[positions.Count];
        var (before, p) = (0L, 0);
        for (var v = 0; v < tallies.Length && p < positions.Count; v++)
        {
            before += tallies[v];
            while (p < positions.Count && positions[p] < before) values[p++] = least + v;
        }
        return values;
    }

    /// <summary>Any other values: each group's gathered side by side, and the values at the ranks selected among them.</summary>
    private static double[]?[] Gathered(long[] groups, double[] values, int slots, IReadOnlyList<double> fractions)
    {
        // Counted first, then placed.
        var counts = new int[slots];
        for (var i = 0; i < values.Length; i++)
            if (!double.IsNaN(values[i])) counts[groups[i]]++;
        var starts = new int[slots + 1];
        for (var group = 0; group < slots; group++) starts[group + 1] = starts[group] + counts[group];
        var next = starts[..slots];
        var gathered = new double[starts[slots]];
        for (var i = 0; i < values.Length; i++)
            if (!double.IsNaN(values[i])) gathered[next[groups[i]]++] = values[i];

        var quantiles = new double[]?[slots];
        for (var group = 1; group < slots; group++)
        {
            var own = gathered.AsMemory(starts[group], counts[group]);
            quantiles[group] = Interpolated(own.Length, fractions, positions => RadixSelect.SelectKeepingValues(own.Span, positions));
        }
        // Every selection above only reordered its own group's values: all of them together are still every value.
        quantiles[0] = Interpolated(gathered.Length, fractions, positions => RadixSelect.SelectKeepingValues(gathered, positions));
        return quantiles;
    }

    /// <summary>
    /// quantile_cont of <paramref name="count"/> values, given the values at sorted positions (ascending); null when
    /// there is none.
    /// </summary>
    private static double[]? Interpolated(int count, IReadOnlyList<double> fractions, Func<List<int>, double[]> valuesAt)
    {
        if (count == 0) return null;
        var ranks = fractions.Select(f => Ranks(count, f)).ToList();
        var positions = ranks.SelectMany(r => new[] { r.Low, r.High }).Distinct().Order().ToList();
        var selected = valuesAt(positions);
        double At(int rank) => selected[positions.IndexOf(rank)];
        // quantile_cont's interpolation of doubles, written as DuckDB writes it: lo × (1 − d) + hi × d, d = RN − FRN.
        return [.. ranks.Select(r => r.Low == r.High ? At(r.Low) : At(r.Low) * (1.0 - (r.Position - r.Low)) + At(r.High) * (r.Position - r.Low))];
    }

    /// <summary>quantile_cont's position RN = (n − 1) × q and the ranks FRN = floor(RN), CRN = ceil(RN) it reads.</summary>
    private static (double Position, int Low, int High) Ranks(int count, double fraction)
    {
        var position = (count - 1) * fraction;
        return (position, (int)Math.Floor(position), (int)Math.Ceiling(position));
    }
}
