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
public sealed class EmbeddedSegmentationEngine(
    IOptions<EmbeddedOptions> options, IOptions<AudienceOptions> audiences, IBucket bucket, RunLedger ledger,
    ILogger<EmbeddedSegmentationEngine> logger, IStageProgress? progress = null) : ISegmentationEngine
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
            var previous = await PreviousRunAsync(model, cancellationToken);
            using var previousParts = previous is null ? null : await bucket.OpenLocalPartsAsync(BucketLayout.Predictions(previous.RunId), cancellationToken);
            using var connection = DuckDb.Open(options.Value);
            var customers = model.TrainingCustomers + model.TestCustomers;
            DuckDbProgress.Run(connection, _progress,
                percentage => new StageProgress(parameters.RunId, Stages.Predict, AssigningStep, (long)Math.Round(customers * percentage / 100), customers, "customers"),
                () => DuckDb.Execute(connection, $"CREATE TEMP TABLE predictions AS {PredictionSql(model, DuckDb.ReadParquet(stats))}"));
            var predictions = BucketLayout.Predictions(parameters.RunId);
            DuckDbStatsBuilder.RequireFinite(connection, Stages.Predict, predictions, "predictions", "distance");
            var previousTable = previousParts is null ? null : PreviousSegmentsSql(connection, DuckDb.ReadParquet(previousParts), previous!.AsOf);
            await ParquetExport.WriteAsync(connection,
                MovementSql("predictions", previousTable, parameters.AsOf, audiences.Value), bucket, predictions, cancellationToken);

            var sizes = SegmentSizes(connection, "predictions", model.Centroids.ToDictionary(c => c.CentroidId, c => c.Segment));
            _progress.Report(new StageProgress(parameters.RunId, Stages.Predict, AssigningStep, sizes.Sum(s => s.Customers), customers, "customers",
                string.Create(CultureInfo.InvariantCulture, $"{model.K} segments, predictions written"), Final: true));
            return sizes;
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
            return HashOrderSample.Read(connection, table, "days_since_last_order, average_spend, centroid_id", sizes, quotas,
                reader => new ChartPoint(Convert.ToDouble(reader.GetValue(0), CultureInfo.InvariantCulture), reader.GetDouble(1), checked((int)reader.GetInt64(2))),
                point => point.CentroidId);
        }, cancellationToken);

    public Task<SegmentMovement> MovementAsync(RunParameters parameters, SegmentModel model, IReadOnlyList<SegmentSize> sizes,
        CancellationToken cancellationToken) =>
        Task.Run(async () =>
        {
            var previous = await PreviousRunAsync(model, cancellationToken);
            using var current = await bucket.OpenLocalPartsAsync(BucketLayout.Predictions(parameters.RunId), cancellationToken);
            using var previousParts = previous is null ? null : await bucket.OpenLocalPartsAsync(BucketLayout.Predictions(previous.RunId), cancellationToken);
            using var connection = DuckDb.Open(options.Value);
            var table = DuckDb.ReadParquet(current);

            var newest = DuckDb.Scalar<long>(connection, $"SELECT coalesce(min(days_since_last_order), 0) FROM {table}");
            var control = DuckDb.Scalar<long>(connection, $"SELECT count(*) FILTER (WHERE control_group) FROM {table}");
            MigrationMatrix.PreviousRun? before = null;
            var flows = new List<MigrationFlow>();
            if (previousParts is not null)
            {
                var previousTable = DuckDb.ReadParquet(previousParts);
                before = new MigrationMatrix.PreviousRun(previous!.RunId, previous.AsOf, SegmentSizes(connection, previousTable, null));
                // Returning and new customers by their previous segment; then last run's customers absent now.
                using var command = DuckDb.Command(connection, $"""
                    SELECT previous_segment_id, centroid_id, count(*) FROM {table} GROUP BY ALL
                    UNION ALL
                    SELECT p.centroid_id, NULL, count(*) FROM {previousTable} AS p ANTI JOIN {table} AS c ON c.user_id = p.user_id GROUP BY ALL
                    """);
                using var reader = command.ExecuteReader();
                while (reader.Read())
                    flows.Add(new MigrationFlow(reader.IsDBNull(0) ? null : Convert.ToInt32(reader.GetValue(0), CultureInfo.InvariantCulture),
                        reader.IsDBNull(1) ? null : Convert.ToInt32(reader.GetValue(1), CultureInfo.InvariantCulture), reader.GetInt64(2)));
            }
            return new SegmentMovement(MigrationMatrix.Build(parameters.RunId, parameters.AsOf, before, sizes, flows), newest, control);
        }, cancellationToken);

    public Task<IReadOnlyList<AudienceFile>> WriteAudiencesAsync(RunParameters parameters, SegmentModel model, CancellationToken cancellationToken) =>
        Task.Run<IReadOnlyList<AudienceFile>>(async () =>
        {
            using var current = await bucket.OpenLocalPartsAsync(BucketLayout.Predictions(parameters.RunId), cancellationToken);
            using var connection = DuckDb.Open(options.Value);
            var table = DuckDb.ReadParquet(current);
            var files = new List<AudienceFile>();
            foreach (var centroid in model.Centroids.OrderBy(c => c.CentroidId))
            {
                var objectName = BucketLayout.Audience(parameters.RunId, centroid.Segment);
                var query = $"SELECT user_id FROM {table} WHERE centroid_id = {centroid.CentroidId} AND NOT control_group ORDER BY user_id";
                await ParquetExport.WriteCsvAsync(connection, query, bucket, objectName, cancellationToken);
                var customers = DuckDb.Scalar<long>(connection, $"SELECT count(*) FROM ({query})");
                files.Add(new AudienceFile(centroid.CentroidId, centroid.Segment, objectName, customers));
            }
            return files;
        }, cancellationToken);

    /// <summary>
    /// The run this run's movement is measured against: the previous completed run its model was matched to, when
    /// its predictions are still in the bucket.
    /// </summary>
    private async Task<PreviousRun?> PreviousRunAsync(SegmentModel model, CancellationToken cancellationToken)
    {
        if (model.MatchedToRun is not { } runId) return null;
        var manifest = await ledger.GetAsync(runId, cancellationToken);
        if (manifest?.Parameters is null) return null;
        var parts = await bucket.ListAsync(BucketLayout.Predictions(runId), cancellationToken);
        if (!parts.Any(p => BucketLayout.IsPart(BucketLayout.Predictions(runId), p)))
        {
            logger.LogWarning("Run {PreviousRunId}'s predictions are gone; run {RunId} is compared with nothing", runId, model.RunId);
            return null;
        }
        return new PreviousRun(runId, manifest.Parameters.AsOf);
    }

    private sealed record PreviousRun(string RunId, DateOnly AsOf);

    /// <summary>Customers per segment of a predictions table; with <paramref name="names"/>, every segment, empty ones too.</summary>
    private static List<SegmentSize> SegmentSizes(DuckDB.NET.Data.DuckDBConnection connection, string table, IReadOnlyDictionary<int, string>? names)
    {
        var sizes = new List<SegmentSize>();
        using var command = DuckDb.Command(connection, $"SELECT centroid_id, any_value(segment), count(*) FROM {table} GROUP BY centroid_id ORDER BY centroid_id");
        using var reader = command.ExecuteReader();
        while (reader.Read()) sizes.Add(new SegmentSize(checked((int)reader.GetInt64(0)), reader.GetString(1), reader.GetInt64(2)));
        // A segment nobody fell into still has its column.
        foreach (var (id, name) in names ?? new Dictionary<int, string>())
            if (sizes.All(s => s.CentroidId != id)) sizes.Add(new SegmentSize(id, name, 0));
        return sizes.OrderBy(s => s.CentroidId).ToList();
    }

    /// <summary>
    /// The previous run's segments as a table of (user_id, centroid_id, segment_since). A run written before
    /// predictions kept <c>segment_since</c> counts as the start of its customers' stretch.
    /// </summary>
    private static string PreviousSegmentsSql(DuckDB.NET.Data.DuckDBConnection connection, string previousParts, DateOnly previousAsOf)
    {
        var hasSince = DuckDb.Scalar<long>(connection,
            $"SELECT count(*) FROM (DESCRIBE SELECT * FROM {previousParts}) WHERE column_name = 'segment_since'") > 0;
        return $"SELECT user_id, centroid_id, {(hasSince ? "segment_since" : DateLiteral(previousAsOf))} AS segment_since FROM {previousParts}";
    }

    /// <summary>
    /// The predictions with what the contract adds per customer, joined to the previous completed run's segments
    /// (kept apart from the nearest-centroid query, which it only reads): <c>previous_segment_id</c> (null when
    /// new), <c>segment_since</c> (carried over while the customer stays in the same segment, else this run's
    /// as_of), <c>run_as_of</c>, and <c>control_group</c> — the same integer mix as <see cref="HoldOutSplit"/>,
    /// seeded by the salt (<see cref="ControlGroup"/>).
    /// </summary>
    /// <param name="previousSegments">A query of (user_id, centroid_id, segment_since), or null for the first run.</param>
    public static string MovementSql(string predictionsTable, string? previousSegments, DateOnly asOf, AudienceOptions audiences)
    {
        var previous = previousSegments
            ?? "SELECT CAST(NULL AS BIGINT) AS user_id, CAST(NULL AS BIGINT) AS centroid_id, CAST(NULL AS DATE) AS segment_since WHERE false";
        var seed = ControlGroup.SaltSeed(audiences.ControlGroupSalt).ToString(CultureInfo.InvariantCulture);
        var threshold = ControlGroup.Threshold(audiences.ControlGroupShare).ToString(CultureInfo.InvariantCulture);
        var today = DateLiteral(asOf);
        return $"""
            WITH
              previous AS ({previous}),
              h0 AS (
                SELECT p.*, prev.centroid_id AS previous_centroid, prev.segment_since AS previous_since,
                  (abs(CAST(p.user_id AS BIGINT)) % {HoldOutSplit.Modulus} + CAST({seed} AS BIGINT) * {HoldOutSplit.SeedMultiplier}) % {HoldOutSplit.Modulus} AS h
                FROM {predictionsTable} AS p LEFT JOIN previous AS prev ON prev.user_id = p.user_id),
              h1 AS (SELECT * REPLACE (xor(h, h >> 16) AS h) FROM h0),
              h2 AS (SELECT * REPLACE ((h * {HoldOutSplit.FirstMultiplier}) % {HoldOutSplit.Modulus} AS h) FROM h1),
              h3 AS (SELECT * REPLACE (xor(h, h >> 15) AS h) FROM h2),
              h4 AS (SELECT * REPLACE ((h * {HoldOutSplit.SecondMultiplier}) % {HoldOutSplit.Modulus} AS h) FROM h3),
              h5 AS (SELECT * REPLACE (xor(h, h >> 16) AS h) FROM h4)
            SELECT
              * EXCLUDE (previous_centroid, previous_since, h),
              CAST(previous_centroid AS BIGINT) AS previous_segment_id,
              CASE WHEN previous_centroid = centroid_id THEN previous_since ELSE {today} END AS segment_since,
              {today} AS run_as_of,
              h % {HoldOutSplit.Buckets} < {threshold} AS control_group
            FROM h5
            ORDER BY user_id
            """;
    }

    private static string DateLiteral(DateOnly date) => $"DATE '{date.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)}'";

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
