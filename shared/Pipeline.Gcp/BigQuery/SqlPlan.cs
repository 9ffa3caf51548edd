using System.Globalization;
using System.Text;
using Pipeline.Core;

namespace Pipeline.Gcp;

/// <summary>
/// Every SQL statement the GCP backend sends to BigQuery for a run, built in one place: the stages execute these
/// statements, and the Runner's <c>plan</c> command prints them (with their parameters) without contacting Google.
/// Values of the run are named query parameters; names of tables and models are checked identifiers; the only
/// literals are the constants of the method (the split's hash constants, a preset's statuses, BigQuery ML options,
/// which its grammar takes as literals, and the configured table expiration).
/// </summary>
public sealed class SqlPlan
{
    /// <summary>The candidates for <c>"k": "auto"</c>; the lowest Davies–Bouldin index on the held-out customers wins.</summary>
    public static IReadOnlyList<int> AutoCandidates { get; } = [2, 3, 4, 5, 6, 7, 8];

    /// <summary>How many quantiles of each feature the population profile keeps (APPROX_QUANTILES).</summary>
    public const int PopulationQuantiles = 1000;

    private readonly GcpOptions _options;
    private readonly RunParameters _run;
    private readonly string _suffix;
    private readonly string _bucket;

    public SqlPlan(GcpOptions options, RunParameters run)
    {
        _options = options;
        _run = run;
        _suffix = BigQueryNames.RunSuffix(run.RunId);
        StatsTable = Table($"stats_{_suffix}");
        SplitTable = Table($"split_{_suffix}");
        PredictionsTable = Table($"predictions_{_suffix}");
        AssignmentsTable = Table($"assignments_{_suffix}");
        SourceTable = BigQueryNames.Quote(options.SourceTable);
        UsersTable = string.IsNullOrEmpty(options.UsersTable) ? null : BigQueryNames.Quote(options.UsersTable);
        ProductsTable = string.IsNullOrEmpty(options.ProductsTable) ? null : BigQueryNames.Quote(options.ProductsTable);
        _bucket = BigQueryNames.IsBucketName(options.Bucket)
            ? options.Bucket
            : throw new ArgumentException($"'{options.Bucket}' is not a valid Cloud Storage bucket name", nameof(options));
        CustomerSegmentsTable = Table(CustomerSegments);
        SegmentRunsTable = Table(SegmentRuns);
        LatestView = Table(CustomerSegmentsLatest);
    }

    /// <summary>Every run's predictions, kept: partitioned by the run's as_of, clustered by segment, never expiring.</summary>
    public const string CustomerSegments = "customer_segments";
    /// <summary>The runs that completed (or were released), and when each became latest.</summary>
    public const string SegmentRuns = "segment_runs";
    /// <summary>The view over <see cref="CustomerSegments"/> for the run latest.json points at, which activation reads.</summary>
    public const string CustomerSegmentsLatest = "customer_segments_latest";

    public string StatsTable { get; }
    public string SplitTable { get; }
    public string PredictionsTable { get; }
    /// <summary>ML.PREDICT's nearest centroids, before the movement columns are joined on.</summary>
    public string AssignmentsTable { get; }
    public string SourceTable { get; }
    /// <summary>The users table profiles read, or null when none is configured.</summary>
    public string? UsersTable { get; }
    /// <summary>The products table profiles read, or null when none is configured.</summary>
    public string? ProductsTable { get; }
    public string CustomerSegmentsTable { get; }
    public string SegmentRunsTable { get; }
    public string LatestView { get; }

    /// <summary>The model trained for <paramref name="k"/>.</summary>
    public string Model(int k) => Table($"model_{_suffix}_k{k}");

    /// <summary>The k values TrainModel trains: the run's k, or every auto candidate.</summary>
    public IReadOnlyList<int> Candidates => _run.K is { } k ? [k] : AutoCandidates;

    private string Table(string name) => BigQueryNames.Quote(_options.ProjectId, _options.Dataset, name);

    private string Expiration =>
        $"OPTIONS (expiration_timestamp = TIMESTAMP_ADD(CURRENT_TIMESTAMP(), INTERVAL {_options.TableExpirationDays.ToString(CultureInfo.InvariantCulture)} DAY))";

    private SqlStatement Statement(string stage, string key, string purpose, string sql, params QueryParameter[] parameters) =>
        new(_run.RunId, stage, key, purpose, sql.ReplaceLineEndings("\n").Trim(), parameters);

    // ---- BuildStats -------------------------------------------------------------------------------------------

    /// <summary>
    /// True for an order item whose <c>sale_price</c> is NaN or ±infinity: FLOAT64 holds them, and one of them makes
    /// its customer's average spend, and then every centroid, NaN. The embedded backend refuses the same values.
    /// </summary>
    private const string NonFinitePrice = "(IS_NAN(sale_price) OR IS_INF(sale_price))";

    /// <summary>
    /// The run's per-customer statistics (CONTRACT.md, "Customer statistics"), as a table that expires, with each
    /// customer's counted items, distinct orders and revenue, which the profiles add up (the embedded backend's
    /// columns, <see cref="BucketTables.CustomerStats"/>). In the same pass it counts the order items with a non-finite <c>sale_price</c> anywhere in the source, as the embedded
    /// backend counts bad values of its input, with one of them as an example; the summary reads the count and the
    /// stage refuses the input before anything is exported.
    /// </summary>
    public SqlStatement Stats()
    {
        var (countOrders, averageSpend, filter) = _run.Metrics switch
        {
            StatsPreset.Rfm => ("COUNT(DISTINCT order_id)", "SUM(sale_price) / COUNT(DISTINCT order_id)", " AND status NOT IN ('Cancelled', 'Returned')"),
            StatsPreset.Lab => ("COUNT(order_id)", "AVG(sale_price)", ""),
            _ => throw new ArgumentOutOfRangeException(nameof(_run.Metrics)),
        };
        return Statement(Stages.BuildStats, "stats",
            $"per-customer statistics of the window (metrics = {_run.Metrics.ToString().ToLowerInvariant()})",
            $"""
            CREATE OR REPLACE TABLE {StatsTable}
            {Expiration}
            AS
            SELECT
              user_id,
              DATE_DIFF(@as_of, DATE(MAX(created_at)), DAY) AS days_since_last_order,
              {countOrders} AS count_orders,
              {averageSpend} AS average_spend,
              COUNT(*) AS items_counted,
              COUNT(DISTINCT order_id) AS distinct_orders,
              SUM(sale_price) AS revenue,
              COUNTIF({NonFinitePrice}) AS non_finite_prices,
              MIN(IF({NonFinitePrice}, CAST(sale_price AS STRING), NULL)) AS non_finite_price_example
            FROM {SourceTable}
            WHERE (created_at >= TIMESTAMP(@window_start) AND created_at < TIMESTAMP(@window_end){filter})
              OR {NonFinitePrice}
            GROUP BY user_id
            """,
            QueryParameter.ForDate("as_of", _run.AsOf),
            QueryParameter.ForDate("window_start", _run.WindowStart),
            QueryParameter.ForDate("window_end", _run.WindowEnd));
    }

    public SqlStatement StatsSummary() => Statement(Stages.BuildStats, "stats_summary",
        "how many customers and counted items the statistics cover, and how many items have a non-finite sale_price",
        $"""
        SELECT
          COUNT(*) AS customers,
          IFNULL(SUM(items_counted), 0) AS items_counted,
          IFNULL(SUM(non_finite_prices), 0) AS non_finite_prices,
          MIN(non_finite_price_example) AS non_finite_price_example
        FROM {StatsTable}
        """);

    /// <summary>
    /// <c>customer_stats/part-*.parquet</c>, written by BigQuery straight into the bucket: no row passes through the
    /// function. Each column is cast to the type <see cref="BucketTables.CustomerStats"/> fixes for both backends.
    /// No ORDER BY: a sorted export is sorted on one slot, and readers do not rely on the order.
    /// </summary>
    public SqlStatement StatsExport() => Statement(Stages.BuildStats, "stats_export",
        "customer_stats/part-*.parquet, exported by BigQuery into the bucket",
        Export(BucketLayout.CustomerStats(_run.RunId),
            $"SELECT\n{string.Join(",\n", BucketTables.CustomerStats.Select(c => $"  CAST({c.Name} AS {c.BigQueryType}) AS {c.Name}"))}\nFROM {StatsTable}"));

    /// <summary>
    /// <c>EXPORT DATA</c> of a query to a table's prefix. The URI is a literal (the statement's grammar takes no
    /// parameter there) built from the validated bucket name and run id; <c>overwrite</c> lets a later attempt replace
    /// what an earlier one wrote (<see cref="ExportedParts"/> removes the surplus).
    /// </summary>
    private string Export(string tablePrefix, string query, string extension = ExportedParts.Parquet) => $"""
        EXPORT DATA OPTIONS (
          uri = '{ExportedParts.Uri(_bucket, tablePrefix, extension)}',
          {(extension == ExportedParts.Csv ? "format = 'CSV',\n  header = FALSE," : "format = 'PARQUET',\n  compression = 'SNAPPY',")}
          overwrite = TRUE)
        AS
        {query}
        """;

    // ---- TrainModel -------------------------------------------------------------------------------------------

    /// <summary>
    /// The integer mix of <c>HoldOutSplit.Bucket</c> after its first step (h0, the id and seed folded into 32 bits):
    /// the CTEs h1 to h5, each line after the first indented to follow a WITH list. The split and the control group
    /// share it.
    /// </summary>
    private const string MixSteps = """
        h1 AS (SELECT * REPLACE (h ^ (h >> 16) AS h) FROM h0),
          h2 AS (SELECT * REPLACE (MOD(h * 2146121005, 4294967296) AS h) FROM h1),
          h3 AS (SELECT * REPLACE (h ^ (h >> 15) AS h) FROM h2),
          h4 AS (SELECT * REPLACE (MOD(h * 1540483477, 4294967296) AS h) FROM h3),
          h5 AS (SELECT * REPLACE (h ^ (h >> 16) AS h) FROM h4)
        """;

    /// <summary>
    /// The deterministic train/test split (CONTRACT.md, "Model"), the same rule as <c>HoldOutSplit.IsHeldOut</c>:
    /// a 32-bit mix of the user id and the seed, held out when it falls in the first <c>test_fraction</c> of 10,000
    /// buckets. Every product stays below 2^63, so INT64 arithmetic is exact.
    /// </summary>
    public SqlStatement Split() => Statement(Stages.TrainModel, "split",
        "the deterministic hold-out split of the customers",
        $"""
        CREATE OR REPLACE TABLE {SplitTable}
        {Expiration}
        AS
        WITH
          h0 AS (SELECT *, MOD(ABS(user_id) + @seed * 1000003, 4294967296) AS h FROM {StatsTable}),
          {MixSteps}
        SELECT
          user_id,
          days_since_last_order,
          count_orders,
          average_spend,
          MOD(h, 10000) < CAST(ROUND(@test_fraction * 10000) AS INT64) AS held_out
        FROM h5
        """,
        QueryParameter.ForInt64("seed", _run.Seed),
        QueryParameter.ForFloat64("test_fraction", _run.TestFraction));

    /// <summary>
    /// The split's sizes and every customer's feature quantiles (the population the centroids are scored against).
    /// The standardization is not recomputed here: <see cref="FeatureInfo(int)"/> reads BigQuery ML's own.
    /// </summary>
    public SqlStatement TrainingSummary()
    {
        var columns = new StringBuilder();
        columns.Append("  COUNTIF(NOT held_out) AS training_customers,\n  COUNTIF(held_out) AS test_customers");
        foreach (var feature in Features.All)
            columns.Append(CultureInfo.InvariantCulture,
                $",\n  APPROX_QUANTILES(CAST({feature} AS FLOAT64), {PopulationQuantiles}) AS quantiles_{feature}");
        return Statement(Stages.TrainModel, "training_summary",
            "split sizes and population quantiles",
            $"SELECT\n{columns}\nFROM {SplitTable}");
    }

    /// <summary>K-means with BigQuery ML's defaults the contract names, on the training split.</summary>
    public SqlStatement TrainModel(int k) => Statement(Stages.TrainModel, $"model_k{k}",
        $"K-means with k = {k} on the training customers",
        $"""
        CREATE OR REPLACE MODEL {Model(k)}
        OPTIONS (
          model_type = 'KMEANS',
          num_clusters = {CheckedK(k)},
          kmeans_init_method = 'KMEANS++',
          distance_type = 'EUCLIDEAN',
          standardize_features = TRUE,
          max_iterations = 20,
          early_stop = TRUE,
          min_rel_progress = 0.01
        )
        AS
        SELECT days_since_last_order, count_orders, average_spend
        FROM {SplitTable}
        WHERE NOT held_out
        """);

    /// <summary>CREATE MODEL takes no expiration option; ALTER MODEL sets it, so old runs' models clean themselves up.</summary>
    public SqlStatement ExpireModel(int k) => Statement(Stages.TrainModel, $"model_k{k}_expiration",
        $"let the k = {k} model expire with the run's tables",
        $"ALTER MODEL {Model(k)}\nSET {Expiration}");

    /// <summary>
    /// ML.EVALUATE of every candidate on the held-out customers (on the training customers when none is held
    /// out, as the embedded engine does).
    /// </summary>
    public SqlStatement Evaluate(IReadOnlyList<int>? candidates = null, bool onHeldOut = true) => Statement(Stages.TrainModel, "evaluate",
        "Davies-Bouldin index and mean squared distance on the held-out customers",
        string.Join("\nUNION ALL\n", (candidates ?? Candidates).Select(k => $"""
            SELECT {CheckedK(k)} AS k, davies_bouldin_index, mean_squared_distance
            FROM ML.EVALUATE(MODEL {Model(k)}, (
              SELECT days_since_last_order, count_orders, average_spend
              FROM {SplitTable}
              WHERE held_out = @evaluate_held_out))
            """)) + "\nORDER BY k",
        QueryParameter.ForBool("evaluate_held_out", onHeldOut));

    /// <summary>ML.CENTROIDS pivoted to one row a centroid, in original units (standardize = FALSE, the default).</summary>
    public SqlStatement Centroids(IReadOnlyList<int>? candidates = null) => Statement(Stages.TrainModel, "centroids",
        "every candidate's centroids, one row a centroid, in original units",
        string.Join("\nUNION ALL\n", (candidates ?? Candidates).Select(k =>
            $"SELECT\n  {CheckedK(k)} AS k,\n  centroid_id,\n" +
            string.Join(",\n", Features.All.Select(f => $"  MAX(IF(feature = '{f}', numerical_value, NULL)) AS {f}")) +
            $"\nFROM ML.CENTROIDS(MODEL {Model(k)})\nGROUP BY centroid_id")) + "\nORDER BY k, centroid_id");

    /// <summary>How many iterations each candidate ran, and its final loss.</summary>
    public SqlStatement TrainingInfo(IReadOnlyList<int>? candidates = null) => Statement(Stages.TrainModel, "training_info",
        "iterations and final training loss of every candidate",
        string.Join("\nUNION ALL\n", (candidates ?? Candidates).Select(k => $"""
            SELECT {CheckedK(k)} AS k, COUNT(*) AS iterations, ARRAY_AGG(loss ORDER BY iteration DESC LIMIT 1)[OFFSET(0)] AS loss
            FROM ML.TRAINING_INFO(MODEL {Model(k)})
            """)) + "\nORDER BY k");

    /// <summary>
    /// The mean and standard deviation BigQuery ML standardized each feature with (<c>ML.FEATURE_INFO</c>), so that
    /// model.json un-standardizes and predicts with exactly the model's numbers.
    /// </summary>
    public SqlStatement FeatureInfo(int k) => FeatureInfo(Model(k));

    /// <summary>The same statement for the plan, where with <c>k: auto</c> the model is known only after training.</summary>
    public SqlStatement PlannedFeatureInfo() =>
        FeatureInfo(_run.K is { } k ? Model(k) : $"`{_options.ProjectId}.{_options.Dataset}.model_{_suffix}_k{{k}}`");

    private SqlStatement FeatureInfo(string model) => Statement(Stages.TrainModel, "feature_info",
        "the mean and standard deviation BigQuery ML standardized each feature with",
        $"SELECT input, mean, stddev\nFROM ML.FEATURE_INFO(MODEL {model})");

    // ---- Predict ----------------------------------------------------------------------------------------------

    /// <summary>
    /// ML.PREDICT for every customer (not only the held-out ones), with BigQuery ML's centroid ids mapped to the
    /// model's stable ids and segment names: <c>@centroid_ids[OFFSET(i - 1)]</c> is the stable id of engine centroid i.
    /// </summary>
    public SqlStatement Predictions(SegmentModel model)
    {
        var byEngineId = model.Centroids.OrderBy(c => c.EngineCentroidId ?? c.CentroidId).ToList();
        if (!byEngineId.Select(c => c.EngineCentroidId ?? c.CentroidId).SequenceEqual(Enumerable.Range(1, model.K)))
            throw new PermanentPipelineException($"the model's engine centroid ids are not 1..{model.K}");
        return Predictions(Model(model.K),
            QueryParameter.ForInt64Array("centroid_ids", byEngineId.Select(c => (long)c.CentroidId)),
            QueryParameter.ForStringArray("segments", byEngineId.Select(c => c.Segment)));
    }

    /// <summary>The same statement for the plan, before any model exists.</summary>
    public SqlStatement PlannedPredictions()
    {
        const string until = "after TrainModel, from model.json";
        var model = _run.K is { } k ? Model(k) : $"`{_options.ProjectId}.{_options.Dataset}.model_{_suffix}_k{{k}}`";
        return Predictions(model,
            QueryParameter.Deferred("centroid_ids", "ARRAY<INT64>", until),
            QueryParameter.Deferred("segments", "ARRAY<STRING>", until));
    }

    private SqlStatement Predictions(string model, QueryParameter centroidIds, QueryParameter segments) =>
        Statement(Stages.Predict, "predictions",
            "a segment for every customer, with the stable centroid ids",
            $"""
            CREATE OR REPLACE TABLE {AssignmentsTable}
            {Expiration}
            AS
            SELECT
              user_id,
              @centroid_ids[OFFSET(p.centroid_id - 1)] AS centroid_id,
              (SELECT d.distance FROM UNNEST(p.nearest_centroids_distance) AS d WHERE d.centroid_id = p.centroid_id) AS distance,
              @segments[OFFSET(p.centroid_id - 1)] AS segment,
              days_since_last_order,
              count_orders,
              average_spend
            FROM ML.PREDICT(MODEL {model}, (
              SELECT user_id, days_since_last_order, count_orders, average_spend
              FROM {StatsTable})) AS p
            """,
            centroidIds, segments);

    /// <summary>The persistent table of every run's customer segments (idempotent; never expires).</summary>
    public SqlStatement CustomerSegmentsSetup() => Statement(Stages.Predict, "customer_segments_table",
        "the persistent customer_segments table, partitioned by run date and clustered by segment, if it does not exist",
        $"""
        CREATE TABLE IF NOT EXISTS {CustomerSegmentsTable} (
          run_id STRING NOT NULL,
          run_as_of DATE NOT NULL,
          user_id INT64 NOT NULL,
          centroid_id INT64 NOT NULL,
          distance FLOAT64,
          segment STRING,
          days_since_last_order INT64,
          count_orders INT64,
          average_spend FLOAT64,
          previous_segment_id INT64,
          segment_since DATE,
          control_group BOOL
        )
        PARTITION BY run_as_of
        CLUSTER BY centroid_id
        OPTIONS (description = 'The customer segments of every run; {CustomerSegmentsLatest} shows the latest completed run')
        """);

    /// <summary>The record of completed runs the latest view reads (idempotent; never expires).</summary>
    public SqlStatement SegmentRunsSetup() => Statement(Stages.Predict, "segment_runs_table",
        "the record of completed runs, if it does not exist",
        $"""
        CREATE TABLE IF NOT EXISTS {SegmentRunsTable} (
          run_id STRING NOT NULL,
          run_as_of DATE NOT NULL,
          completed_at TIMESTAMP NOT NULL,
          latest_at TIMESTAMP
        )
        """);

    /// <summary>Activation reads this view: the customer segments of the run that became latest last.</summary>
    public SqlStatement LatestViewSetup() => Statement(Stages.Predict, "customer_segments_latest_view",
        "the view of the latest completed run's customer segments",
        $"""
        CREATE OR REPLACE VIEW {LatestView} AS
        SELECT s.*
        FROM {CustomerSegmentsTable} AS s
        JOIN (
          SELECT run_id, run_as_of
          FROM {SegmentRunsTable}
          WHERE latest_at IS NOT NULL
          ORDER BY latest_at DESC
          LIMIT 1) AS latest
        ON s.run_id = latest.run_id AND s.run_as_of = latest.run_as_of
        """);

    /// <summary>
    /// The predictions with the movement columns (the same rule as the embedded backend's <c>MovementSql</c>):
    /// <c>previous_segment_id</c> from the previous completed run's rows in <c>customer_segments</c> (null when new),
    /// <c>segment_since</c> carried over while the customer stays in the same segment, <c>run_as_of</c>, and the
    /// control group — <c>HoldOutSplit</c>'s integer mix seeded by the salt (<c>ControlGroup.SaltSeed</c>).
    /// </summary>
    /// <param name="previousRunId">The run the model was matched to (model.json's matched_to_run); null for the first run.</param>
    public SqlStatement Movement(string? previousRunId, DateOnly? previousAsOf, AudienceOptions audiences) =>
        Movement(QueryParameter.ForString("previous_run_id", previousRunId ?? ""),
            QueryParameter.ForDate("previous_as_of", previousAsOf ?? _run.AsOf),
            audiences);

    /// <summary>The same statement for the plan, before TrainModel has matched the model to a previous run.</summary>
    public SqlStatement PlannedMovement(AudienceOptions audiences)
    {
        const string until = "after TrainModel, from model.json's matched_to_run and that run's manifest";
        return Movement(QueryParameter.Deferred("previous_run_id", "STRING", until), QueryParameter.Deferred("previous_as_of", "DATE", until), audiences);
    }

    private SqlStatement Movement(QueryParameter previousRunId, QueryParameter previousAsOf, AudienceOptions audiences) =>
        Statement(Stages.Predict, "movement",
            "each customer's segment in the previous run, since when it is in its segment, and the control group",
            $"""
            CREATE OR REPLACE TABLE {PredictionsTable}
            {Expiration}
            AS
            WITH
              previous AS (
                SELECT user_id, centroid_id, segment_since
                FROM {CustomerSegmentsTable}
                WHERE run_as_of = @previous_as_of AND run_id = @previous_run_id),
              h0 AS (
                SELECT a.*, prev.centroid_id AS previous_centroid, prev.segment_since AS previous_since,
                  MOD(MOD(ABS(a.user_id), 4294967296) + @control_seed * 1000003, 4294967296) AS h
                FROM {AssignmentsTable} AS a LEFT JOIN previous AS prev ON prev.user_id = a.user_id),
              {MixSteps}
            SELECT
              user_id,
              centroid_id,
              distance,
              segment,
              days_since_last_order,
              count_orders,
              average_spend,
              previous_centroid AS previous_segment_id,
              IF(previous_centroid = centroid_id, previous_since, @as_of) AS segment_since,
              @as_of AS run_as_of,
              MOD(h, 10000) < @control_threshold AS control_group
            FROM h5
            """,
            previousRunId, previousAsOf,
            QueryParameter.ForDate("as_of", _run.AsOf),
            QueryParameter.ForInt64("control_seed", Analytics.ControlGroup.SaltSeed(audiences.ControlGroupSalt)),
            QueryParameter.ForInt64("control_threshold", Analytics.ControlGroup.Threshold(audiences.ControlGroupShare)));

    /// <summary>
    /// The run's rows into <c>customer_segments</c>, replacing any from an earlier attempt of the same run (one MERGE,
    /// so a redelivery never doubles them).
    /// </summary>
    public SqlStatement RecordSegments() => Statement(Stages.Predict, "customer_segments_rows",
        "the run's rows into customer_segments (replacing an earlier attempt's)",
        $"""
        MERGE {CustomerSegmentsTable} AS t
        USING (SELECT * FROM {PredictionsTable}) AS s
        ON FALSE
        WHEN NOT MATCHED BY SOURCE AND t.run_as_of = @as_of AND t.run_id = @run_id THEN DELETE
        WHEN NOT MATCHED THEN INSERT (run_id, run_as_of, user_id, centroid_id, distance, segment, days_since_last_order, count_orders,
          average_spend, previous_segment_id, segment_since, control_group)
        VALUES (@run_id, s.run_as_of, s.user_id, s.centroid_id, s.distance, s.segment, s.days_since_last_order, s.count_orders,
          s.average_spend, s.previous_segment_id, s.segment_since, s.control_group)
        """,
        QueryParameter.ForDate("as_of", _run.AsOf),
        QueryParameter.ForString("run_id", _run.RunId));

    /// <summary>
    /// The migration matrix's cells: this run's customers by previous and current segment (previous null: new), and
    /// the previous run's customers absent now (current null: gone).
    /// </summary>
    public SqlStatement MigrationFlows(string? previousRunId, DateOnly? previousAsOf) => Statement(Stages.Predict, "migration",
        "the from -> to counts against the previous completed run (new and gone included)",
        $"""
        SELECT previous_segment_id AS from_centroid, centroid_id AS to_centroid, COUNT(*) AS customers
        FROM {PredictionsTable}
        GROUP BY from_centroid, to_centroid
        UNION ALL
        SELECT p.centroid_id AS from_centroid, NULL AS to_centroid, COUNT(*) AS customers
        FROM {CustomerSegmentsTable} AS p
        WHERE p.run_as_of = @previous_as_of AND p.run_id = @previous_run_id
          AND NOT EXISTS (SELECT 1 FROM {PredictionsTable} AS c WHERE c.user_id = p.user_id)
        GROUP BY from_centroid
        """,
        QueryParameter.ForString("previous_run_id", previousRunId ?? ""),
        QueryParameter.ForDate("previous_as_of", previousAsOf ?? _run.AsOf));

    /// <summary>The previous completed run's segment sizes, the matrix's rows.</summary>
    public SqlStatement PreviousSegmentSizes(string? previousRunId, DateOnly? previousAsOf) => Statement(Stages.Predict, "previous_segment_sizes",
        "customers per segment in the previous completed run",
        $"""
        SELECT centroid_id, ANY_VALUE(segment) AS segment, COUNT(*) AS customers
        FROM {CustomerSegmentsTable}
        WHERE run_as_of = @previous_as_of AND run_id = @previous_run_id
        GROUP BY centroid_id
        ORDER BY centroid_id
        """,
        QueryParameter.ForString("previous_run_id", previousRunId ?? ""),
        QueryParameter.ForDate("previous_as_of", previousAsOf ?? _run.AsOf));

    /// <summary>What the quality gate needs besides the model: the newest order's age, and the control group's size.</summary>
    public SqlStatement MovementSummary() => Statement(Stages.Predict, "movement_summary",
        "the age of the window's newest order and the control group's size",
        $"""
        SELECT IFNULL(MIN(days_since_last_order), 0) AS newest_order_days, COUNTIF(control_group) AS control_group
        FROM {PredictionsTable}
        """);

    /// <summary>How many customers each audience file holds: every customer outside the control group, by segment.</summary>
    public SqlStatement AudienceSizes() => Statement(Stages.Predict, "audience_sizes",
        "customers per audience file (segment), control group left out",
        $"""
        SELECT centroid_id, COUNT(*) AS customers
        FROM {PredictionsTable}
        WHERE NOT control_group
        GROUP BY centroid_id
        ORDER BY centroid_id
        """);

    /// <summary>
    /// One segment's audience, exported by BigQuery as headerless CSV parts under
    /// <see cref="AudienceParts.Prefix"/>; the Predict stage composes them with a header into
    /// <c>audiences/{segment}.csv</c>. No ORDER BY: the ids need no order, and sorting millions would run on one slot.
    /// </summary>
    public SqlStatement AudienceExport(int centroidId, string segment) =>
        AudienceExport(string.Create(CultureInfo.InvariantCulture, $"audience_export_{centroidId}"),
            QueryParameter.ForInt64("centroid_id", centroidId), AudienceParts.Prefix(_run.RunId, segment));

    /// <summary>The same statement for the plan, before TrainModel has named the segments.</summary>
    public SqlStatement PlannedAudienceExport() =>
        AudienceExport("audience_export", QueryParameter.Deferred("centroid_id", "INT64", "after TrainModel: one export per segment of model.json"),
            AudienceParts.Prefix(_run.RunId, AudienceParts.PlannedSegment));

    private SqlStatement AudienceExport(string key, QueryParameter centroidId, string partsPrefix) => Statement(Stages.Predict, key,
        "one segment's user ids as CSV parts, exported by BigQuery into the bucket and composed into audiences/{segment}.csv",
        Export(partsPrefix, $"SELECT user_id\nFROM {PredictionsTable}\nWHERE centroid_id = @centroid_id AND NOT control_group", ExportedParts.Csv),
        centroidId);

    /// <summary>
    /// Records a completed (or released) run; with <paramref name="isLatest"/> it becomes what
    /// <c>customer_segments_latest</c> shows. One MERGE, so a repeat changes nothing.
    /// </summary>
    public SqlStatement RecordCompletedRun(bool isLatest) => Statement(Stages.GenerateCampaign, "segment_runs_row",
        "the completed run into segment_runs, which moves customer_segments_latest",
        $"""
        MERGE {SegmentRunsTable} AS t
        USING (SELECT @run_id AS run_id, @as_of AS run_as_of, CURRENT_TIMESTAMP() AS completed_at, IF(@is_latest, CURRENT_TIMESTAMP(), NULL) AS latest_at) AS s
        ON t.run_id = s.run_id
        WHEN MATCHED AND t.latest_at IS NULL AND s.latest_at IS NOT NULL THEN UPDATE SET latest_at = s.latest_at
        WHEN NOT MATCHED THEN INSERT (run_id, run_as_of, completed_at, latest_at) VALUES (s.run_id, s.run_as_of, s.completed_at, s.latest_at)
        """,
        QueryParameter.ForString("run_id", _run.RunId),
        QueryParameter.ForDate("as_of", _run.AsOf),
        QueryParameter.ForBool("is_latest", isLatest));

    public SqlStatement SegmentSizes() => Statement(Stages.Predict, "segment_sizes",
        "customers per segment",
        $"""
        SELECT centroid_id, segment, COUNT(*) AS customers
        FROM {PredictionsTable}
        GROUP BY centroid_id, segment
        ORDER BY centroid_id
        """);

    /// <summary>
    /// <c>predictions/part-*.parquet</c>, written by BigQuery into the bucket: every column of the predictions table,
    /// those <see cref="BucketTables.Predictions"/> lists cast to the types both backends share. No ORDER BY.
    /// </summary>
    public SqlStatement PredictionsExport() => Statement(Stages.Predict, "predictions_export",
        "predictions/part-*.parquet, exported by BigQuery into the bucket",
        Export(BucketLayout.Predictions(_run.RunId),
            $"SELECT * REPLACE (\n{string.Join(",\n", BucketTables.Predictions.Select(c => $"  CAST({c.Name} AS {c.BigQueryType}) AS {c.Name}"))})\nFROM {PredictionsTable}"));

    /// <summary>The segments' profiles (<see cref="ProfileSql"/>): the same queries as the embedded backend's, in GoogleSQL.</summary>
    private ProfileSql Profile => new(ProfileSqlDialect.BigQuery,
        new ProfileTables(SourceTable, StatsTable, PredictionsTable, UsersTable, ProductsTable), _run.Metrics);

    private QueryParameter[] Window =>
        [QueryParameter.ForDate("window_start", _run.WindowStart), QueryParameter.ForDate("window_end", _run.WindowEnd)];

    public SqlStatement ProfileSegments() => Statement(Stages.Predict, "profile_segments",
        "per segment: customers, orders, items and revenue from the customers' statistics, and those that do not join users",
        Profile.Segments());

    public SqlStatement ProfileQuartiles() => Statement(Stages.Predict, "profile_quartiles",
        "per segment and for all customers (centroid_id 0): quartiles of the three features", Profile.Quartiles());

    /// <summary>Customers by gender, age band, country and traffic source; null without a users table.</summary>
    public SqlStatement? ProfilePeople() => Profile.People() is { } sql
        ? Statement(Stages.Predict, "profile_people", "per segment: customers by gender, age band, country and traffic source", sql)
        : null;

    /// <summary>
    /// In one scan of the window's items: revenue by department, category and brand, and the items that do not join
    /// products; null without a products table (then no profile statement reads the order items).
    /// </summary>
    public SqlStatement? ProfileCatalogue() => Profile.Catalogue() is { } sql
        ? Statement(Stages.Predict, "profile_catalogue",
            "per segment: the order items that do not join products, margin, and revenue and buying customers by department, category and brand", sql, Window)
        : null;

    // ---- RenderChart ------------------------------------------------------------------------------------------

    /// <summary>
    /// A deterministic stratified sample for the chart, with the embedded engine's quotas
    /// (<c>EmbeddedSegmentationEngine.ChartQuotas</c>): each segment in proportion to its size, but at least
    /// <c>max / (4 k)</c> customers so that a small segment still shows; a fixed hash order within each segment.
    /// </summary>
    public SqlStatement ChartSample(int maxPoints) => Statement(Stages.RenderChart, "chart_sample",
        "a stratified sample of the predictions for the chart",
        $"""
        SELECT days_since_last_order, average_spend, centroid_id
        FROM (
          SELECT
            days_since_last_order,
            average_spend,
            centroid_id,
            ROW_NUMBER() OVER (PARTITION BY centroid_id ORDER BY FARM_FINGERPRINT(FORMAT('%d:%d', user_id, @seed)), user_id) AS rank_in_segment,
            COUNT(*) OVER (PARTITION BY centroid_id) AS segment_customers,
            COUNT(*) OVER () AS all_customers
          FROM {PredictionsTable})
        WHERE rank_in_segment <= GREATEST(
          DIV(@max_points, 4 * (SELECT COUNT(DISTINCT centroid_id) FROM {PredictionsTable})),
          CAST(FLOOR(@max_points * segment_customers / all_customers) AS INT64))
        ORDER BY centroid_id, rank_in_segment
        """,
        QueryParameter.ForInt64("seed", _run.Seed),
        QueryParameter.ForInt64("max_points", maxPoints));

    // ---- The plan ---------------------------------------------------------------------------------------------

    /// <summary>Every statement of the run, in the order the stages send them.</summary>
    /// <param name="audiences">The control group's settings, which the movement statement carries as parameters.</param>
    public IReadOnlyList<SqlStatement> All(int chartPoints, AudienceOptions? audiences = null) =>
    [
        Stats(), StatsSummary(), StatsExport(),
        Split(), TrainingSummary(),
        .. Candidates.Select(TrainModel), .. Candidates.Select(ExpireModel),
        Evaluate(), Centroids(), TrainingInfo(), PlannedFeatureInfo(),
        CustomerSegmentsSetup(), SegmentRunsSetup(), LatestViewSetup(),
        PlannedPredictions(), PlannedMovement(audiences ?? new AudienceOptions()), RecordSegments(), SegmentSizes(), PredictionsExport(),
        MovementSummary(), PlannedPreviousSegmentSizes(), PlannedMigration(), AudienceSizes(), PlannedAudienceExport(),
        ProfileSegments(), ProfileQuartiles(), .. new[] { ProfilePeople(), ProfileCatalogue() }.OfType<SqlStatement>(),
        ChartSample(chartPoints),
        RecordCompletedRun(isLatest: true),
    ];

    private SqlStatement PlannedMigration() => Deferred(MigrationFlows(null, null));

    private SqlStatement PlannedPreviousSegmentSizes() => Deferred(PreviousSegmentSizes(null, null));

    /// <summary>A statement whose previous run is known only after TrainModel: its parameters marked so in the plan.</summary>
    private static SqlStatement Deferred(SqlStatement statement) => statement with
    {
        Parameters = statement.Parameters.Select(p => p.Name.StartsWith("previous_", StringComparison.Ordinal)
            ? QueryParameter.Deferred(p.Name, p.Type, "after TrainModel, from model.json's matched_to_run and that run's manifest")
            : p).ToList(),
    };

    /// <summary>The plan as text people can review and paste into the BigQuery console.</summary>
    public string Render(int chartPoints)
    {
        var text = new StringBuilder();
        void Line(string line = "") => text.Append(line).Append('\n');

        Line($"-- BigQuery statements of run {_run.RunId}");
        Line($"-- project {_options.ProjectId}, dataset {_options.Dataset}, location {_options.Location}, source {_options.SourceTable}");
        Line($"-- profiles: users {(string.IsNullOrEmpty(_options.UsersTable) ? "(none)" : _options.UsersTable)}, products {(string.IsNullOrEmpty(_options.ProductsTable) ? "(none)" : _options.ProductsTable)}");
        Line(string.Create(CultureInfo.InvariantCulture,
            $"-- window {_run.WindowStart:yyyy-MM-dd} to {_run.WindowEnd:yyyy-MM-dd} (exclusive), as of {_run.AsOf:yyyy-MM-dd}, k {(_run.K is { } k ? k.ToString(CultureInfo.InvariantCulture) : "auto")}, metrics {_run.Metrics.ToString().ToLowerInvariant()}, seed {_run.Seed}, test fraction {_run.TestFraction:R}"));
        Line("-- Values travel as named query parameters (parameterMode NAMED), never inside the SQL text.");
        Line("-- Each statement runs as a job with the id shown; a redelivered message attaches to that job.");
        if (_run.K is null)
            Line("-- k is \"auto\": every candidate is trained; Predict uses the model of the k with the lowest Davies-Bouldin index ({k}).");

        var stage = "";
        var number = 0;
        foreach (var statement in All(chartPoints))
        {
            if (statement.Stage != stage && statement.Stage == Stages.GenerateCampaign)
            {
                stage = statement.Stage;
                Line();
                Line($"-- ==== {stage} ====");
                Line("-- The campaign writer (offline, Vertex AI Gemini or an OpenAI-compatible endpoint) reads model.json; no SQL.");
                Line("-- When the run completes (passes the quality gate, or is released), customer_segments_latest moves to it:");
            }
            else if (statement.Stage != stage)
            {
                stage = statement.Stage;
                Line();
                Line($"-- ==== {stage} ====");
            }
            number++;
            Line();
            Line($"-- [{number}] {statement.Key}: {statement.Purpose}");
            if (statement.Parameters.All(p => p.DeferredUntil is null))
                Line($"-- job id: {statement.JobId()}");
            foreach (var parameter in statement.Parameters)
                Line($"-- {parameter.Describe()}");
            Line(statement.Sql + ";");
        }
        return text.ToString();
    }

    private static string CheckedK(int k) =>
        k is >= RunParameters.MinK and <= RunParameters.MaxK
            ? k.ToString(CultureInfo.InvariantCulture)
            : throw new ArgumentOutOfRangeException(nameof(k), k, $"k must be from {RunParameters.MinK} to {RunParameters.MaxK}");
}
