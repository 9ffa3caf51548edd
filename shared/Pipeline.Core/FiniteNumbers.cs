using System.Globalization;

namespace Pipeline.Core;

/// <summary>
/// The last line of defence against a silently wrong run: a stage about to write a number that is NaN or infinite
/// (into <c>model.json</c>, <c>predictions.parquet</c>, <c>centroids.csv</c> or the campaign) fails permanently,
/// naming the stage, the object and the field, instead of completing with the number in it. Input validation
/// refuses non-finite prices first; this catches whatever gets past it (sums that overflow, a backend's answer).
/// </summary>
public static class FiniteNumbers
{
    /// <summary>Throws the stage's permanent failure when <paramref name="value"/> is not finite.</summary>
    /// <param name="field">Where the value goes, e.g. <c>centroids[2].average_spend</c>.</param>
    public static void Require(string stage, string objectName, string field, double value)
    {
        if (!double.IsFinite(value)) throw Error(stage, objectName, field, 1, value.ToString(CultureInfo.InvariantCulture));
    }

    /// <summary>Every number of a model: standardization, centroids and metrics.</summary>
    public static void Require(string stage, string objectName, SegmentModel model)
    {
        for (var f = 0; f < model.Standardization.Means.Count; f++)
        {
            Require(stage, objectName, $"standardization.means[{f}]", model.Standardization.Means[f]);
            Require(stage, objectName, $"standardization.std_devs[{f}]", model.Standardization.StdDevs[f]);
        }
        foreach (var c in model.Centroids)
            RequireCentroid(stage, objectName, c.CentroidId, c.DaysSinceLastOrder, c.CountOrders, c.AverageSpend);
        Require(stage, objectName, "metrics.davies_bouldin_index", model.Metrics.DaviesBouldinIndex);
        Require(stage, objectName, "metrics.mean_squared_distance", model.Metrics.MeanSquaredDistance);
        Require(stage, objectName, "metrics.training_loss", model.Metrics.TrainingLoss);
    }

    /// <summary>A centroid's three features, each named with the centroid's id.</summary>
    public static void RequireCentroid(string stage, string objectName, int centroidId, double daysSinceLastOrder, double countOrders, double averageSpend)
    {
        Require(stage, objectName, $"centroid {centroidId} {Features.DaysSinceLastOrder}", daysSinceLastOrder);
        Require(stage, objectName, $"centroid {centroidId} {Features.CountOrders}", countOrders);
        Require(stage, objectName, $"centroid {centroidId} {Features.AverageSpend}", averageSpend);
    }

    /// <summary>The failure for <paramref name="rows"/> non-finite values of a field, with one as the example.</summary>
    public static PermanentPipelineException Error(string stage, string objectName, string field, long rows, string example) =>
        new($"{stage} refused to write {objectName}: {field} is not a finite number in {rows:N0} place(s), e.g. {example}; " +
            "check the input for NaN, infinite or absurdly large values");
}
