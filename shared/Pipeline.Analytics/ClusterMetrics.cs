namespace Pipeline.Analytics;

/// <summary>The evaluation metrics BigQuery ML's ML.EVALUATE reports for a K-means model.</summary>
public static class ClusterMetrics
{
    /// <summary>Mean squared Euclidean distance of the rows to their nearest centroid.</summary>
    public static double MeanSquaredDistance(double[] points, double[] centroids, int dimensions) =>
        Evaluate(points, centroids, dimensions).MeanSquaredDistance;

    /// <summary>
    /// The Davies–Bouldin index of the rows assigned to their nearest centroid: the mean, over clusters with rows,
    /// of the worst ratio (Sᵢ + Sⱼ) / d(cᵢ, cⱼ), where S is a cluster's mean distance to its centroid. Lower is better.
    /// </summary>
    public static double DaviesBouldin(double[] points, double[] centroids, int dimensions) =>
        Evaluate(points, centroids, dimensions).DaviesBouldin;

    /// <summary>Both metrics from one pass that finds each row's nearest centroid once.</summary>
    public static (double DaviesBouldin, double MeanSquaredDistance) Evaluate(double[] points, double[] centroids, int dimensions)
    {
        var n = points.Length / dimensions;
        var k = centroids.Length / dimensions;
        var scatter = new double[k];
        var counts = new long[k];
        var total = 0.0;
        for (var i = 0; i < n; i++)
        {
            var (index, distance2) = KMeans.Nearest(points.AsSpan(i * dimensions, dimensions), centroids, dimensions);
            total += distance2;
            scatter[index] += Math.Sqrt(distance2);
            counts[index]++;
        }
        return (DaviesBouldin(scatter, counts, centroids, dimensions), n == 0 ? double.NaN : total / n);
    }

    /// <param name="scatter">Per cluster, the sum of its rows' distances to the centroid.</param>
    private static double DaviesBouldin(double[] scatter, long[] counts, double[] centroids, int dimensions)
    {
        var present = Enumerable.Range(0, counts.Length).Where(c => counts[c] > 0).ToList();
        if (present.Count < 2) return 0;
        foreach (var c in present) scatter[c] /= counts[c];

        var total = 0.0;
        foreach (var i in present)
        {
            var worst = 0.0;
            foreach (var j in present)
            {
                if (i == j) continue;
                var separation = Math.Sqrt(KMeans.Distance2(centroids.AsSpan(i * dimensions, dimensions), centroids.AsSpan(j * dimensions, dimensions)));
                if (separation > 0) worst = Math.Max(worst, (scatter[i] + scatter[j]) / separation);
            }
            total += worst;
        }
        return total / present.Count;
    }
}
