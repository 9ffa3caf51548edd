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
            using var predicted = await PredictTableAsync(parameters, model, cancellationToken);
            return predicted.Sizes;
        }, cancellationToken);

    /// <summary>
    /// Predict's whole work on one DuckDB connection: the predictions are assigned and written once and stay in
    /// memory for the movement and the audiences, instead of being read back from their Parquet part twice.
    /// </summary>
    public Task<PredictionOutcome> PredictAllAsync(RunParameters parameters, SegmentModel model, CancellationToken cancellationToken) =>
        Task.Run(async () =>
        {
            using var predicted = await PredictTableAsync(parameters, model, cancellationToken);
            var movement = Movement(predicted.Connection, PredictionsTable, parameters, predicted.Previous, predicted.Sizes, predicted.GoneBySegment);
            var audiences = predicted.InUserOrder is { } columns
                ? await WriteAudiencesAsync(columns, parameters, model, cancellationToken)
                : await WriteAudiencesAsync(predicted.Connection, PredictionsTable, parameters, model, cancellationToken);
            return new PredictionOutcome(predicted.Sizes, movement, audiences);
        }, cancellationToken);

    private const string PredictionsTable = "predictions";

    /// <summary>
    /// Assigns every customer in process (<see cref="NearestCentroids"/>, with the control group), lends DuckDB the
    /// assignments (<see cref="LendAssignments"/>), adds the movement columns (merged in process, see
    /// <see cref="PreviousSegments"/>), keeps the result as the <c>predictions</c> table (a view over the statistics'
    /// parts and the lent columns unless a join or a sort is needed) and writes it as the run's <c>predictions/</c>.
    /// </summary>
    private async Task<PredictedRun> PredictTableAsync(RunParameters parameters, SegmentModel model, CancellationToken cancellationToken)
    {
        var stats = await bucket.OpenLocalPartsAsync(BucketLayout.CustomerStats(parameters.RunId), cancellationToken);
        var previous = await PreviousRunAsync(model, cancellationToken);
        var previousParts = previous is null ? null : await bucket.OpenLocalPartsAsync(BucketLayout.Predictions(previous.RunId), cancellationToken);
        var predicted = new PredictedRun(DuckDb.Open(options.Value), stats, previousParts, previous is null ? null : (previous, DuckDb.ReadParquet(previousParts!)));
        try
        {
            var connection = predicted.Connection;
            var statsTable = DuckDb.ReadParquet(stats);
            var customers = ReadStats(connection, statsTable);
            var total = customers.Count;
            _progress.Report(new StageProgress(parameters.RunId, Stages.Predict, AssigningStep, 0, total, "customers"));
            var userIds = customers.UserIds;
            var types = DuckDb.ColumnTypes(connection, statsTable);
            var centroids = StandardizeAsPredictionSql(connection, types, model, customers);
            var previousTable = predicted.Previous is { } p ? PreviousSegmentsSql(connection, p.Table, p.Run.AsOf) : null;
            var finite = false; // every distance known to be finite, without a scan of the predictions
            if (centroids is null)
            {
                // An integer feature spread too wide to tabulate: DuckDB computes the same assignments, only slower.
                DuckDb.Execute(connection, $"CREATE TEMP TABLE {PredictionsTable} AS {MovementSql($"({PredictionSql(model, statsTable)})", previousTable, parameters.AsOf, audiences.Value)}");
            }
            else
            {
                var assignments = NearestCentroids.Assign(customers.Values, centroids, model.Centroids.Select(c => (long)c.CentroidId).Order().ToList());
                finite = Array.TrueForAll(assignments.Distances, double.IsFinite);
                var controlGroup = ControlGroup.Of(userIds, audiences.Value.ControlGroupSalt, audiences.Value.ControlGroupShare);
                var inUserOrder = customers.IsOrderedByUserId();
                // A later run merges the previous run's segments in process when both sides are in user order (else null: DuckDB joins them).
                var merged = previousTable is not null && inUserOrder
                    ? PreviousSegments.Merge(connection, previousTable, userIds, assignments.CentroidIds, parameters.AsOf)
                    : null;
                var lent = LendAssignments(connection, assignments, controlGroup, merged is { } m ? (m.PreviousSegmentIds, m.SinceDays) : null);
                predicted.GoneBySegment = merged?.GoneBySegment;
                cancellationToken.ThrowIfCancellationRequested();
                // The statistics' own rows and columns, each with what was computed for it at its position: no copy.
                var features = string.Join(", ", Features.All);
                var assigned = $"""
                    (SELECT user_id, centroid_id, distance, {SegmentNameEnumSql(model, "centroid_id")} AS segment, {features}, {ControlGroupColumn}{(merged is null ? "" : MergedMovementColumns)}
                     FROM (SELECT user_id, {features}, {lent}
                           FROM (SELECT user_id, {features}, {PositionSql(connection, stats)} AS position FROM {statsTable})))
                    """;
                // A first run's rows, or a later run's merged in process, need neither a join nor a sort: a view, and every
                // later read scans the statistics' parts again, which costs less than holding a copy.
                var joined = merged is null ? previousTable : null;
                var materialized = joined is not null || !inUserOrder;
                DuckDb.Execute(connection, $"CREATE {(materialized ? "TEMP TABLE" : "VIEW")} {PredictionsTable} AS {MovementSql(assigned, joined, parameters.AsOf, audiences.Value, ControlGroupColumn, inUserOrder: !materialized, mergedMovement: merged is not null)}");
                // Ids written as whole numbers, as DuckDB writes them in CSV.
                if (!materialized && IsSignedUpToBigint(types["user_id"])) predicted.InUserOrder = new AssignedColumns(userIds, assignments.CentroidIds, controlGroup);
            }
            var predictions = BucketLayout.Predictions(parameters.RunId);
            // The scan finds the first customer whose distance is not finite, for the error.
            if (!finite) DuckDbStatsBuilder.RequireFinite(connection, Stages.Predict, predictions, PredictionsTable, "distance");
            await ParquetExport.WriteAsync(connection, $"SELECT * FROM {PredictionsTable}", bucket, predictions, cancellationToken);

            var names = model.Centroids.ToDictionary(c => c.CentroidId, c => c.Segment);
            predicted.Sizes = predicted.InUserOrder?.Sizes(names) ?? SegmentSizes(connection, PredictionsTable, names);
            _progress.Report(new StageProgress(parameters.RunId, Stages.Predict, AssigningStep, predicted.Sizes.Sum(s => s.Customers), total, "customers",
                string.Create(CultureInfo.InvariantCulture, $"{model.K} segments, predictions written"), Final: true));
            return predicted;
        }
        catch
        {
            predicted.Dispose();
            throw;
        }
    }

    private const string ControlGroupColumn = "in_control_group";
    private const string PreviousCentroidColumn = "previous_centroid_id";
    private const string SinceDaysColumn = "segment_since_days";
    private const string MergedMovementColumns = $", {PreviousCentroidColumn}, {SinceDaysColumn}";

    /// <summary>
    /// The in-process assignments, control group and merged movement lent to DuckDB as functions of a customer's
    /// position in the statistics' parts (<see cref="DuckDbColumns.Lend"/>); returns the select list that reads them
    /// at a row's <c>position</c>, under the predictions' column names.
    /// </summary>
    /// <param name="merged">The movement columns merged in process (<see cref="PreviousSegments"/>), or null.</param>
    private static string LendAssignments(DuckDBConnection connection, SegmentAssignments assignments, bool[] controlGroup,
        (long[] PreviousSegmentIds, long[] SinceDays)? merged)
    {
        var columns = new List<string>();
        void Lend<T>(string column, T[] values)
        {
            DuckDbColumns.Lend(connection, $"lent_{column}", values);
            columns.Add($"lent_{column}(position) AS {column}");
        }
        Lend("centroid_id", assignments.CentroidIds);
        Lend("distance", assignments.Distances);
        Lend(ControlGroupColumn, controlGroup);
        if (merged is { } movement)
        {
            Lend(PreviousCentroidColumn, movement.PreviousSegmentIds);
            Lend(SinceDaysColumn, movement.SinceDays);
        }
        return string.Join(", ", columns);
    }

    /// <summary>
    /// Each row's position in the parts' order, 0 first, as <see cref="ReadStats"/> reads them: DuckDB scans a list of
    /// files in list order and each file in row order, so it is the row's number in its file after the rows of the
    /// files before it.
    /// </summary>
    private static string PositionSql(DuckDBConnection connection, LocalParts parts)
    {
        if (parts.Paths.Count == 1) return "file_row_number";
        var (offsets, offset) = (new List<string>(), 0L);
        for (var file = 0; file < parts.Paths.Count; file++)
        {
            offsets.Add($"WHEN {file} THEN {offset}");
            offset += DuckDb.Scalar<long>(connection, $"SELECT count(*) FROM read_parquet({DuckDb.Literal(parts.Paths[file])})");
        }
        return $"file_row_number + CASE file_index {string.Join(" ", offsets)} END";
    }

    /// <summary>
    /// What the audiences and the segment sizes need of the predictions, as Predict computed them, when the
    /// predictions are in user order: then both come from these arrays instead of queries over the table.
    /// </summary>
    private sealed record AssignedColumns(long[] UserIds, long[] CentroidIds, bool[] ControlGroup)
    {
        /// <summary>Customers per segment, every segment of the model, in id order (as <see cref="SegmentSizes"/>).</summary>
        public List<SegmentSize> Sizes(IReadOnlyDictionary<int, string> names)
        {
            var counts = new long[names.Keys.Max() + 1];
            foreach (var id in CentroidIds) counts[id]++;
            return names.OrderBy(n => n.Key).Select(n => new SegmentSize(n.Key, n.Value, counts[n.Key])).ToList();
        }
    }

    /// <summary>A stage's predictions held in one DuckDB connection, with the parts it reads kept open.</summary>
    private sealed class PredictedRun(DuckDBConnection connection, LocalParts stats, LocalParts? previousParts,
        (PreviousRun Run, string Table)? previous) : IDisposable
    {
        public DuckDBConnection Connection { get; } = connection;
        public (PreviousRun Run, string Table)? Previous { get; } = previous;
        public IReadOnlyList<SegmentSize> Sizes { get; set; } = [];
        /// <summary>The predictions' own columns, when they are in user order (the predictions a view over them).</summary>
        public AssignedColumns? InUserOrder { get; set; }
        /// <summary>The previous run's customers gone by their previous segment, when the movement was merged in process.</summary>
        public IReadOnlyDictionary<long, long>? GoneBySegment { get; set; }

        public void Dispose()
        {
            Connection.Dispose();
            stats.Dispose();
            previousParts?.Dispose();
        }
    }

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
            return Movement(connection, DuckDb.ReadParquet(current), parameters,
                previous is null ? null : (previous, DuckDb.ReadParquet(previousParts!)), sizes);
        }, cancellationToken);

    /// <param name="table">This run's predictions (a table, or a table expression over its parts).</param>
    /// <param name="previous">The previous run and its predictions as a table expression.</param>
    /// <param name="goneBySegment">The previous run's customers absent now, by their previous segment, when the merge
    /// in process counted them (<see cref="PreviousSegments.Merge"/>); null: an anti-join counts them.</param>
    private static SegmentMovement Movement(DuckDBConnection connection, string table, RunParameters parameters,
        (PreviousRun Run, string Table)? previous, IReadOnlyList<SegmentSize> sizes, IReadOnlyDictionary<long, long>? goneBySegment = null)
    {
        long newest, control;
        using (var command = DuckDb.Command(connection,
            $"SELECT coalesce(min(days_since_last_order), 0), count(*) FILTER (WHERE control_group) FROM {table}"))
        using (var reader = command.ExecuteReader())
        {
            reader.Read();
            newest = Convert.ToInt64(reader.GetValue(0), CultureInfo.InvariantCulture);
            control = reader.GetInt64(1);
        }
        MigrationMatrix.PreviousRun? before = null;
        var flows = new List<MigrationFlow>();
        if (previous is { } p)
        {
            before = new MigrationMatrix.PreviousRun(p.Run.RunId, p.Run.AsOf, SegmentSizes(connection, p.Table, null));
            // Returning and new customers by their previous segment; then last run's customers absent now.
            using var command = DuckDb.Command(connection, goneBySegment is null
                ? $"""
                    SELECT previous_segment_id, centroid_id, count(*) FROM {table} GROUP BY ALL
                    UNION ALL
                    SELECT p.centroid_id, NULL, count(*) FROM {p.Table} AS p ANTI JOIN {table} AS c ON c.user_id = p.user_id GROUP BY ALL
                    """
                : $"SELECT previous_segment_id, centroid_id, count(*) FROM {table} GROUP BY ALL");
            using var reader = command.ExecuteReader();
            while (reader.Read())
                flows.Add(new MigrationFlow(reader.IsDBNull(0) ? null : Convert.ToInt32(reader.GetValue(0), CultureInfo.InvariantCulture),
                    reader.IsDBNull(1) ? null : Convert.ToInt32(reader.GetValue(1), CultureInfo.InvariantCulture), reader.GetInt64(2)));
            flows.AddRange((goneBySegment ?? new Dictionary<long, long>()).Select(g => new MigrationFlow(checked((int)g.Key), null, g.Value)));
        }
        return new SegmentMovement(MigrationMatrix.Build(parameters.RunId, parameters.AsOf, before, sizes, flows), newest, control);
    }

    public Task<IReadOnlyList<AudienceFile>> WriteAudiencesAsync(RunParameters parameters, SegmentModel model, CancellationToken cancellationToken) =>
        Task.Run<IReadOnlyList<AudienceFile>>(async () =>
        {
            using var current = await bucket.OpenLocalPartsAsync(BucketLayout.Predictions(parameters.RunId), cancellationToken);
            using var connection = DuckDb.Open(options.Value);
            // The parts once into memory: every audience then reads the table, not the Parquet again.
            DuckDb.Execute(connection, $"CREATE TEMP TABLE {PredictionsTable} AS SELECT user_id, centroid_id, control_group FROM {DuckDb.ReadParquet(current)}");
            return await WriteAudiencesAsync(connection, PredictionsTable, parameters, model, cancellationToken);
        }, cancellationToken);

    private async Task<IReadOnlyList<AudienceFile>> WriteAudiencesAsync(DuckDBConnection connection, string table, RunParameters parameters,
        SegmentModel model, CancellationToken cancellationToken)
    {
        var counts = new Dictionary<long, long>();
        using (var command = DuckDb.Command(connection, $"SELECT centroid_id, count(*) FROM {table} WHERE NOT control_group GROUP BY centroid_id"))
        using (var reader = command.ExecuteReader())
            while (reader.Read()) counts[reader.GetInt64(0)] = reader.GetInt64(1);
        var files = new List<AudienceFile>();
        foreach (var centroid in model.Centroids.OrderBy(c => c.CentroidId))
        {
            var objectName = BucketLayout.Audience(parameters.RunId, centroid.Segment);
            await ParquetExport.WriteCsvAsync(connection,
                $"SELECT user_id FROM {table} WHERE centroid_id = {centroid.CentroidId} AND NOT control_group ORDER BY user_id",
                bucket, objectName, cancellationToken);
            files.Add(new AudienceFile(centroid.CentroidId, centroid.Segment, objectName, counts.GetValueOrDefault(centroid.CentroidId)));
        }
        return files;
    }

    /// <summary>
    /// The audiences straight from the predictions' columns in user order: the bytes DuckDB's CSV COPY of the query
    /// above writes (<see cref="AudienceCsv"/>), without a filtered, sorted scan per segment.
    /// </summary>
    private async Task<IReadOnlyList<AudienceFile>> WriteAudiencesAsync(AssignedColumns columns, RunParameters parameters, SegmentModel model,
        CancellationToken cancellationToken)
    {
        var centroids = model.Centroids.OrderBy(c => c.CentroidId).ToList();
        var csv = AudienceCsv.Write(columns.UserIds, columns.CentroidIds, columns.ControlGroup, centroids.Select(c => (long)c.CentroidId).ToList());
        var files = new List<AudienceFile>();
        for (var k = 0; k < centroids.Count; k++)
        {
            var objectName = BucketLayout.Audience(parameters.RunId, centroids[k].Segment);
            await bucket.WriteAsync(objectName, csv[k].Text, ContentTypes.Csv, null, cancellationToken);
            files.Add(new AudienceFile(centroids[k].CentroidId, centroids[k].Segment, objectName, csv[k].Customers));
        }
        return files;
    }

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
    /// <param name="controlGroupColumn">A boolean column of the predictions that already holds the control group
    /// (computed in process by <see cref="ControlGroup"/>), left out of the result; null computes it here.</param>
    /// <param name="inUserOrder">The predictions are already in <c>user_id</c> order: with nothing to join they are
    /// kept in that order instead of sorted again.</param>
    /// <param name="mergedMovement">The predictions carry the movement merged in process (<see cref="PreviousSegments"/>)
    /// as <c>previous_centroid_id</c> and <c>segment_since_days</c>; <paramref name="previousSegments"/> is then null.</param>
    public static string MovementSql(string predictionsTable, string? previousSegments, DateOnly asOf, AudienceOptions audiences,
        string? controlGroupColumn = null, bool inUserOrder = false, bool mergedMovement = false)
    {
        var column = controlGroupColumn ?? HashedControlGroupColumn;
        var predictions = controlGroupColumn is null ? $"({ControlGroupSql(predictionsTable, audiences, column)})" : predictionsTable;
        var today = DateLiteral(asOf);
        var excluded = mergedMovement ? $"{column}{MergedMovementColumns}" : column;
        // With no previous run every customer is new: no join, and a sort only when the rows come unordered.
        var (movement, join) = mergedMovement
            ? ($"""
                NULLIF(p.{PreviousCentroidColumn}, {PreviousSegments.New}) AS previous_segment_id,
                  {PreviousSegments.DateSql($"p.{SinceDaysColumn}")} AS segment_since
                """, "")
            : previousSegments is null
            ? ($"CAST(NULL AS BIGINT) AS previous_segment_id, {today} AS segment_since", "")
            : ($"""
                CAST(prev.centroid_id AS BIGINT) AS previous_segment_id,
                  CASE WHEN prev.centroid_id = p.centroid_id THEN prev.segment_since ELSE {today} END AS segment_since
                """, $"LEFT JOIN ({previousSegments}) AS prev ON prev.user_id = p.user_id");
        var order = previousSegments is null && inUserOrder ? "" : "ORDER BY p.user_id";
        return $"""
            SELECT
              p.* EXCLUDE ({excluded}),
              {movement},
              {today} AS run_as_of,
              p.{column} AS control_group
            FROM {predictions} AS p {join}
            {order}
            """;
    }

    private const string HashedControlGroupColumn = "hashed_control_group";

    /// <summary>
    /// The predictions with a boolean <paramref name="column"/>: the control group as SQL, the same integer mix as
    /// <see cref="HoldOutSplit"/>, seeded by the salt (<see cref="ControlGroup"/>).
    /// </summary>
    private static string ControlGroupSql(string predictionsTable, AudienceOptions audiences, string column)
    {
        var seed = ControlGroup.SaltSeed(audiences.ControlGroupSalt).ToString(CultureInfo.InvariantCulture);
        var threshold = ControlGroup.Threshold(audiences.ControlGroupShare).ToString(CultureInfo.InvariantCulture);
        return $"""
            WITH
              h0 AS (
                SELECT p.*,
                  (abs(CAST(p.user_id AS BIGINT)) % {HoldOutSplit.Modulus} + CAST({seed} AS BIGINT) * {HoldOutSplit.SeedMultiplier}) % {HoldOutSplit.Modulus} AS h
                FROM {predictionsTable} AS p),
              h1 AS (SELECT * REPLACE (xor(h, h >> 16) AS h) FROM h0),
              h2 AS (SELECT * REPLACE ((h * {HoldOutSplit.FirstMultiplier}) % {HoldOutSplit.Modulus} AS h) FROM h1),
              h3 AS (SELECT * REPLACE (xor(h, h >> 15) AS h) FROM h2),
              h4 AS (SELECT * REPLACE ((h * {HoldOutSplit.SecondMultiplier}) % {HoldOutSplit.Modulus} AS h) FROM h3),
              h5 AS (SELECT * REPLACE (xor(h, h >> 16) AS h) FROM h4)
            SELECT * EXCLUDE (h), h % {HoldOutSplit.Buckets} < {threshold} AS {column}
            FROM h5
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
        string Delta(Centroid c, int f) => $"(z{f} - {StandardizedCentroidSql(model, c, f)})";
        var squared = string.Join(",\n            ", ordered.Select(c =>
            string.Join(" + ", Enumerable.Range(0, 3).Select(f => $"{Delta(c, f)} * {Delta(c, f)}")) + $" AS d{c.CentroidId}"));
        var all = string.Join(", ", ordered.Select(c => $"d{c.CentroidId}"));
        var nearest = string.Join(" ", ordered.Select(c => $"WHEN d{c.CentroidId} = d_min THEN {c.CentroidId}"));
        return $"""
            SELECT user_id, centroid_id, distance, {SegmentNameSql(model, "centroid_id")} AS segment,
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
                            SELECT *, {string.Join(", ", Enumerable.Range(0, 3).Select(f => $"{StandardizedSql(model, f)} AS z{f}"))}
                            FROM {statsTable}
                        )
                    )
                )
            )
            """;
    }

    /// <summary>A feature column in standardized units, as SQL.</summary>
    private static string StandardizedSql(SegmentModel model, int feature) => model.Standardization.StdDevs[feature] > 0
        ? $"({Features.All[feature]} - {DuckDb.Number(model.Standardization.Means[feature])}) / {DuckDb.Number(model.Standardization.StdDevs[feature])}"
        : "0.0";

    /// <summary>A centroid's coordinate in standardized units, as a SQL literal.</summary>
    private static string StandardizedCentroidSql(SegmentModel model, Centroid centroid, int feature) =>
        DuckDb.Number(model.Standardization.Standardize(feature, centroid[feature]));

    /// <summary>
    /// Standardizes the customers in place and returns the centroids in standardized units (in id order), as the
    /// doubles <see cref="PredictionSql"/> computes: DuckDB reads a literal such as 163.88153286512394 as a
    /// DECIMAL, subtracts it from an integer column exactly and turns decimals into doubles its own way, which is
    /// not always the nearest double. So DuckDB computes an integer feature's standardized value once per value
    /// in its range, and a double feature is standardized with DuckDB's own readings of the mean and deviation.
    /// Null when a feature's range is too wide to tabulate or its type is neither (then only the SQL will do).
    /// </summary>
    private static double[]? StandardizeAsPredictionSql(DuckDBConnection connection, IReadOnlyDictionary<string, string> types,
        SegmentModel model, CustomerFeatures customers)
    {
        const int d = CustomerFeatures.Dimensions;
        double AsDuckDb(string literal) => DuckDb.Scalar<double>(connection, $"SELECT CAST({literal} AS DOUBLE)");

        var values = customers.Values;
        var standardization = model.Standardization;
        if (Features.All.Any(column => !IsExactAsDouble(types.GetValueOrDefault(column)))) return null;
        var integers = Enumerable.Range(0, d).Where(f => standardization.StdDevs[f] > 0 && IsSignedUpToBigint(types[Features.All[f]])).ToArray();
        var ranges = IntegerRanges(values, integers);
        if (ranges.Any(r => r.Max >= r.Min && (Int128)r.Max - r.Min >= MaxTabulatedRange)) return null;

        // Each feature's value → standardized value, as DuckDB computes it: a table of an integer feature's whole
        // range, DuckDB's own readings of a double feature's mean and deviation, or 0 for a constant feature.
        var tables = new double[d][];
        var offsets = new long[d];
        var (means, deviations) = (new double[d], new double[d]);
        for (var f = 0; f < d; f++)
        {
            var column = Features.All[f];
            if (!(standardization.StdDevs[f] > 0)) continue;
            if (Array.IndexOf(integers, f) is var k and >= 0)
            {
                var (min, max) = ranges[k];
                offsets[f] = min;
                tables[f] = new double[max < min ? 0 : max - min + 1]; // no customers: nothing to look up
                if (tables[f].Length == 0) continue;
                using var command = DuckDb.Command(connection, $"""
                    SELECT {StandardizedSql(model, f)}
                    FROM (SELECT CAST(range AS {types[column]}) AS {column} FROM range({min}, {max} + 1)) ORDER BY {column}
                    """);
                using var reader = command.ExecuteReader();
                for (var j = 0; reader.Read(); j++) tables[f][j] = reader.GetDouble(0);
            }
            else
            {
                means[f] = AsDuckDb(DuckDb.Number(standardization.Means[f]));
                deviations[f] = AsDuckDb(DuckDb.Number(standardization.StdDevs[f]));
            }
        }
        RowChunks.For(customers.Count, (_, from, to) =>
        {
            for (var f = 0; f < d; f++)
            {
                var (table, offset, constant) = (tables[f], offsets[f], !(standardization.StdDevs[f] > 0));
                var (mean, deviation) = (means[f], deviations[f]);
                for (var i = from; i < to; i++)
                {
                    ref var value = ref values[i * d + f];
                    value = constant ? 0 : table is not null ? table[(long)value - offset] : (value - mean) / deviation;
                }
            }
        });
        var centroids = model.Centroids.OrderBy(c => c.CentroidId).ToList();
        var standardized = new double[centroids.Count * d];
        for (var c = 0; c < centroids.Count; c++)
            for (var f = 0; f < d; f++)
                standardized[c * d + f] = AsDuckDb(StandardizedCentroidSql(model, centroids[c], f));
        return standardized;
    }

    /// <summary>
    /// Whole numbers and doubles: the types whose values a DOUBLE holds exactly (a statistic's whole numbers are far
    /// below 2^53), so the values read for the model are the values the prediction SQL standardizes.
    /// </summary>
    private static bool IsExactAsDouble(string? type) => IsSignedUpToBigint(type) || type is "DOUBLE";

    /// <summary>
    /// The whole-number types every value of which a <c>long</c> holds (the signed ones up to BIGINT): read as BIGINT
    /// without a change, and written as text the way DuckDB writes them.
    /// </summary>
    private static bool IsSignedUpToBigint(string? type) => type is "BIGINT" or "INTEGER" or "SMALLINT" or "TINYINT";

    /// <summary>The least and greatest value of each of <paramref name="features"/>, in one pass on every core.</summary>
    private static (long Min, long Max)[] IntegerRanges(double[] values, int[] features)
    {
        const int d = CustomerFeatures.Dimensions;
        var rows = values.Length / d;
        var chunks = new (long Min, long Max)[RowChunks.Count(rows), features.Length];
        RowChunks.For(rows, (chunk, from, to) =>
        {
            for (var k = 0; k < features.Length; k++)
            {
                var (min, max) = (long.MaxValue, long.MinValue);
                for (var i = from; i < to; i++)
                {
                    var value = (long)values[i * d + features[k]];
                    min = Math.Min(min, value);
                    max = Math.Max(max, value);
                }
                chunks[chunk, k] = (min, max);
            }
        });
        return features.Select((_, k) => Enumerable.Range(0, chunks.GetLength(0))
            .Aggregate((Min: long.MaxValue, Max: long.MinValue), (r, c) => (Math.Min(r.Min, chunks[c, k].Min), Math.Max(r.Max, chunks[c, k].Max)))).ToArray();
    }

    /// <summary>The widest range of an integer feature whose standardized values are tabulated (a few megabytes).</summary>
    private const long MaxTabulatedRange = 1 << 20;

    /// <summary>A centroid id column's segment names.</summary>
    private static string SegmentNameSql(SegmentModel model, string centroidId) =>
        $"CASE {centroidId} " + string.Join(" ", model.Centroids.OrderBy(c => c.CentroidId).Select(c => $"WHEN {c.CentroidId} THEN {DuckDb.Literal(c.Segment)}")) + " END";

    /// <summary>
    /// <see cref="SegmentNameSql"/> as an ENUM of the model's names: the Parquet writer takes each row's name from the
    /// ENUM's index, where a VARCHAR's every name is hashed into the column's dictionary (0.15–0.2 s of writing 9.4
    /// million predictions). The file is the same to a reader: a UTF-8 string column, dictionary-encoded.
    /// </summary>
    private static string SegmentNameEnumSql(SegmentModel model, string centroidId) =>
        $"CAST({SegmentNameSql(model, centroidId)} AS ENUM({string.Join(", ", model.Centroids.Select(c => c.Segment).Distinct().Select(DuckDb.Literal))}))";

    private async Task<CustomerFeatures> ReadStatsAsync(string runId, CancellationToken cancellationToken)
    {
        using var stats = await bucket.OpenLocalPartsAsync(BucketLayout.CustomerStats(runId), cancellationToken);
        using var connection = DuckDb.Open(options.Value);
        return ReadStats(connection, DuckDb.ReadParquet(stats));
    }

    /// <summary>
    /// The statistics' user ids and features, in the parts' order, read a vector at a time as two streams side by side
    /// (<see cref="DuckDbColumnReader.ReadSideBySide"/>).
    /// </summary>
    /// <param name="table">The statistics' parts (<see cref="DuckDb.ReadParquet"/>).</param>
    private static CustomerFeatures ReadStats(DuckDBConnection connection, string table)
    {
        const int d = CustomerFeatures.Dimensions;
        var count = DuckDb.Scalar<long>(connection, $"SELECT count(*) FROM {table}");
        var ids = new long[count];
        var values = new double[count * d];
        // In the parts' order, by user (DuckDB keeps a scan's order): no sort needed. Streamed, so the chunks go
        // straight into the arrays, never into a materialized copy of the table.
        DuckDbColumnReader.ReadSideBySide(connection, table,
            [("CAST(user_id AS BIGINT)", new(ids)), .. Enumerable.Range(0, d).Select(f => ($"CAST({Features.All[f]} AS DOUBLE)", new DuckDbColumnReader.Target(values, f, d)))]);
        return new CustomerFeatures(ids, values);
    }
}
