using Pipeline.Analytics;
using Pipeline.Core;

namespace Pipeline.Tests.Analytics;

public class SplitAndMatchingTests
{
    [Fact]
    public void The_split_holds_out_the_requested_fraction_deterministically()
    {
        var heldOut = Enumerable.Range(1, 100_000).Count(id => HoldOutSplit.IsHeldOut(id, 42, 0.2));
        Assert.InRange(heldOut, 19_400, 20_600);
        Assert.Equal(heldOut, Enumerable.Range(1, 100_000).Count(id => HoldOutSplit.IsHeldOut(id, 42, 0.2)));
        var otherSeed = Enumerable.Range(1, 1000).Where(id => HoldOutSplit.IsHeldOut(id, 43, 0.2));
        Assert.NotEqual(Enumerable.Range(1, 1000).Where(id => HoldOutSplit.IsHeldOut(id, 42, 0.2)), otherSeed);
    }

    [Fact]
    public void Partitioning_rows_keeps_each_side_in_order()
    {
        var (marked, others) = RowChunks.Partition([false, true, true, false, true]);

        Assert.Equal([1, 2, 4], marked);
        Assert.Equal([0, 3], others);
        var (none, noOthers) = RowChunks.Partition([]);
        Assert.Empty(none);
        Assert.Empty(noOthers);
    }

    [Fact]
    public void The_split_stays_inside_int64_for_the_largest_inputs()
    {
        // BigQuery errors on INT64 overflow; C# would wrap silently. Check the extremes stay in range.
        Assert.InRange(HoldOutSplit.Bucket(long.MaxValue / 2, int.MaxValue), 0, 9_999);
        Assert.True((HoldOutSplit.Modulus - 1) * HoldOutSplit.FirstMultiplier > 0);
        Assert.True((HoldOutSplit.Modulus - 1) * HoldOutSplit.SecondMultiplier > 0);
        Assert.True(HoldOutSplit.Modulus + (long)int.MaxValue * HoldOutSplit.SeedMultiplier > 0);
    }

    [Fact]
    public void The_assignment_solver_finds_the_cheapest_pairing()
    {
        var random = new Random(11);
        for (var trial = 0; trial < 50; trial++)
        {
            var rows = random.Next(1, 6);
            var columns = random.Next(1, 6);
            var cost = new double[rows, columns];
            for (var r = 0; r < rows; r++)
                for (var c = 0; c < columns; c++)
                    cost[r, c] = random.Next(0, 20);
            var assignment = AssignmentSolver.Solve(cost);
            var total = Enumerable.Range(0, rows).Where(r => assignment[r] >= 0).Sum(r => cost[r, assignment[r]]);
            Assert.Equal(Math.Min(rows, columns), assignment.Count(c => c >= 0));
            Assert.Equal(assignment.Where(c => c >= 0).Distinct().Count(), assignment.Count(c => c >= 0));
            Assert.Equal(BruteForce(cost), total);
        }
    }

    /// <summary>The cheapest way to give every row of the shorter side a distinct partner, by trying them all.</summary>
    private static double BruteForce(double[,] cost)
    {
        int rows = cost.GetLength(0), columns = cost.GetLength(1);
        double At(int r, int c) => rows <= columns ? cost[r, c] : cost[c, r];
        int shorter = Math.Min(rows, columns), longer = Math.Max(rows, columns);
        double Best(int row, int used) => row == shorter
            ? 0
            : Enumerable.Range(0, longer).Where(c => (used >> c & 1) == 0).Min(c => At(row, c) + Best(row + 1, used | 1 << c));
        return Best(0, 0);
    }

    private static readonly Standardization Unit = new([0, 0, 0], [1, 1, 1]);

    private static ModelDraft Draft(params double[][] centroids) =>
        new("r2", "test", "fixed", Unit, centroids, new ModelMetrics(1, 1, 1), 5, 100, 20, 42);

    private static readonly PopulationProfile Population = new(
        Enumerable.Range(0, 365).Select(d => (double)d).ToList(),
        Enumerable.Repeat(1.0, 600).Concat(Enumerable.Repeat(2.0, 250)).Concat(Enumerable.Repeat(3.0, 100)).Concat(Enumerable.Repeat(4.0, 50)).ToList(),
        Enumerable.Range(1, 200).Select(m => (double)m).ToList());

    [Fact]
    public void Centroid_ids_follow_the_previous_run_whatever_order_the_engine_returns()
    {
        double[][] centroids = [[10, 3, 150], [300, 1, 20], [150, 2, 60]];
        var first = SegmentModelBuilder.Build(Draft(centroids), Population, previous: null);
        // Without a previous run, id 1 is the most valuable segment (recent, frequent, high spend).
        Assert.Equal(10, first.Centroids.Single(c => c.CentroidId == 1).DaysSinceLastOrder);
        Assert.Equal(300, first.Centroids.Single(c => c.CentroidId == 3).DaysSinceLastOrder);

        // The next run finds nearly the same centroids in another order: each keeps its id.
        var next = SegmentModelBuilder.Build(Draft([152, 2, 58], [12, 3, 149], [298, 1, 21]) with { RunId = "r3" }, Population, first);
        Assert.Equal([2, 1, 3], next.Centroids.OrderBy(c => c.EngineCentroidId).Select(c => c.CentroidId));
        Assert.Equal(first.Centroids.Select(c => c.Segment), next.Centroids.Select(c => c.Segment));
        Assert.Equal("r2", next.MatchedToRun);
    }

    [Fact]
    public void Segment_names_follow_RFM_scores_and_are_unique()
    {
        var model = SegmentModelBuilder.Build(Draft([5, 4, 190], [350, 1, 5], [20, 1, 50], [340, 4, 180]), Population, null);
        var byDays = model.Centroids.ToDictionary(c => (int)c.DaysSinceLastOrder, c => c);
        Assert.Equal(SegmentCatalog.Champions, byDays[5].Segment);
        Assert.Equal(new RfmScore(5, 5, 5), byDays[5].Score);
        Assert.Equal(SegmentCatalog.Lost, byDays[350].Segment);
        Assert.Equal(SegmentCatalog.NewCustomers, byDays[20].Segment);
        Assert.Equal(SegmentCatalog.CantLoseThem, byDays[340].Segment);
        Assert.Equal(model.Centroids.Count, model.Centroids.Select(c => c.Segment).Distinct().Count());
    }

    [Fact]
    public void Twenty_segments_get_twenty_distinct_names()
    {
        var random = new Random(3);
        var centroids = Enumerable.Range(0, 20).Select(_ => new[] { random.Next(0, 365), 1 + random.NextDouble() * 3, random.Next(1, 200) * 1.0 }).ToArray();
        var model = SegmentModelBuilder.Build(Draft(centroids), Population, null);
        Assert.Equal(20, model.Centroids.Select(c => c.Segment).Distinct().Count());
        Assert.Equal(Enumerable.Range(1, 20), model.Centroids.Select(c => c.CentroidId));
    }
}
