using Pipeline.Core;

namespace Pipeline.Analytics;

/// <summary>
/// A model as an engine produced it, before ids and names: centroids in the engine's order (index i is the
/// engine's centroid id i + 1), in original units, features in <see cref="Features.All"/> order.
/// </summary>
public sealed record ModelDraft(
    string RunId,
    string Engine,
    string KSelection,
    Standardization Standardization,
    IReadOnlyList<double[]> Centroids,
    ModelMetrics Metrics,
    int Iterations,
    long TrainingCustomers,
    long TestCustomers,
    int Seed);

/// <summary>
/// Turns an engine's draft into the run's <see cref="SegmentModel"/>, the same way for every engine: stable ids
/// (matched to the previous completed run's centroids, so "segment 3" keeps meaning the same kind of customer),
/// RFM scores against the population, and a segment name for each centroid, unique within the run.
/// </summary>
public static class SegmentModelBuilder
{
    public static SegmentModel Build(ModelDraft draft, PopulationProfile population, SegmentModel? previous)
    {
        var k = draft.Centroids.Count;
        var standardized = draft.Centroids.Select(c => Standardize(c, draft.Standardization)).ToList();
        var ids = AssignIds(standardized, draft.Standardization, previous);
        var names = AssignNames(draft.Centroids, population);

        var centroids = Enumerable.Range(0, k)
            .Select(i =>
            {
                var c = draft.Centroids[i];
                return new Centroid(ids[i], names[i], c[0], c[1], c[2], population.Score(c[0], c[1], c[2]), EngineCentroidId: i + 1);
            })
            .OrderBy(c => c.CentroidId)
            .ToList();

        return new SegmentModel(draft.RunId, draft.Engine, k, draft.KSelection, Features.All, draft.Standardization,
            centroids, draft.Metrics, draft.Iterations, draft.TrainingCustomers, draft.TestCustomers, draft.Seed,
            MatchedToRun: previous is null ? null : previous.RunId);
    }

    /// <summary>
    /// Stable ids 1..k: each centroid takes the id of the previous run's nearest centroid (least total distance in
    /// this run's standardized space, among previous ids that fit in 1..k); the rest take the free ids, best
    /// customers first. Without a previous run, ids follow customer value: 1 is the most valuable segment.
    /// </summary>
    private static int[] AssignIds(IReadOnlyList<double[]> standardized, Standardization standardization, SegmentModel? previous)
    {
        var k = standardized.Count;
        var ids = new int[k];
        var candidates = previous?.Centroids.Where(c => c.CentroidId <= k).ToList() ?? [];
        if (candidates.Count > 0)
        {
            var cost = new double[k, candidates.Count];
            for (var i = 0; i < k; i++)
                for (var j = 0; j < candidates.Count; j++)
                {
                    var old = candidates[j];
                    cost[i, j] = KMeans.Distance2(standardized[i],
                        Standardize([old.DaysSinceLastOrder, old.CountOrders, old.AverageSpend], standardization));
                }
            var match = AssignmentSolver.Solve(cost);
            for (var i = 0; i < k; i++) ids[i] = match[i] >= 0 ? candidates[match[i]].CentroidId : 0;
        }

        var free = new Queue<int>(Enumerable.Range(1, k).Where(id => !ids.Contains(id)));
        foreach (var i in Enumerable.Range(0, k).Where(i => ids[i] == 0).OrderByDescending(i => Value(standardized[i])).ThenBy(i => i))
            ids[i] = free.Dequeue();
        return ids;
    }

    /// <summary>Recent, frequent, high-spending customers are worth more.</summary>
    private static double Value(double[] standardized) => -standardized[0] + standardized[1] + standardized[2];

    /// <summary>
    /// Each centroid gets the catalog segment nearest its continuous RFM scores, each name once, under the naming
    /// rule of <see cref="SegmentCatalog.Lapsed"/>: the centroids with lapsed names are the least recent ones. For
    /// every split (the d least recent centroids take lapsed names, the rest the others) the Hungarian algorithm
    /// pairs each side with its names; the split with the least total distance wins, so the rule costs the
    /// naming as little as it can. Past a side's catalog size, names repeat with a number.
    /// </summary>
    private static string[] AssignNames(IReadOnlyList<double[]> centroids, PopulationProfile population)
    {
        var k = centroids.Count;
        var scores = centroids.Select(c =>
        {
            var (r, f, m) = population.Rank(c[0], c[1], c[2]);
            return new[] { 1 + 4 * r, 1 + 4 * f, 1 + 4 * m };
        }).ToArray();
        var lapsedNames = SegmentCatalog.All.Where(s => SegmentCatalog.Lapsed.Contains(s.Name)).ToList();
        var activeNames = SegmentCatalog.All.Where(s => !SegmentCatalog.Lapsed.Contains(s.Name)).ToList();
        var leastRecentFirst = Enumerable.Range(0, k).OrderByDescending(i => centroids[i][0]).ThenBy(i => i).ToArray();

        string[]? best = null;
        var bestCost = double.PositiveInfinity;
        for (var lapsed = 0; lapsed <= k; lapsed++)
        {
            var names = new string[k];
            var cost = Name(leastRecentFirst[..lapsed], lapsedNames, scores, names) + Name(leastRecentFirst[lapsed..], activeNames, scores, names);
            if (cost < bestCost - 1e-9)
            {
                bestCost = cost;
                best = names;
            }
        }
        return best!;
    }

    /// <summary>Names the given centroids from one side of the catalog (Hungarian); returns the total distance.</summary>
    private static double Name(int[] rows, IReadOnlyList<RfmSegment> catalog, double[][] scores, string[] names)
    {
        if (rows.Length == 0) return 0;
        var copies = (rows.Length + catalog.Count - 1) / catalog.Count;
        var options = Enumerable.Range(0, copies)
            .SelectMany(copy => catalog.Select(s => (Segment: s, Name: copy == 0 ? s.Name : $"{s.Name} {copy + 1}")))
            .ToList();
        var cost = new double[rows.Length, options.Count];
        for (var i = 0; i < rows.Length; i++)
        {
            var score = scores[rows[i]];
            for (var j = 0; j < options.Count; j++)
            {
                var s = options[j].Segment;
                cost[i, j] = Square(score[0] - s.Recency) + Square(score[1] - s.Frequency) + Square(score[2] - s.Monetary)
                             + j / catalog.Count * 1000.0; // a numbered copy only when every plain name of the side is taken
            }
        }
        var match = AssignmentSolver.Solve(cost);
        var total = 0.0;
        for (var i = 0; i < rows.Length; i++)
        {
            names[rows[i]] = options[match[i]].Name;
            total += cost[i, match[i]];
        }
        return total;
    }

    private static double Square(double x) => x * x;

    private static double[] Standardize(IReadOnlyList<double> point, Standardization standardization) =>
        Enumerable.Range(0, point.Count).Select(f => standardization.Standardize(f, point[f])).ToArray();
}
