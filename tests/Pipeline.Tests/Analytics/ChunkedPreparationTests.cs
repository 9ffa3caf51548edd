using Pipeline.Analytics;
using Pipeline.Core;

namespace Pipeline.Tests.Analytics;

/// <summary>
/// Training's preparation runs in chunks on every core; each test compares it with the one-row-at-a-time path it
/// replaced, on enough customers for several chunks and a last, partial one.
/// </summary>
public class ChunkedPreparationTests
{
    private const int Customers = 200_003;

    /// <summary>Customers with increasing, gapped user ids and whole-number days and orders, as the statistics have.</summary>
    private static CustomerFeatures Generated(int count, int seed)
    {
        var random = new Random(seed);
        var ids = new long[count];
        var values = new double[count * 3];
        for (var i = 0; i < count; i++)
        {
            ids[i] = (i == 0 ? 1 : ids[i - 1]) + random.Next(1, 50);
            values[i * 3] = random.Next(0, 365);
            values[i * 3 + 1] = 1 + Math.Floor(-Math.Log(1 - random.NextDouble()) * 1.5);
            values[i * 3 + 2] = Math.Round(Math.Exp(3 + random.NextDouble() * 2.5), 2);
        }
        return new CustomerFeatures(ids, values);
    }

    [Fact]
    public void The_hold_out_marks_are_those_of_each_customer_alone()
    {
        var customers = Generated(Customers, seed: 1);
        var marks = HoldOutSplit.HeldOut(customers.UserIds, 42, 0.2);
        Assert.Equal(customers.UserIds.Select(id => HoldOutSplit.IsHeldOut(id, 42, 0.2)), marks);
        Assert.Empty(HoldOutSplit.HeldOut([], 42, 0.2));
    }

    [Fact]
    public void Partitioning_in_chunks_gives_the_row_by_row_indexes()
    {
        var customers = Generated(Customers, seed: 2);
        var marks = HoldOutSplit.HeldOut(customers.UserIds, 7, 0.3);

        var (marked, others) = RowChunks.Partition(marks);

        var rows = Enumerable.Range(0, customers.Count).ToList();
        Assert.Equal(rows.Where(i => marks[i]), marked);
        Assert.Equal(rows.Where(i => !marks[i]), others);
    }

    [Fact]
    public void Standardizing_chosen_rows_gives_the_values_of_those_rows_copied_out()
    {
        var customers = Generated(Customers, seed: 6);
        var (_, training) = RowChunks.Partition(HoldOutSplit.HeldOut(customers.UserIds, 42, 0.2));
        var copied = new CustomerFeatures([.. training.Select(i => customers.UserIds[i])], [.. training.SelectMany(i => customers.Row(i).ToArray())]);

        var standardization = StandardScaler.Fit(customers, training);

        var expected = StandardScaler.Fit(copied);
        Assert.Equal(expected.Means, standardization.Means);
        Assert.Equal(expected.StdDevs, standardization.StdDevs);
        Assert.Equal(StandardScaler.Transform(copied, standardization), StandardScaler.Transform(customers, standardization, training));
        var columns = StandardScaler.TransformToColumns(customers, standardization, training);
        var copiedColumns = StandardScaler.TransformToColumns(copied, standardization);
        for (var f = 0; f < 3; f++) Assert.Equal(copiedColumns[f], columns[f]);
    }

    [Fact]
    public void Standardizing_into_columns_gives_the_row_major_values_transposed()
    {
        var customers = Generated(Customers, seed: 3);
        var standardization = StandardScaler.Fit(customers);

        var columns = StandardScaler.TransformToColumns(customers, standardization);

        var rowMajor = StandardScaler.Transform(customers, standardization);
        for (var f = 0; f < 3; f++)
            Assert.Equal(Enumerable.Range(0, customers.Count).Select(i => rowMajor[i * 3 + f]), columns[f]);
    }

    [Fact]
    public void Training_gives_the_model_of_the_row_by_row_preparation_to_the_bit()
    {
        var customers = Generated(Customers, seed: 4);
        var parameters = new RunParameters("chunked", new DateOnly(2025, 1, 1), new DateOnly(2026, 1, 1), new DateOnly(2026, 1, 1),
            5, StatsPreset.Rfm, 42, 0.2);

        var model = SegmentationTrainer.Train(customers, parameters, null);

        // The preparation as it was: marks, split and standardization one row at a time, row-major points.
        var marks = customers.UserIds.Select(id => HoldOutSplit.IsHeldOut(id, 42, 0.2)).ToArray();
        var training = Enumerable.Range(0, customers.Count).Where(i => !marks[i]).ToList();
        var test = Enumerable.Range(0, customers.Count).Where(i => marks[i]).ToList();
        CustomerFeatures Rows(List<int> rows) =>
            new([.. rows.Select(i => customers.UserIds[i])], [.. rows.SelectMany(i => customers.Row(i).ToArray())]);
        var standardization = StandardScaler.Fit(Rows(training));
        var trainingPoints = StandardScaler.Transform(Rows(training), standardization);
        var testPoints = StandardScaler.Transform(Rows(test), standardization);
        var fit = KMeans.Fit(trainingPoints, 3, 5, 42);

        Assert.Equal(standardization.Means, model.Standardization.Means);
        Assert.Equal(standardization.StdDevs, model.Standardization.StdDevs);
        Assert.Equal(fit.Iterations, model.Iterations);
        Assert.Equal(Math.Round(fit.Loss, 6), model.Metrics.TrainingLoss);
        Assert.Equal(Math.Round(ClusterMetrics.DaviesBouldin(testPoints, fit.Centroids, 3), 6), model.Metrics.DaviesBouldinIndex);
        Assert.Equal(Math.Round(ClusterMetrics.MeanSquaredDistance(testPoints, fit.Centroids, 3), 6), model.Metrics.MeanSquaredDistance);
        foreach (var centroid in model.Centroids)
        {
            var expected = StandardScaler.Inverse(fit.Centroids.AsSpan((centroid.EngineCentroidId!.Value - 1) * 3, 3), standardization);
            Assert.Equal(expected, new[] { centroid.DaysSinceLastOrder, centroid.CountOrders, centroid.AverageSpend });
        }
    }

    [Fact]
    public void Fitting_columns_gives_the_fit_of_the_same_rows_row_major()
    {
        var points = KMeansTests.Blobs([[-1, 0, 2], [0, 1, -1], [1, 0, 0]], 10_001, 1.1, seed: 5);
        var columns = Enumerable.Range(0, 3).Select(f => Enumerable.Range(0, points.Length / 3).Select(i => points[i * 3 + f]).ToArray()).ToArray();

        var byColumns = KMeans.Fit(columns, 4, 42);
        var byRows = KMeans.Fit(points, 3, 4, 42);

        Assert.Equal(byRows.Centroids, byColumns.Centroids);
        Assert.Equal(byRows.Loss, byColumns.Loss);
        Assert.Equal(byRows.Iterations, byColumns.Iterations);
    }
}
