namespace Pipeline.Core;

/// <summary>What BuildStats reports about the statistics it materialized.</summary>
public sealed record StatsSummary(long Customers, long ItemsCounted, string StatsObject);

/// <summary>What Predict learns about a run's movement (<see cref="ISegmentationEngine.MovementAsync"/>).</summary>
/// <param name="NewestOrderDays">Days from the window's newest counted order to as_of: the smallest recency.</param>
/// <param name="ControlGroup">Customers in the marketing control group.</param>
public sealed record SegmentMovement(SegmentMigration Migration, long NewestOrderDays, long ControlGroup);

/// <summary>What <see cref="ISegmentationEngine.PredictAllAsync"/> did: the segment sizes, the movement and the audience files.</summary>
public sealed record PredictionOutcome(IReadOnlyList<SegmentSize> Sizes, SegmentMovement Movement, IReadOnlyList<AudienceFile> Audiences);

/// <summary>One segment's audience file and how many user ids it lists.</summary>
public sealed record AudienceFile(int CentroidId, string Segment, string ObjectName, long Customers);

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

    /// <summary>
    /// The run's movement, from its predictions and those of the run its model was matched to
    /// (<see cref="SegmentModel.MatchedToRun"/>, the previous completed run): the migration matrix, the age of the
    /// window's newest order and the control group's size.
    /// </summary>
    /// <param name="sizes">This run's segment sizes, as <see cref="PredictAsync"/> returned them: the matrix's columns.</param>
    Task<SegmentMovement> MovementAsync(RunParameters parameters, SegmentModel model, IReadOnlyList<SegmentSize> sizes,
        CancellationToken cancellationToken);

    /// <summary>Writes <c>audiences/{segment}.csv</c> for every segment: its user ids, the control group left out.</summary>
    Task<IReadOnlyList<AudienceFile>> WriteAudiencesAsync(RunParameters parameters, SegmentModel model, CancellationToken cancellationToken);

    /// <summary>
    /// Predict's warehouse side as one call: <see cref="PredictAsync"/>, <see cref="MovementAsync"/> and
    /// <see cref="WriteAudiencesAsync"/> in turn, unless a backend can share the work between them (the embedded one
    /// keeps the predictions in memory for the other two).
    /// </summary>
    async Task<PredictionOutcome> PredictAllAsync(RunParameters parameters, SegmentModel model, CancellationToken cancellationToken)
    {
        var sizes = await PredictAsync(parameters, model, cancellationToken);
        var movement = await MovementAsync(parameters, model, sizes, cancellationToken);
        var audiences = await WriteAudiencesAsync(parameters, model, cancellationToken);
        return new PredictionOutcome(sizes, movement, audiences);
    }

    /// <summary>At most <paramref name="maxPoints"/> customers, drawn so that small segments still show.</summary>
    Task<IReadOnlyList<ChartPoint>> SampleForChartAsync(RunParameters parameters, int maxPoints, CancellationToken cancellationToken);
}

/// <summary>
/// Told when a run completes or is released, after <c>history.json</c> and <c>latest.json</c>: a backend that keeps
/// its own record of completed runs (BigQuery's <c>customer_segments_latest</c>) updates it here. Must be idempotent.
/// </summary>
public interface IRunCompletionSink
{
    /// <param name="isLatest">Whether <c>latest.json</c> now points at the run.</param>
    Task RunCompletedAsync(RunParameters run, bool isLatest, CancellationToken cancellationToken);
}
