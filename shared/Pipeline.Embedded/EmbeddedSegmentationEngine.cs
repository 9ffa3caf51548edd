using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Pipeline.Analytics;
using Pipeline.Core;

namespace Pipeline.Embedded;

/// <summary>
/// The model side on one machine: K-means in process (<see cref="SegmentationTrainer"/>) on the statistics read
/// with DuckDB, and prediction as one DuckDB query over the <c>customer_stats</c> parts — the nearest centroid in
/// standardized space, as ML.PREDICT computes it.
/// </summary>
public sealed class EmbeddedSegmentationEngine(IOptions<EmbeddedOptions> options, IBucket bucket, ILogger<EmbeddedSegmentationEngine> logger)
    : ISegmentationEngine
{
    public Task<SegmentModel> TrainAsync(RunParameters parameters, SegmentModel? previous, CancellationToken cancellationToken) =>
        Task.Run(async () =>
        {
            var customers = await ReadStatsAsync(parameters.RunId, cancellationToken);
            cancellationToken.ThrowIfCancellationRequested();
            logger.LogInformation("Training K-means on {Customers} customers (k = {K})", customers.Count, parameters.K?.ToString(CultureInfo.InvariantCulture) ?? "auto");
            var model = SegmentationTrainer.Train(customers, parameters, previous);
            logger.LogInformation("Trained k = {K} in {Iterations} iterations; Davies-Bouldin index {DaviesBouldin} on {TestCustomers} held-out customers",
                model.K, model.Iterations, model.Metrics.DaviesBouldinIndex, model.TestCustomers);
            return model;
        }, cancellationToken);

    public Task<IReadOnlyList<SegmentSize>> PredictAsync(RunParameters parameters, SegmentModel model, CancellationToken cancellationToken) =>
        Task.Run<IReadOnlyList<SegmentSize>>(async () =>
        {
            using var stats = await bucket.OpenLocalPartsAsync(BucketLayout.CustomerStats(parameters.RunId), cancellationToken);
            using var connection = DuckDb.Open(options.Value);
            DuckDb.Execute(connection, $"CREATE TEMP TABLE predictions AS {PredictionSql(model, DuckDb.ReadParquet(stats))}");
            var predictions = BucketLayout.Predictions(parameters.RunId);
            DuckDbStatsBuilder.RequireFinite(connection, Stages.Predict, predictions, "predictions", "distance");
            await ParquetExport.WriteAsync(connection, "SELECT * FROM predictions ORDER BY user_id", bucket, predictions, cancellationToken);

            var counts = new Dictionary<int, long>();
            using (var command = DuckDb.Command(connection, "SELECT centroid_id, count(*) FROM predictions GROUP BY centroid_id"))
            using (var reader = command.ExecuteReader())
                while (reader.Read()) counts[reader.GetInt32(0)] = reader.GetInt64(1);
            return model.Centroids.Select(c => new SegmentSize(c.CentroidId, c.Segment, counts.GetValueOrDefault(c.CentroidId))).ToList();
        }, cancellationToken);

    public Task<IReadOnlyList<ChartPoint>> SampleForChartAsync(RunParameters parameters, int maxPoints, CancellationToken cancellationToken) =>
        Task.Run<IReadOnlyList<ChartPoint>>(async () =>
        {
            using var predictions = await bucket.OpenLocalPartsAsync(BucketLayout.Predictions(parameters.RunId), cancellationToken);
            using var connection = DuckDb.Open(options.Value);
            var table = DuckDb.ReadParquet(predictions);

            var sizes = new Dictionary<int, long>();
            using (var command = DuckDb.Command(connection, $"SELECT centroid_id, count(*) FROM {table} GROUP BY centroid_id"))
            using (var reader = command.ExecuteReader())
                while (reader.Read()) sizes[reader.GetInt32(0)] = reader.GetInt64(1);
            var quotas = ChartQuotas(sizes, maxPoints);
            var quotaCase = string.Join(" ", quotas.Select(q => $"WHEN {q.Key} THEN {q.Value}"));

            // A fixed hash order per segment: the same customers are drawn every time for the same run.
            var points = new List<ChartPoint>();
            using (var command = DuckDb.Command(connection, $"""
                SELECT days_since_last_order, average_spend, centroid_id
                FROM {table}
                QUALIFY row_number() OVER (PARTITION BY centroid_id ORDER BY hash(user_id), user_id) <= CASE centroid_id {quotaCase} ELSE 0 END
                ORDER BY centroid_id, hash(user_id), user_id
                """))
            using (var reader = command.ExecuteReader())
                while (reader.Read())
                    points.Add(new ChartPoint(Convert.ToDouble(reader.GetValue(0), CultureInfo.InvariantCulture), reader.GetDouble(1), reader.GetInt32(2)));
            return points;
        }, cancellationToken);

    /// <summary>
    /// How many customers of each segment the chart draws: in proportion to size, but at least a fair share
    /// (max / 4k) so that a small segment is still visible; never more than the segment has.
    /// </summary>
    public static IReadOnlyDictionary<int, long> ChartQuotas(IReadOnlyDictionary<int, long> sizes, int maxPoints)
    {
        var total = sizes.Values.Sum();
        if (total == 0) return new Dictionary<int, long>();
        var floor = maxPoints / (4L * Math.Max(1, sizes.Count));
        return sizes.ToDictionary(s => s.Key,
            s => Math.Min(s.Value, Math.Max(floor, (long)Math.Floor((double)maxPoints * s.Value / total))));
    }

    /// <summary>
    /// Every customer's nearest centroid: distances in standardized space to each centroid, listed in centroid-id
    /// order, so the position of the smallest is the centroid id (ties go to the smaller id).
    /// </summary>
    /// <param name="statsTable">The statistics as a DuckDB table expression, e.g. <see cref="DuckDb.ReadParquet"/>.</param>
    public static string PredictionSql(SegmentModel model, string statsTable)
    {
        var ordered = model.Centroids.OrderBy(c => c.CentroidId).ToList();
        if (ordered.Select(c => c.CentroidId).SequenceEqual(Enumerable.Range(1, ordered.Count)) is false)
            throw new InvalidDataException("centroid ids must be 1..k");
        string[] columns = [Features.DaysSinceLastOrder, Features.CountOrders, Features.AverageSpend];
        string Z(int f) => model.Standardization.StdDevs[f] > 0
            ? $"(({columns[f]} - {DuckDb.Number(model.Standardization.Means[f])}) / {DuckDb.Number(model.Standardization.StdDevs[f])})"
            : "0.0";
        var distances = string.Join(",\n        ", ordered.Select(c =>
            "sqrt(" + string.Join(" + ", Enumerable.Range(0, 3).Select(f =>
                $"pow({Z(f)} - {DuckDb.Number(model.Standardization.Standardize(f, c[f]))}, 2)")) + ")"));
        var names = string.Join(", ", ordered.Select(c => DuckDb.Literal(c.Segment)));
        // MATERIALIZED: the distance list is used four times below; computed once it is a third faster.
        return $"""
            WITH scored AS MATERIALIZED (
                SELECT user_id, days_since_last_order, count_orders, average_spend,
                    [{distances}] AS distances
                FROM {statsTable}
            )
            SELECT
                user_id,
                CAST(list_position(distances, list_min(distances)) AS INTEGER) AS centroid_id,
                list_min(distances) AS distance,
                [{names}][list_position(distances, list_min(distances))] AS segment,
                days_since_last_order, count_orders, average_spend
            FROM scored
            """;
    }

    private async Task<CustomerFeatures> ReadStatsAsync(string runId, CancellationToken cancellationToken)
    {
        using var stats = await bucket.OpenLocalPartsAsync(BucketLayout.CustomerStats(runId), cancellationToken);
        using var connection = DuckDb.Open(options.Value);
        var table = DuckDb.ReadParquet(stats);
        var count = DuckDb.Scalar<long>(connection, $"SELECT count(*) FROM {table}");
        var ids = new long[count];
        var values = new double[count * CustomerFeatures.Dimensions];
        using var command = DuckDb.Command(connection, $"""
            SELECT user_id, CAST(days_since_last_order AS DOUBLE), CAST(count_orders AS DOUBLE), CAST(average_spend AS DOUBLE)
            FROM {table} ORDER BY user_id
            """);
        using var reader = command.ExecuteReader();
        var i = 0;
        while (reader.Read())
        {
            ids[i] = reader.GetInt64(0);
            values[i * 3] = reader.GetDouble(1);
            values[i * 3 + 1] = reader.GetDouble(2);
            values[i * 3 + 2] = reader.GetDouble(3);
            i++;
        }
        return new CustomerFeatures(ids, values);
    }
}
