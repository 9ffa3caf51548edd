// Measures the in-process K-means against Microsoft.ML's KMeansTrainer on the same standardized data: wall time and
// the loss each reaches (mean squared distance to the nearest centroid). Usage:
//   dotnet run -c Release --project tests/Pipeline.Benchmarks -- kmeans [rows=1000000] [k=5]
using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Trainers;
using Pipeline.Analytics;

namespace Pipeline.Benchmarks;

/// <summary>The in-process K-means against Microsoft.ML's trainer on the same standardized rows.</summary>
internal static class KMeansComparison
{
    public static void Run(int rows, int k)
    {
        const int d = 3;

        // RFM-like data: skewed recency, mostly one or two orders, log-normal spend; then standardized as the trainer does.
        var random = new Random(1);
        var raw = new double[rows * d];
        for (var i = 0; i < rows; i++)
        {
            raw[i * d] = Math.Floor(365 * Math.Sqrt(random.NextDouble()));
            raw[i * d + 1] = 1 + (random.NextDouble() < 0.3 ? 1 : 0) + (random.NextDouble() < 0.1 ? 1 : 0);
            raw[i * d + 2] = Math.Exp(3.7 + 0.9 * Normal(random));
        }
        var features = new CustomerFeatures(Enumerable.Range(1, rows).Select(i => (long)i).ToArray(), raw);
        var points = StandardScaler.Transform(features, StandardScaler.Fit(features));

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{rows:N0} rows, k = {k}, {Environment.ProcessorCount} cores"));

        foreach (var (label, options) in new[]
        {
            ("1 start, BigQuery ML stop", new KMeansOptions { Starts = 1 }),
            ("3 starts, BigQuery ML stop (the pipeline's)", new KMeansOptions()),
            ("3 starts, 20 iterations, no early stop", new KMeansOptions { MinRelativeProgress = 0 }),
        })
        {
            var watch = Stopwatch.StartNew();
            var ours = KMeans.Fit(points, d, k, seed: 42, options);
            watch.Stop();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"Pipeline.Analytics.KMeans, {label}: {watch.Elapsed.TotalSeconds:0.00} s, loss {ours.Loss:0.00000}, {ours.Iterations} iterations"));
        }

        var ml = new MLContext(seed: 42);
        var data = ml.Data.LoadFromEnumerable(Enumerable.Range(0, rows).Select(i => new Row
        {
            Features = [(float)points[i * d], (float)points[i * d + 1], (float)points[i * d + 2]],
        }));
        var trainer = ml.Clustering.Trainers.KMeans(new KMeansTrainer.Options
        {
            NumberOfClusters = k,
            InitializationAlgorithm = KMeansTrainer.InitializationAlgorithm.KMeansPlusPlus,
            MaximumNumberOfIterations = 20,
        });
        var mlWatch = Stopwatch.StartNew();
        var model = trainer.Fit(data);
        mlWatch.Stop();
        VBuffer<float>[] centroids = default!;
        model.Model.GetClusterCentroids(ref centroids, out _);
        var flat = centroids.SelectMany(c => c.DenseValues().Select(v => (double)v)).ToArray();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Microsoft.ML KMeansTrainer, k-means++, 20 iterations: {mlWatch.Elapsed.TotalSeconds,6:0.00} s, loss {ClusterMetrics.MeanSquaredDistance(points, flat, d):0.00000}"));
    }

    private static double Normal(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}

internal sealed class Row
{
    [VectorType(3)]
    public float[] Features { get; set; } = [];
}
