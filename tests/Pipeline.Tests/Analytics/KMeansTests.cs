using Pipeline.Analytics;

namespace Pipeline.Tests.Analytics;

public class KMeansTests
{
    /// <summary>Gaussian blobs around known centers: the answer K-means must find, computed independently of it.</summary>
    public static double[] Blobs(double[][] centers, int perCenter, double spread, int seed)
    {
        var random = new Random(seed);
        var d = centers[0].Length;
        var points = new double[centers.Length * perCenter * d];
        var i = 0;
        for (var p = 0; p < perCenter; p++)
            foreach (var center in centers)
                foreach (var coordinate in center)
                {
                    // Box–Muller normal noise.
                    var noise = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
                    points[i++] = coordinate + spread * noise;
                }
        return points;
    }

    private static double[][] Sorted(KMeansResult fit) =>
        Enumerable.Range(0, fit.K).Select(c => fit.Centroids.AsSpan(c * fit.Dimensions, fit.Dimensions).ToArray())
            .OrderBy(c => Math.Round(c[0])).ThenBy(c => Math.Round(c[1])).ToArray();

    [Fact]
    public void Finds_the_centers_of_well_separated_clusters()
    {
        double[][] centers = [[-6, 0, 2], [0, 6, -2], [6, 0, 0], [0, -6, 4], [3, 3, 8]];
        var fit = KMeans.Fit(Blobs(centers, 2_000, 0.5, seed: 1), 3, 5, seed: 42);

        var found = Sorted(fit);
        var expected = centers.OrderBy(c => c[0]).ThenBy(c => c[1]).ToArray();
        for (var c = 0; c < 5; c++)
            for (var f = 0; f < 3; f++)
                Assert.InRange(found[c][f], expected[c][f] - 0.05, expected[c][f] + 0.05);
        // The loss of the true partition is about 3 · 0.5² (three dimensions of noise).
        Assert.InRange(fit.Loss, 0.70, 0.80);
        Assert.InRange(fit.Iterations, 1, 20);
    }

    [Fact]
    public void Lloyd_steps_match_a_hand_computation()
    {
        // 1-D: {0, 1, 10, 11, 12}; any sensible start ends at {0.5, 11}; loss = (0.25·2 + 1 + 0 + 1) / 5 = 0.5.
        var fit = KMeans.Fit([0, 1, 10, 11, 12], 1, 2, seed: 3);
        Assert.Equal([0.5, 11.0], fit.Centroids.Order());
        Assert.Equal(0.5, fit.Loss, 12);
    }

    [Fact]
    public void Reaches_the_global_optimum_found_by_exhaustive_search_on_small_data()
    {
        var random = new Random(5);
        for (var trial = 0; trial < 20; trial++)
        {
            var points = Enumerable.Range(0, 10 * 2).Select(_ => random.NextDouble() * 10).ToArray();
            var best = double.PositiveInfinity;
            // Every split of 10 points into two non-empty groups.
            for (var mask = 1; mask < (1 << 10) - 1; mask++)
            {
                var sse = 0.0;
                foreach (var side in new[] { true, false })
                {
                    var members = Enumerable.Range(0, 10).Where(i => ((mask >> i & 1) == 1) == side).ToList();
                    var mx = members.Average(i => points[2 * i]);
                    var my = members.Average(i => points[2 * i + 1]);
                    sse += members.Sum(i => Math.Pow(points[2 * i] - mx, 2) + Math.Pow(points[2 * i + 1] - my, 2));
                }
                best = Math.Min(best, sse / 10);
            }
            var fit = KMeans.Fit(points, 2, 2, seed: trial, new KMeansOptions { Starts = 5, MinRelativeProgress = 0 });
            Assert.True(fit.Loss <= best * 1.05 + 1e-12, $"trial {trial}: loss {fit.Loss} vs optimum {best}");
        }
    }

    [Fact]
    public void The_same_input_and_seed_give_the_same_model()
    {
        var points = Blobs([[0, 0, 0], [3, 3, 3], [0, 5, 1]], 30_000, 1.2, seed: 9);
        var first = KMeans.Fit(points, 3, 4, seed: 42);
        var second = KMeans.Fit(points, 3, 4, seed: 42);
        Assert.Equal(first.Centroids, second.Centroids);
        Assert.Equal(first.Iterations, second.Iterations);
        Assert.Equal(first.Loss, second.Loss);
    }

    /// <summary>
    /// The model of a fixed input and seed, to the bit, as the one-row-at-a-time loops computed it before the rows
    /// were measured four at a time: overlapping blobs (many close calls between centroids), a row count that is no
    /// multiple of 4, of a block or of a chunk; and 130 centroids, more coordinates than the vector path keeps.
    /// </summary>
    [Fact]
    public void The_vectorised_passes_give_the_row_by_row_model_to_the_bit()
    {
        var overlapping = Blobs([[-1, 0, 2], [0, 1, -1], [1, 0, 0], [0, -1, 1], [1, 1, 2]], 8_001, 1.2, seed: 11)[..(40_003 * 3)];
        var fit = KMeans.Fit(overlapping, 3, 5, seed: 42);
        Assert.Equal(2.9564044016183946, fit.Loss);
        Assert.Equal(3, fit.Iterations);
        Assert.Equal(
        [
            -1.3141454040759304, 0.35199974966751396, 2.1615578850138997, 1.1537570143249558, -0.775310601994086,
            0.7760141444926217, 0.22837696177132444, 0.9970468061094707, -1.1311486675407505, 1.2723939485639497,
            1.3927039387810862, 2.1703729393582925, -1.0015178019095523, -1.6876256005885453, 0.8018792455571497,
        ], fit.Centroids);

        var wide = KMeans.Fit(Blobs([[0, 0], [5, 5], [10, 0]], 1_667, 3, seed: 12)[..(5_001 * 2)], 2, 130, seed: 7);
        Assert.Equal(0.45972220277422865, wide.Loss);
        Assert.Equal(6, wide.Iterations);
        Assert.Equal([7.748207568999387, -1.1041810164822041, -0.29716936126576976, -1.878643201239296], wide.Centroids[..4]);
    }

    [Fact]
    public void Several_starts_keep_the_lowest_loss()
    {
        var points = Blobs([[-10, 0, 0], [-9, 0, 0], [10, 0, 0], [30, 0, 0]], 300, 0.3, seed: 2);
        // Start 0 of a multi-start fit is the single-start fit with the same seed; later starts can only improve on it.
        var losses = Enumerable.Range(0, 10).Select(seed => (
            Single: KMeans.Fit(points, 3, 4, seed, new KMeansOptions { Starts = 1 }).Loss,
            Multi: KMeans.Fit(points, 3, 4, seed, new KMeansOptions { Starts = 8 }))).ToList();
        Assert.All(losses, l => Assert.True(l.Multi.Loss <= l.Single + 1e-12));
        Assert.Contains(losses, l => l.Multi.Loss < l.Single - 1e-6 && l.Multi.Start > 0);
    }

    [Fact]
    public void Stops_early_when_progress_falls_below_one_percent()
    {
        var points = Blobs([[0, 0, 0], [0.5, 0.5, 0.5]], 5_000, 1.0, seed: 4);
        var strict = KMeans.Fit(points, 3, 6, 1, new KMeansOptions { Starts = 1, MinRelativeProgress = 0, MaxIterations = 20 });
        var early = KMeans.Fit(points, 3, 6, 1, new KMeansOptions { Starts = 1 });
        Assert.True(early.Iterations < strict.Iterations, $"{early.Iterations} vs {strict.Iterations}");
        Assert.True(strict.Iterations <= 20);
    }

    [Fact]
    public void Coinciding_rows_still_give_k_centroids()
    {
        var fit = KMeans.Fit([1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2], 3, 3, seed: 1);
        Assert.Equal(9, fit.Centroids.Length);
        Assert.Equal(0, fit.Loss, 12);
    }

    [Fact]
    public void Davies_Bouldin_and_mean_squared_distance_match_their_definitions()
    {
        // Two clusters on a line: {0, 2} around 1 and {10, 12} around 11. S = 1 each, centroid distance 10.
        double[] points = [0, 2, 10, 12];
        double[] centroids = [1, 11];
        Assert.Equal(0.2, ClusterMetrics.DaviesBouldin(points, centroids, 1), 12);
        Assert.Equal(1.0, ClusterMetrics.MeanSquaredDistance(points, centroids, 1), 12);
    }
}
