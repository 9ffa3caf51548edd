using Pipeline.Core;

namespace Pipeline.Analytics;

/// <summary>
/// Standardizes features to mean 0 and standard deviation 1 with statistics from the training rows, as BigQuery ML
/// does by default (sample standard deviation, like BigQuery's STDDEV). A constant feature maps to 0.
/// </summary>
public static class StandardScaler
{
    /// <param name="rows">The indexes of the rows to fit on, ascending; null for every row.</param>
    public static Standardization Fit(CustomerFeatures customers, int[]? rows = null)
    {
        const int d = CustomerFeatures.Dimensions;
        var count = rows?.Length ?? customers.Count;
        var values = customers.Values;
        var means = new double[d];
        var m2 = new double[d];
        // Welford's update: one pass, stable for millions of rows.
        for (var i = 0; i < count; i++)
        {
            var start = (rows is null ? i : rows[i]) * d;
            for (var f = 0; f < d; f++)
            {
                var value = values[start + f];
                var delta = value - means[f];
                means[f] += delta / (i + 1);
                m2[f] += delta * (value - means[f]);
            }
        }
        var stdDevs = m2.Select(v => count > 1 ? Math.Sqrt(v / (count - 1)) : 0).ToArray();
        return new Standardization(means, stdDevs);
    }

    /// <summary>The rows in standardized units, row-major.</summary>
    /// <param name="rows">The indexes of the rows, ascending; null for every row.</param>
    public static double[] Transform(CustomerFeatures customers, Standardization standardization, int[]? rows = null)
    {
        const int d = CustomerFeatures.Dimensions;
        var result = new double[(rows?.Length ?? customers.Count) * d];
        var scale = Scale.Of(standardization);
        for (var i = 0; i < result.Length / d; i++)
        {
            var start = (rows is null ? i : rows[i]) * d;
            for (var f = 0; f < d; f++) result[i * d + f] = scale.Standardize(f, customers.Values[start + f]);
        }
        return result;
    }

    /// <summary>
    /// The rows in standardized units, one array per feature: the layout K-means measures in, written in one pass
    /// on every core instead of a row-major copy and then a transposed one.
    /// </summary>
    /// <param name="rows">The indexes of the rows, ascending; null for every row.</param>
    public static double[][] TransformToColumns(CustomerFeatures customers, Standardization standardization, int[]? rows = null)
    {
        const int d = CustomerFeatures.Dimensions;
        var count = rows?.Length ?? customers.Count;
        var values = customers.Values;
        var scale = Scale.Of(standardization);
        var columns = new double[d][];
        for (var f = 0; f < d; f++) columns[f] = new double[count];
        RowChunks.For(count, (_, from, to) =>
        {
            for (var i = from; i < to; i++)
            {
                var start = (rows is null ? i : rows[i]) * d;
                for (var f = 0; f < d; f++) columns[f][i] = scale.Standardize(f, values[start + f]);
            }
        });
        return columns;
    }

    /// <summary>
    /// <see cref="Standardization.Standardize(double, double, double)"/> over arrays instead of the model's lists: the same arithmetic, so the
    /// same doubles, without an interface call per value.
    /// </summary>
    private readonly record struct Scale(double[] Means, double[] StdDevs)
    {
        public static Scale Of(Standardization standardization) => new([.. standardization.Means], [.. standardization.StdDevs]);

        public double Standardize(int feature, double value) => Standardization.Standardize(value, Means[feature], StdDevs[feature]);
    }

    /// <summary>A point in standardized units back in original units.</summary>
    public static double[] Inverse(ReadOnlySpan<double> standardized, Standardization standardization)
    {
        var result = new double[standardized.Length];
        for (var f = 0; f < standardized.Length; f++)
            result[f] = standardization.StdDevs[f] > 0
                ? standardized[f] * standardization.StdDevs[f] + standardization.Means[f]
                : standardization.Means[f];
        return result;
    }
}
