namespace Pipeline.Core;

/// <summary>The three features, in the order every matrix, model and table uses.</summary>
public static class Features
{
    public const string DaysSinceLastOrder = "days_since_last_order";
    public const string CountOrders = "count_orders";
    public const string AverageSpend = "average_spend";

    public static IReadOnlyList<string> All { get; } = [DaysSinceLastOrder, CountOrders, AverageSpend];
}

/// <summary>
/// <c>model.json</c>: a trained K-means segmentation. Centroids are in original units; the standardization
/// (training rows' mean and standard deviation) maps them to the space the model was fitted in.
/// </summary>
public sealed record SegmentModel(
    string RunId,
    string Engine,
    int K,
    string KSelection,
    IReadOnlyList<string> Features,
    Standardization Standardization,
    IReadOnlyList<Centroid> Centroids,
    ModelMetrics Metrics,
    int Iterations,
    long TrainingCustomers,
    long TestCustomers,
    int Seed,
    string? MatchedToRun);

/// <summary>Per-feature mean and standard deviation of the training rows.</summary>
public sealed record Standardization(IReadOnlyList<double> Means, IReadOnlyList<double> StdDevs)
{
    public double Standardize(int feature, double value) => Standardize(value, Means[feature], StdDevs[feature]);

    /// <summary>A value in standard deviations from the mean; 0 for a constant feature (no deviation).</summary>
    public static double Standardize(double value, double mean, double stdDev) => stdDev > 0 ? (value - mean) / stdDev : 0;
}

/// <summary>
/// One segment: the centroid in original units, its RFM scores (1–5, 5 best) against the customer population,
/// and the segment name those scores map to.
/// </summary>
/// <param name="EngineCentroidId">The id the training engine gave this centroid (BigQuery ML's centroid_id), when it
/// differs from the stable <paramref name="CentroidId"/>; predictions map one to the other.</param>
public sealed record Centroid(
    int CentroidId,
    string Segment,
    double DaysSinceLastOrder,
    double CountOrders,
    double AverageSpend,
    RfmScore Score,
    int? EngineCentroidId = null)
{
    public double this[int feature] => feature switch
    {
        0 => DaysSinceLastOrder,
        1 => CountOrders,
        2 => AverageSpend,
        _ => throw new ArgumentOutOfRangeException(nameof(feature)),
    };
}

/// <summary>Recency, frequency and monetary scores, 1 (lowest) to 5 (best).</summary>
public sealed record RfmScore(int Recency, int Frequency, int Monetary);

/// <summary>Evaluation on the held-out customers, as BigQuery ML's ML.EVALUATE reports for K-means.</summary>
public sealed record ModelMetrics(double DaviesBouldinIndex, double MeanSquaredDistance, double TrainingLoss);
