using System.Globalization;

namespace Pipeline.Core;

/// <summary>One row of <see cref="ProfileSql.Segments"/>: a segment's totals and the rows that did not join.</summary>
public sealed record SegmentFacts(
    int CentroidId,
    long Customers,
    long Orders,
    long Items,
    double Revenue,
    long ItemsWithoutUser,
    long CustomersWithoutUser,
    long ItemsWithoutProduct,
    double ProductRevenue,
    double Cost);

/// <summary>A cell of <see cref="ProfileSql.People"/> or <see cref="ProfileSql.Catalogue"/>.</summary>
/// <param name="Revenue">The cell's revenue (catalogue cells; 0 for people cells).</param>
public sealed record CellFacts(int CentroidId, string Dimension, string Value, long Customers, double Revenue);

/// <summary>
/// One row of <see cref="ProfileSql.Catalogue"/>: with a <paramref name="Dimension"/>, a catalogue cell (its customers
/// and revenue); without, a segment's items that found no product and the revenue and cost of those that did.
/// </summary>
public sealed record CatalogueRow(int CentroidId, string? Dimension, string? Value, long Customers, double Revenue,
    long ItemsWithoutProduct, double ProductRevenue, double Cost);

/// <summary>
/// What a backend's profile queries returned, and which tables they read.
/// </summary>
/// <param name="Quartiles">Per centroid id, and for the whole population under id 0.</param>
/// <param name="People">Null when there was no users table.</param>
/// <param name="Catalogue">Null when there was no products table.</param>
/// <param name="HowToAdd">How a user of this backend supplies a missing table, for the profile's <c>lacking</c> notes.</param>
public sealed record ProfileFacts(
    IReadOnlyList<SegmentFacts> Segments,
    IReadOnlyDictionary<int, RfmQuartiles> Quartiles,
    IReadOnlyList<CellFacts>? People,
    IReadOnlyList<CellFacts>? Catalogue,
    string? UsersSource,
    string? ProductsSource,
    string HowToAdd)
{
    /// <summary>
    /// The facts from the profile queries' rows: <see cref="ProfileSql.Segments"/> (whose product columns are 0) with
    /// each segment's product totals from <see cref="ProfileSql.Catalogue"/>, whose other rows are the catalogue cells.
    /// </summary>
    /// <param name="catalogue">Null when there was no products table.</param>
    public static ProfileFacts Combine(IReadOnlyList<SegmentFacts> segments, IReadOnlyDictionary<int, RfmQuartiles> quartiles,
        IReadOnlyList<CellFacts>? people, IReadOnlyList<CatalogueRow>? catalogue, string? usersSource, string? productsSource, string howToAdd)
    {
        if (catalogue is null)
            return new ProfileFacts(segments, quartiles, people, null, usersSource, productsSource, howToAdd);
        var totals = catalogue.Where(r => r.Dimension is null).ToDictionary(r => r.CentroidId);
        var withProducts = segments.Select(s => totals.GetValueOrDefault(s.CentroidId) is { } t
            ? s with { ItemsWithoutProduct = t.ItemsWithoutProduct, ProductRevenue = t.ProductRevenue, Cost = t.Cost }
            : s).ToList();
        var cells = catalogue.Where(r => r.Dimension is not null)
            .Select(r => new CellFacts(r.CentroidId, r.Dimension!, r.Value!, r.Customers, r.Revenue)).ToList();
        return new ProfileFacts(withProducts, quartiles, people, cells, usersSource, productsSource, howToAdd);
    }
}

/// <summary>
/// Turns the profile queries' aggregates into <see cref="ProfilesDocument"/>, the same way for both backends: shares
/// within each profile, indexes against the population (the sum of the segments, which partition the customers),
/// the largest values of each breakdown, and suppression of every cell that describes too few customers — with a
/// second cell suppressed where the first could otherwise be worked out by subtraction.
/// </summary>
public static class ProfileAssembler
{
    public const string PopulationName = "all customers";

    public static ProfilesDocument Build(string runId, SegmentModel model, ProfileFacts facts, ProfileOptions options)
    {
        var byId = facts.Segments.ToDictionary(s => s.CentroidId);
        var segments = model.Centroids.OrderBy(c => c.CentroidId)
            .Select(c => byId.GetValueOrDefault(c.CentroidId) ?? new SegmentFacts(c.CentroidId, 0, 0, 0, 0, 0, 0, 0, 0, 0))
            .ToList();
        var population = new SegmentFacts(0,
            segments.Sum(s => s.Customers), segments.Sum(s => s.Orders), segments.Sum(s => s.Items), segments.Sum(s => s.Revenue),
            segments.Sum(s => s.ItemsWithoutUser), segments.Sum(s => s.CustomersWithoutUser), segments.Sum(s => s.ItemsWithoutProduct),
            segments.Sum(s => s.ProductRevenue), segments.Sum(s => s.Cost));

        var people = Pool(facts.People);
        var catalogue = Pool(facts.Catalogue);
        var context = new Context(population, people, catalogue, facts, options);

        var coverage = new ProfileCoverage(facts.UsersSource, facts.ProductsSource, population.Items,
            population.ItemsWithoutUser, population.ItemsWithoutProduct, population.CustomersWithoutUser);
        return new ProfilesDocument(runId, options.MinimumCellCustomers, coverage, Lacking(coverage, facts.HowToAdd),
            context.Profile(null, PopulationName, population),
            model.Centroids.OrderBy(c => c.CentroidId).Zip(segments, (c, s) => context.Profile(c.CentroidId, c.Segment, s)).ToList());
    }

    /// <summary>The population's cells: each segment's summed (customers partition into segments, so sums are exact).</summary>
    private static List<CellFacts>? Pool(IReadOnlyList<CellFacts>? cells) => cells?
        .GroupBy(c => (c.Dimension, c.Value))
        .Select(g => new CellFacts(0, g.Key.Dimension, g.Key.Value, g.Sum(c => c.Customers), g.Sum(c => c.Revenue)))
        .ToList();

    private static List<string> Lacking(ProfileCoverage coverage, string howToAdd)
    {
        var lacking = new List<string>();
        var culture = CultureInfo.InvariantCulture;
        if (coverage.Users is null)
            lacking.Add($"no users table: gender, age bands, countries and traffic sources are not profiled ({howToAdd})");
        if (coverage.Products is null)
            lacking.Add($"no products table: departments, categories, brands and margin are not profiled ({howToAdd})");
        if (coverage.ItemsWithoutUser > 0)
            lacking.Add(string.Create(culture,
                $"{coverage.ItemsWithoutUser:N0} of {coverage.ItemsCounted:N0} counted order items ({coverage.CustomersWithoutUser:N0} customers) have a user_id that is not in users: they count in revenue and RFM, not in the demographics"));
        if (coverage.ItemsWithoutProduct > 0)
            lacking.Add(string.Create(culture,
                $"{coverage.ItemsWithoutProduct:N0} of {coverage.ItemsCounted:N0} counted order items have a product_id that is not in products: they count in revenue and RFM, not in departments, categories, brands or margin"));
        return lacking;
    }

    private sealed class Context(
        SegmentFacts population, List<CellFacts>? people, List<CellFacts>? catalogue, ProfileFacts facts, ProfileOptions options)
    {
        public SegmentProfile Profile(int? centroidId, string name, SegmentFacts s)
        {
            var id = centroidId ?? 0;
            var customerShare = Ratio(s.Customers, population.Customers);
            var revenueShare = Ratio(s.Revenue, population.Revenue);
            var q = facts.Quartiles.GetValueOrDefault(id) ?? new RfmQuartiles(new(0, 0, 0), new(0, 0, 0), new(0, 0, 0));
            static Quartiles Rounded(Quartiles x) => new(Round(x.Q1), Round(x.Median), Round(x.Q3));
            var quartiles = new RfmQuartiles(Rounded(q.DaysSinceLastOrder), Rounded(q.CountOrders), Rounded(q.AverageSpend));
            ProfileBreakdown? People(string dimension) => people is null ? null
                : Breakdown(ProfileMeasure.Customers, Cells(centroidId is null ? people : facts.People!, centroidId, dimension), Cells(people, 0, dimension), centroidId is null);
            ProfileBreakdown? Catalogue(string dimension) => catalogue is null ? null
                : Breakdown(ProfileMeasure.Revenue, Cells(centroidId is null ? catalogue : facts.Catalogue!, centroidId, dimension), Cells(catalogue, 0, dimension), centroidId is null);
            var margin = catalogue is null ? null : new MarginProfile(
                Round(s.ProductRevenue), Round(s.Cost), Round(s.ProductRevenue - s.Cost),
                Round(Ratio(s.ProductRevenue - s.Cost, s.Customers)), Round(Ratio(s.ProductRevenue - s.Cost, s.ProductRevenue), 4));
            return new SegmentProfile(centroidId, name, s.Customers, Round(customerShare, 4), s.Orders, Round(s.Revenue),
                Round(revenueShare, 4), Round(Ratio(revenueShare, customerShare), 3), Round(Ratio(s.Revenue, s.Orders)), quartiles,
                People("gender"), People("age_band"), People("country"), People("traffic_source"),
                Catalogue("department"), Catalogue("category"), Catalogue("brand"), margin);
        }

        private static List<CellFacts> Cells(IReadOnlyList<CellFacts> cells, int? centroidId, string dimension) =>
            cells.Where(c => c.CentroidId == (centroidId ?? 0) && c.Dimension == dimension).ToList();

        private ProfileBreakdown Breakdown(ProfileMeasure measure, List<CellFacts> cells, List<CellFacts> populationCells, bool isPopulation)
        {
            double Measure(CellFacts c) => measure == ProfileMeasure.Customers ? c.Customers : c.Revenue;
            var total = cells.Sum(Measure);
            var populationTotal = populationCells.Sum(Measure);
            var populationShares = populationCells.ToDictionary(c => c.Value, c => Ratio(Measure(c), populationTotal), StringComparer.Ordinal);

            var ranked = cells.OrderByDescending(Measure).ThenBy(c => c.Value, StringComparer.Ordinal).ToList();
            var suppressed = ranked.Where(c => c.Customers < options.MinimumCellCustomers).Select(c => c.Value).ToHashSet(StringComparer.Ordinal);
            var listed = ranked.Take(options.TopValues).ToList();
            // One hidden cell among published ones could be worked out as the total minus the others: hide the
            // smallest published cell too, so that at least two cells share the remainder.
            if (suppressed.Count == 1 && listed.Count == ranked.Count && listed.Count > 1)
                suppressed.Add(listed.Where(c => !suppressed.Contains(c.Value)).MinBy(Measure)!.Value);

            var shown = listed.Where(c => !suppressed.Contains(c.Value))
                .Select(c =>
                {
                    var share = Ratio(Measure(c), total);
                    var index = isPopulation ? (double?)null : Ratio(share, populationShares.GetValueOrDefault(c.Value));
                    return new ProfileCell(c.Value, c.Customers, Round(share, 4),
                        measure == ProfileMeasure.Revenue ? Round(c.Revenue) : null, index is null ? null : Round(index.Value, 3), false);
                });
            var hidden = listed.Where(c => suppressed.Contains(c.Value)).OrderBy(c => c.Value, StringComparer.Ordinal)
                .Select(c => new ProfileCell(c.Value, null, null, null, null, true));
            return new ProfileBreakdown(measure, ranked.Count, suppressed.Count, [.. shown, .. hidden]);
        }
    }

    private static double Ratio(double part, double whole) => whole == 0 ? 0 : part / whole;

    private static double Round(double value, int decimals = 2) => Math.Round(value, decimals, MidpointRounding.AwayFromZero);
}
