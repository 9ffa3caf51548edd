namespace Pipeline.Analytics;

/// <summary>
/// Interpolating quantiles (SQL's <c>PERCENTILE_CONT</c>, DuckDB's <c>quantile_cont</c>) of columns of values, per
/// group and for every row together, to the bit and without a sort: each group's values are gathered side by side,
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
        if (groups.Length > 0 && (groups.Min() < 1 || groups.Max() > MaxGroup))
            throw new ArgumentException($"group ids must be from 1 to {MaxGroup}", nameof(groups));
        var slots = groups.Length == 0 ? 1 : (int)groups.Max() + 1;

        // [column][group] → the column's quantiles in that group (null when it has no value there); slot 0 is everyone.
        var byColumn = new double[]?[columns.Count][];
        Parallel.For(0, columns.Count, c => byColumn[c] = OfColumn(groups, columns[c], slots, fractions));

        var quantiles = new Dictionary<int, double[][]>();
        for (var group = 0; group < slots; group++)
            if (byColumn.All(column => column[group] is not null))
                quantiles[group] = [.. byColumn.Select(column => column[group]!)];
        return quantiles;
    }

    private static double[]?[] OfColumn(long[] groups, double[] values, int slots, IReadOnlyList<double> fractions)
    {
        // Each group's values side by side, in group order: counted first, then placed.
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
            quantiles[group] = Interpolated(gathered.AsSpan(starts[group], counts[group]), fractions);
        // Every selection above only reordered its own group's values: all of them together are still every value.
        quantiles[0] = Interpolated(gathered, fractions);
        return quantiles;
    }

    /// <summary>quantile_cont of <paramref name="values"/> (reordered here), or null when there is none.</summary>
    private static double[]? Interpolated(Span<double> values, IReadOnlyList<double> fractions)
    {
        if (values.IsEmpty) return null;
        var count = values.Length;
        var ranks = fractions.Select(f => Ranks(count, f)).ToList();
        var positions = ranks.SelectMany(r => new[] { r.Low, r.High }).Distinct().Order().ToList();
        var selected = RadixSelect.SelectKeepingValues(values, positions);
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
