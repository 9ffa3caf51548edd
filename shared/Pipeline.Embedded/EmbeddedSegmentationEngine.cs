using System.Globalization;
using DuckDB.NET.Data;
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
public sealed class EmbeddedSegmentationEngine(IOptions<EmbeddedOptions> options, IBucket bucket, ILogger<EmbeddedSegmentationEngine> logger,
    IStageProgress? progress = null) : ISegmentationEngine
{
    private const string AssigningStep = "assigning segments";
    private readonly IStageProgress _progress = progress ?? StageProgress.Silent;

    public Task<SegmentModel> TrainAsync(RunParameters parameters, SegmentModel? previous, CancellationToken cancellationToken) =>
        Task.Run(async () =>
        {
            var customers = await ReadStatsAsync(parameters.RunId, cancellationToken);
            cancellationToken.ThrowIfCancellationRequested();
            logger.LogInformation("Training K-means on {Customers} customers (k = {K})", customers.Count, parameters.K?.ToString(CultureInfo.InvariantCulture) ?? "auto");
            var model = SegmentationTrainer.Train(customers, parameters, previous, progress: _progress);
            logger.LogInformation("Trained k = {K} in {Iterations} iterations; Davies-Bouldin index {DaviesBouldin} on {TestCustomers} held-out customers",
                model.K, model.Iterations, model.Metrics.DaviesBouldinIndex, model.TestCustomers);
            return model;
        }, cancellationToken);

    public Task<IReadOnlyList<SegmentSize>> PredictAsync(RunParameters parameters, SegmentModel model, CancellationToken cancellationToken) =>
        Task.Run<IReadOnlyList<SegmentSize>>(async () =>
        {
            using var stats = await bucket.OpenLocalPartsAsync(BucketLayout.CustomerStats(parameters.RunId), cancellationToken);
            using var connection = DuckDb.Open(options.Value);
            var customers = model.TrainingCustomers + model.TestCustomers;
            DuckDbProgress.Run(connection, _progress,
                percentage => new StageProgress(parameters.RunId, Stages.Predict, AssigningStep, (long)Math.Round(customers * percentage / 100), customers, "customers"),
                () => DuckDb.Execute(connection, $"CREATE TEMP TABLE predictions AS {PredictionSql(model, DuckDb.ReadParquet(stats))}"));
            var predictions = BucketLayout.Predictions(parameters.RunId);
            DuckDbStatsBuilder.RequireFinite(connection, Stages.Predict, predictions, "predictions", "distance");
            // In the statistics' order (by user): DuckDB keeps a scan's order, so no sort is needed.
            await ParquetExport.WriteAsync(connection, "SELECT * FROM predictions", bucket, predictions, cancellationToken);

            var counts = new Dictionary<int, long>();
            using (var command = DuckDb.Command(connection, "SELECT centroid_id, count(*) FROM predictions GROUP BY centroid_id"))
            using (var reader = command.ExecuteReader())
                while (reader.Read()) counts[checked((int)reader.GetInt64(0))] = reader.GetInt64(1);
            _progress.Report(new StageProgress(parameters.RunId, Stages.Predict, AssigningStep, counts.Values.Sum(), customers, "customers",
                string.Create(CultureInfo.InvariantCulture, $"{model.K} segments, predictions written"), Final: true));
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
                while (reader.Read()) sizes[checked((int)reader.GetInt64(0))] = reader.GetInt64(1);
            var quotas = ChartQuotas(sizes, maxPoints);

            // Each segment's first customers in a fixed hash order: the same customers every time for the same run.
            // Only customers whose hash is below a bound are ranked: a segment's first q in hash order are exactly
            // the q smallest hashes, and the bound leaves about 1.2 q + 100 of them, so ranking skips the bulk.
            // In the rare case a segment keeps fewer than its quota, the sample is drawn again without the bound.
            var points = ChartSample(connection, table, quotas, HashBounds(sizes, quotas));
            if (quotas.Any(q => points.Count(p => p.CentroidId == q.Key) < q.Value))
                points = ChartSample(connection, table, quotas, bounds: null);
            return points;
        }, cancellationToken);

    private static List<ChartPoint> ChartSample(DuckDBConnection connection, string table,
        IReadOnlyDictionary<int, long> quotas, IReadOnlyDictionary<int, ulong>? bounds)
    {
        var quotaCase = string.Join(" ", quotas.Select(q => $"WHEN {q.Key} THEN {q.Value}"));
        var where = bounds is null ? "" : "WHERE hash(user_id) <= CASE centroid_id " +
            string.Join(" ", bounds.Select(b => $"WHEN {b.Key} THEN CAST({b.Value} AS UBIGINT)")) + " ELSE CAST(0 AS UBIGINT) END";
        var points = new List<ChartPoint>();
        using var command = DuckDb.Command(connection, $"""
            SELECT days_since_last_order, average_spend, centroid_id
            FROM {table}
            {where}
            QUALIFY row_number() OVER (PARTITION BY centroid_id ORDER BY hash(user_id), user_id) <= CASE centroid_id {quotaCase} ELSE 0 END
            ORDER BY centroid_id, hash(user_id), user_id
            """);
        using var reader = command.ExecuteReader();
        while (reader.Read())
            points.Add(new ChartPoint(Convert.ToDouble(reader.GetValue(0), CultureInfo.InvariantCulture), reader.GetDouble(1), checked((int)reader.GetInt64(2))));
        return points;
    }

    /// <summary>Per segment, the hash below which about 1.2 × its quota + 100 of its customers fall (hashes are uniform).</summary>
    private static Dictionary<int, ulong> HashBounds(IReadOnlyDictionary<int, long> sizes, IReadOnlyDictionary<int, long> quotas) =>
        quotas.ToDictionary(q => q.Key, q =>
        {
            var share = (1.2 * q.Value + 100) / Math.Max(1, sizes.GetValueOrDefault(q.Key));
            return share >= 1 ? ulong.MaxValue : (ulong)(share * 18446744073709551615.0);
        });

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
    /// Every customer's nearest centroid in standardized space (ties go to the smaller id) and the distance to it.
    /// </summary>
    /// <remarks>
    /// Plain arithmetic on columns: each customer is standardized once, its squared distance to each centroid is
    /// one column, and the nearest is the first column equal to their minimum. (A list of distances per row, as
    /// this query once built, costs DuckDB an allocation per customer and was four times slower.)
    /// </remarks>
    /// <param name="statsTable">The statistics as a DuckDB table expression, e.g. <see cref="DuckDb.ReadParquet"/>.</param>
    public static string PredictionSql(SegmentModel model, string statsTable)
    {
        var ordered = model.Centroids.OrderBy(c => c.CentroidId).ToList();
        if (ordered.Select(c => c.CentroidId).SequenceEqual(Enumerable.Range(1, ordered.Count)) is false)
            throw new InvalidDataException("centroid ids must be 1..k");
        string[] columns = [Features.DaysSinceLastOrder, Features.CountOrders, Features.AverageSpend];
        string Z(int f) => model.Standardization.StdDevs[f] > 0
            ? $"({columns[f]} - {DuckDb.Number(model.Standardization.Means[f])}) / {DuckDb.Number(model.Standardization.StdDevs[f])}"
            : "0.0";
        string Delta(Centroid c, int f) => $"(z{f} - {DuckDb.Number(model.Standardization.Standardize(f, c[f]))})";
        var squared = string.Join(",\n            ", ordered.Select(c =>
            string.Join(" + ", Enumerable.Range(0, 3).Select(f => $"{Delta(c, f)} * {Delta(c, f)}")) + $" AS d{c.CentroidId}"));
        var all = string.Join(", ", ordered.Select(c => $"d{c.CentroidId}"));
        var nearest = string.Join(" ", ordered.Select(c => $"WHEN d{c.CentroidId} = d_min THEN {c.CentroidId}"));
        var names = string.Join(" ", ordered.Select(c => $"WHEN {c.CentroidId} THEN {DuckDb.Literal(c.Segment)}"));
        return $"""
            SELECT user_id, centroid_id, distance, CASE centroid_id {names} END AS segment,
                days_since_last_order, count_orders, average_spend
            FROM (
                SELECT user_id, CAST(CASE {nearest} END AS BIGINT) AS centroid_id, sqrt(d_min) AS distance,
                    days_since_last_order, count_orders, average_spend
                FROM (
                    SELECT *, least({all}) AS d_min
                    FROM (
                        SELECT user_id, days_since_last_order, count_orders, average_spend,
                            {squared}
                        FROM (
                            SELECT *, {string.Join(", ", Enumerable.Range(0, 3).Select(f => $"{Z(f)} AS z{f}"))}
                            FROM {statsTable}
                        )
                    )
                )
            )
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
            FROM {table}
            """); // in the parts' order, by user (DuckDB keeps a scan's order): no sort needed
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
