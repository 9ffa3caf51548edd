using System.Globalization;
using CsCheck;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Pipeline.Analytics;
using Pipeline.Core;
using Pipeline.Embedded;

namespace Pipeline.Tests.Analytics;

/// <summary>
/// Properties of the parts with math in them, over random inputs (CsCheck; a failure prints the seed that
/// reproduces it). Iterations are bounded so the whole class runs in seconds. RELIABILITY.md, "Properties", counts
/// them from <see cref="Iterations"/>.
/// </summary>
public sealed class PropertyTests : IDisposable
{
    /// <summary>Random cases per property; the DuckDB ones, which write a file each, get fewer.</summary>
    public static class Iterations
    {
        public const int Statistics = 12;
        public const int KMeansLoss = 60;
        public const int Nearest = 25;
        public const int Permutation = 20;
        public const int Split = 40;
        public const int Matching = 100;
        public const int Naming = 300;
    }

    [Fact]
    public void RELIABILITY_md_gives_the_iterations_the_tests_run()
    {
        var rows = ReliabilityDocument.Table("Properties");
        (string Test, int Cases)[] expected =
        [
            (nameof(Statistics_match_an_independent_computation_whatever_the_row_order), Iterations.Statistics),
            (nameof(KMeans_loss_never_increases_within_a_start), Iterations.KMeansLoss),
            (nameof(Prediction_assigns_every_customer_its_nearest_centroid), Iterations.Nearest),
            (nameof(Permuting_the_customers_changes_nothing_in_the_model), Iterations.Permutation),
            (nameof(The_split_is_deterministic_and_holds_out_the_fraction_asked_for), Iterations.Split),
            (nameof(Stable_ids_are_the_cheapest_matching_to_the_previous_run), Iterations.Matching),
            (nameof(A_lapsed_name_never_goes_to_a_segment_more_recent_than_an_active_one), Iterations.Naming),
        ];
        var text = ReliabilityDocument.Text();
        foreach (var (test, cases) in expected)
        {
            var row = text.Split('\n').Single(l => l.StartsWith('|') && l.Contains($"PropertyTests.{test}", StringComparison.Ordinal));
            Assert.Equal(cases.ToString(CultureInfo.InvariantCulture), row.Split('|', StringSplitOptions.TrimEntries)[2]);
        }
        Assert.NotEmpty(rows);
    }

    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    // ---- Statistics, both presets, against an independent computation -------------------------------------------

    private static readonly DateOnly WindowStart = new(2023, 1, 1);
    private static readonly DateOnly WindowEnd = new(2023, 2, 1);
    private static readonly DateOnly AsOf = new(2023, 2, 15);
    private static readonly string[] Statuses = ["Complete", "Shipped", "Processing", "Cancelled", "Returned"];

    /// <summary>
    /// 1 to 60 items of up to 12 customers and 20 orders (an order belongs to one customer), some just outside the
    /// window, prices in cents.
    /// </summary>
    private static readonly Gen<TestItem[]> Items =
        (from order in Gen.Int[1, 20]
         from status in Gen.Int[0, Statuses.Length - 1]
         from seconds in Gen.Int[-5 * 86_400, 36 * 86_400]
         from cents in Gen.Int[1, 50_000]
         select new TestItem(order, 1 + order % 12, Statuses[status],
             WindowStart.ToDateTime(TimeOnly.MinValue).AddSeconds(seconds), cents / 100.0)).Array[1, 60];

    private async Task<List<(long User, long Days, long Orders, double Spend)>> StatsAsync(IEnumerable<TestItem> items, StatsPreset preset)
    {
        var input = _directory.Write($"items-{Guid.NewGuid():N}.csv", OrderItemsByHand.Csv(items));
        var options = Options.Create(new EmbeddedOptions { BucketDirectory = _directory.Path, Input = input });
        var bucket = new FileSystemBucket(options);
        var parameters = new RunParameters($"p{Guid.NewGuid():N}"[..20], WindowStart, WindowEnd, AsOf, 2, preset, 42, 0.2);
        var summary = await new DuckDbStatsBuilder(options, bucket, NullLogger<DuckDbStatsBuilder>.Instance).BuildAsync(parameters, CancellationToken.None);
        return await StatsFile.ReadAsync(bucket, summary.StatsObject);
    }

    [Theory]
    [InlineData(StatsPreset.Rfm)]
    [InlineData(StatsPreset.Lab)]
    public Task Statistics_match_an_independent_computation_whatever_the_row_order(StatsPreset preset) =>
        (from items in Items
         from shuffled in Gen.Shuffle(items)
         select (items, shuffled)).SampleAsync(async (items, shuffled) =>
        {
            var expected = OrderItemsByHand.Stats(items, preset, WindowStart, WindowEnd, AsOf);
            if (expected.Count == 0) return; // an empty window is a failure of its own (BadInputCatalogTests)
            OrderItemsByHand.AssertSame(expected, await StatsAsync(items, preset));
            // The same items in another order: the same statistics (sums of doubles may differ in the last bit).
            OrderItemsByHand.AssertSame(expected, await StatsAsync(shuffled, preset));
        }, iter: Iterations.Statistics, threads: 1);

    // ---- K-means ----------------------------------------------------------------------------------------------

    /// <summary>10 to 200 points in 3 dimensions, drawn around a few random centres so clusters exist.</summary>
    private static readonly Gen<double[]> Points =
        from n in Gen.Int[10, 200]
        from centres in Gen.Double[-5, 5].Array[9]
        from noise in Gen.Double[-1, 1].Array[n * 3]
        select Enumerable.Range(0, n * 3).Select(j => centres[(j / 3 % 3) * 3 + j % 3] + noise[j]).ToArray();

    [Fact]
    public void KMeans_loss_never_increases_within_a_start() =>
        (from points in Points
         from k in Gen.Int[2, 6]
         from seed in Gen.Int[0, 10_000]
         select (points, k, seed)).Sample((points, k, seed) =>
        {
            // One start; the loss after m iterations is the loss of a run capped at m (the same start, cut short).
            var losses = Enumerable.Range(0, 10).Select(m => KMeans.Fit(points, 3, k, seed,
                new KMeansOptions { Starts = 1, MaxIterations = m, MinRelativeProgress = double.NegativeInfinity }).Loss).ToArray();
            for (var m = 1; m < losses.Length; m++)
                Assert.True(losses[m] <= losses[m - 1] * (1 + 1e-12) + 1e-12,
                    $"the loss rose from {losses[m - 1]} to {losses[m]} at iteration {m}");
        }, iter: Iterations.KMeansLoss, threads: 1);

    [Fact]
    public void Prediction_assigns_every_customer_its_nearest_centroid() =>
        (from n in Gen.Int[1, 80]
         from k in Gen.Int[2, 8]
         from rows in Gen.Select(Gen.Int[0, 400], Gen.Int[1, 30], Gen.Double[0.01, 2_000], (d, o, m) => (d, o, m)).Array[n]
         from centroids in Gen.Select(Gen.Double[0, 400], Gen.Double[1, 30], Gen.Double[0.01, 2_000], (d, o, m) => (d, o, m)).Array[k]
         from means in Gen.Double[0, 500].Array[3]
         from deviations in Gen.Double[0.5, 300].Array[3]
         select (rows, centroids, means, deviations)).Sample((rows, centroids, means, deviations) =>
        {
            var standardization = new Standardization(means, deviations);
            var model = new SegmentModel("nearest", "test", centroids.Length, "fixed", Features.All, standardization,
                centroids.Select((c, i) => new Centroid(i + 1, $"Segment {i + 1}", c.Item1, c.Item2, c.Item3, new RfmScore(3, 3, 3))).ToList(),
                new ModelMetrics(1, 1, 1), 1, rows.Length, 0, 42, null);
            var stats = _directory.File($"stats-{Guid.NewGuid():N}.parquet");
            using var connection = DuckDb.Open(new EmbeddedOptions());
            var values = string.Join(",", rows.Select((r, i) => string.Create(CultureInfo.InvariantCulture,
                $"({i + 1}, {r.Item1}, {r.Item2}, {r.Item3:R})")));
            DuckDb.Execute(connection, $"""
                COPY (SELECT CAST(c0 AS BIGINT) AS user_id, CAST(c1 AS BIGINT) AS days_since_last_order, CAST(c2 AS BIGINT) AS count_orders,
                    CAST(c3 AS DOUBLE) AS average_spend FROM (VALUES {values}) v(c0, c1, c2, c3)) TO {DuckDb.Literal(stats)} (FORMAT parquet)
                """);
            using var command = DuckDb.Command(connection, $"SELECT user_id, centroid_id, distance FROM ({EmbeddedSegmentationEngine.PredictionSql(model, $"read_parquet({DuckDb.Literal(stats)})")}) ORDER BY user_id");
            using var reader = command.ExecuteReader();
            var seen = 0;
            while (reader.Read())
            {
                var row = rows[reader.GetInt64(0) - 1];
                double[] point = [row.Item1, row.Item2, row.Item3];
                // Independently: the distance to each centroid in standardized space.
                var distances = model.Centroids.Select(c => Math.Sqrt(Enumerable.Range(0, 3).Sum(f =>
                    Math.Pow((point[f] - means[f]) / deviations[f] - (c[f] - means[f]) / deviations[f], 2)))).ToArray();
                var chosen = reader.GetInt32(1);
                Assert.True(distances[chosen - 1] <= distances.Min() + 1e-9 * (1 + distances.Min()),
                    $"customer {reader.GetInt64(0)} went to centroid {chosen} at {distances[chosen - 1]}, but the nearest is at {distances.Min()}");
                Assert.Equal(distances.Min(), reader.GetDouble(2), 6);
                seen++;
            }
            Assert.Equal(rows.Length, seen);
        }, iter: Iterations.Nearest, threads: 1);

    [Fact]
    public void Permuting_the_customers_changes_nothing_in_the_model() =>
        (from points in Points
         from ids in Gen.Long[1, 1_000_000_000].Array[200]
         from k in Gen.Int[2, 5]
         from seed in Gen.Int[0, 1_000]
         select (points, ids, k, seed)).SelectMany(t => Gen.Shuffle(Enumerable.Range(0, t.points.Length / 3).ToArray()),
            (t, order) => (t.points, t.ids, t.k, t.seed, order)).Sample((points, ids, k, seed, order) =>
        {
            var n = points.Length / 3;
            var userIds = ids.Take(n).Distinct().ToArray();
            if (userIds.Length < n) return;
            var customers = new CustomerFeatures(userIds, points.Select(Math.Abs).ToArray());
            var permuted = new CustomerFeatures(order.Select(i => userIds[i]).ToArray(),
                order.SelectMany(i => customers.Row(i).ToArray()).ToArray());
            var parameters = new RunParameters("perm", WindowStart, WindowEnd, AsOf, k, StatsPreset.Rfm, seed, 0.2);
            if (customers.Count * 0.5 < k) return;

            var a = SegmentationTrainer.Train(customers, parameters, null);
            var b = SegmentationTrainer.Train(permuted, parameters, null);
            Assert.Equal(PipelineJson.Serialize(a), PipelineJson.Serialize(b));
        }, iter: Iterations.Permutation, threads: 1);

    // ---- Hold-out split ---------------------------------------------------------------------------------------

    [Fact]
    public void The_split_is_deterministic_and_holds_out_the_fraction_asked_for() =>
        (from seed in Gen.Int[0, int.MaxValue]
         from fraction in Gen.Double[0.01, 0.5]
         from first in Gen.Long[-1_000_000_000_000, 1_000_000_000_000]
         from stride in Gen.Long[1, 1_000_000]
         select (seed, fraction, first, stride)).Sample((seed, fraction, first, stride) =>
        {
            const int customers = 20_000;
            var held = 0;
            for (var i = 0; i < customers; i++)
            {
                var user = first + i * stride;
                var once = HoldOutSplit.IsHeldOut(user, seed, fraction);
                Assert.Equal(once, HoldOutSplit.IsHeldOut(user, seed, fraction));
                if (once) held++;
            }
            // 4.5 standard deviations of a binomial: a false alarm about once in 150,000 runs.
            var tolerance = 4.5 * Math.Sqrt(fraction * (1 - fraction) / customers) + 0.5 / HoldOutSplit.Buckets;
            Assert.InRange((double)held / customers, fraction - tolerance, fraction + tolerance);
        }, iter: Iterations.Split, threads: 1);

    // ---- Stable ids and names ---------------------------------------------------------------------------------

    private static readonly Standardization Unit = new([0, 0, 0], [1, 1, 1]);

    private static readonly PopulationProfile Population = new(
        Enumerable.Range(0, 365).Select(d => (double)d).ToList(),
        Enumerable.Repeat(1.0, 600).Concat(Enumerable.Repeat(2.0, 250)).Concat(Enumerable.Repeat(3.0, 100)).Concat(Enumerable.Repeat(4.0, 50)).ToList(),
        Enumerable.Range(1, 200).Select(m => (double)m).ToList());

    private static readonly Gen<double[]> CentroidGen = Gen.Select(Gen.Double[0, 365], Gen.Double[1, 5], Gen.Double[1, 220], (d, o, m) => new[] { d, o, m });

    private static ModelDraft Draft(string runId, IReadOnlyList<double[]> centroids) =>
        new(runId, "test", "fixed", Unit, centroids, new ModelMetrics(1, 1, 1), 5, 100, 20, 42);

    [Fact]
    public void Stable_ids_are_the_cheapest_matching_to_the_previous_run() =>
        (from k in Gen.Int[2, 6]
         from before in CentroidGen.Array[k]
         from after in CentroidGen.Array[k]
         select (before, after)).Sample((before, after) =>
        {
            var previous = SegmentModelBuilder.Build(Draft("r1", before), Population, null);
            var next = SegmentModelBuilder.Build(Draft("r2", after), Population, previous);
            var old = previous.Centroids.ToDictionary(c => c.CentroidId, c => new[] { c.DaysSinceLastOrder, c.CountOrders, c.AverageSpend });
            double Cost(IReadOnlyList<int> ids) => Enumerable.Range(0, after.Length).Sum(i => KMeans.Distance2(after[i], old[ids[i]]));

            var chosen = after.Select((_, i) => next.Centroids.Single(c => c.EngineCentroidId == i + 1).CentroidId).ToArray();
            var cheapest = Permutations(Enumerable.Range(1, after.Length).ToArray()).Min(Cost);
            Assert.Equal(cheapest, Cost(chosen), 9);
            Assert.Equal(Enumerable.Range(1, after.Length), chosen.Order());
        }, iter: Iterations.Matching, threads: 1);

    private static IEnumerable<int[]> Permutations(int[] items) => items.Length <= 1
        ? [items]
        : items.SelectMany(first => Permutations(items.Where(i => i != first).ToArray()).Select(rest => (int[])[first, .. rest]));

    [Fact]
    public void A_lapsed_name_never_goes_to_a_segment_more_recent_than_an_active_one() =>
        (from k in Gen.Int[2, 20]
         from centroids in CentroidGen.Array[k]
         from days in Gen.Double[1, 2_000].Array[50]
         select (centroids, days)).Sample((centroids, days) =>
        {
            // A population of its own each time, so the scores move against the days.
            var population = Population with { DaysSinceLastOrder = days.Order().ToList() };
            var model = SegmentModelBuilder.Build(Draft("names", centroids), population, null);

            Assert.Equal(model.Centroids.Count, model.Centroids.Select(c => c.Segment).Distinct().Count());
            var lapsed = model.Centroids.Where(c => SegmentCatalog.IsLapsed(c.Segment)).ToList();
            var active = model.Centroids.Where(c => !SegmentCatalog.IsLapsed(c.Segment)).ToList();
            foreach (var l in lapsed)
                foreach (var a in active)
                    Assert.True(l.DaysSinceLastOrder >= a.DaysSinceLastOrder,
                        $"'{l.Segment}' ({l.DaysSinceLastOrder:0} days) is more recent than '{a.Segment}' ({a.DaysSinceLastOrder:0} days)");
        }, iter: Iterations.Naming, threads: 1);
}
