using Pipeline.Core;

namespace Pipeline.Analytics;

/// <summary>
/// Standardizes features to mean 0 and standard deviation 1 with statistics from the training rows, as BigQuery ML
/// does by default (sample standard deviation, like BigQuery's STDDEV). A constant feature maps to 0.
/// </summary>
public static class StandardScaler
{
    public static Standardization Fit(CustomerFeatures rows)
    {
        const int d = CustomerFeatures.Dimensions;
        var means = new double[d];
        var m2 = new double[d];
        // Welford's update: one pass, stable for millions of rows.
        for (var i = 0; i < rows.Count; i++)
        {
            var row = rows.Row(i);
            for (var f = 0; f < d; f++)
            {
                var delta = row[f] - means[f];
                means[f] += delta / (i + 1);
                m2[f] += delta * (row[f] - means[f]);
            }
        }
        var stdDevs = m2.Select(v => rows.Count > 1 ? Math.Sqrt(v / (rows.Count - 1)) : 0).ToArray();
        return new Standardization(means, stdDevs);
    }

    /// <summary>The rows in standardized units, row-major.</summary>
    public static double[] Transform(CustomerFeatures rows, Standardization standardization)
    {
        var result = new double[rows.Values.Length];
        Transform(rows.Values, result, standardization);
        return result;
    }

    /// <summary>
    /// The rows in standardized units, one array per feature: the layout K-means measures in, written in one pass
    /// on every core instead of a row-major copy and then a transposed one.
    /// </summary>
    public static double[][] TransformToColumns(CustomerFeatures rows, Standardization standardization)
    {
        const int d = CustomerFeatures.Dimensions;
        var columns = new double[d][];
        for (var f = 0; f < d; f++) columns[f] = new double[rows.Count];
        RowChunks.For(rows.Count, (_, from, to) =>
        {
            for (var i = from; i < to; i++)
                for (var f = 0; f < d; f++)
                    columns[f][i] = standardization.Standardize(f, rows.Values[i * d + f]);
        });
        return columns;
    }

    public static void Transform(ReadOnlySpan<double> values, Span<double> destination, Standardization standardization)
    {
        const int d = CustomerFeatures.Dimensions;
        for (var row = 0; row + d <= values.Length; row += d)
            for (var f = 0; f < d; f++)
                destination[row + f] = standardization.Standardize(f, values[row + f]);
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
