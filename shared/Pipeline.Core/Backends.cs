namespace Pipeline.Core;

/// <summary>What BuildStats reports about the statistics it materialized.</summary>
public sealed record StatsSummary(long Customers, long ItemsCounted, string StatsObject);

/// <summary>A customer drawn for the chart: its two plotted features and its segment.</summary>
public readonly record struct ChartPoint(double DaysSinceLastOrder, double AverageSpend, int CentroidId);

/// <summary>
/// The warehouse side of BuildStats: computes the run's per-customer statistics (DuckDB SQL embedded, BigQuery
/// SQL on GCP) and writes <c>customer_stats.parquet</c> to the bucket.
/// </summary>
public interface ICustomerStatsBuilder
{
    Task<StatsSummary> BuildAsync(RunParameters parameters, CancellationToken cancellationToken);
}

/// <summary>
/// The model side of the chain: trains K-means on the run's statistics, assigns every customer a segment, and
/// samples the assignments for the chart (in process embedded, BigQuery ML on GCP).
/// </summary>
public interface ISegmentationEngine
{
    /// <summary>Trains the run's model; <paramref name="previous"/> (the last completed run's) keeps ids stable.</summary>
    Task<SegmentModel> TrainAsync(RunParameters parameters, SegmentModel? previous, CancellationToken cancellationToken);

    /// <summary>Assigns every customer a segment, writes <c>predictions.parquet</c>, and returns the sizes.</summary>
    Task<IReadOnlyList<SegmentSize>> PredictAsync(RunParameters parameters, SegmentModel model, CancellationToken cancellationToken);

    /// <summary>At most <paramref name="maxPoints"/> customers, drawn so that small segments still show.</summary>
    Task<IReadOnlyList<ChartPoint>> SampleForChartAsync(RunParameters parameters, int maxPoints, CancellationToken cancellationToken);
}
