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
        SourceTable = BigQueryNames.Quote(options.SourceTable);
        UsersTable = string.IsNullOrEmpty(options.UsersTable) ? null : BigQueryNames.Quote(options.UsersTable);
        ProductsTable = string.IsNullOrEmpty(options.ProductsTable) ? null : BigQueryNames.Quote(options.ProductsTable);
        _bucket = BigQueryNames.IsBucketName(options.Bucket)
            ? options.Bucket
            : throw new ArgumentException($"'{options.Bucket}' is not a valid Cloud Storage bucket name", nameof(options));
    }

    public string StatsTable { get; }
    public string SplitTable { get; }
    public string PredictionsTable { get; }
    public string SourceTable { get; }
    /// <summary>The users table profiles read, or null when none is configured.</summary>
    public string? UsersTable { get; }
    /// <summary>The products table profiles read, or null when none is configured.</summary>
    public string? ProductsTable { get; }

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
    /// The run's per-customer statistics (CONTRACT.md, "Customer statistics"), as a table that expires. In the same
    /// pass it counts the order items with a non-finite <c>sale_price</c> anywhere in the source, as the embedded
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
    private string Export(string tablePrefix, string query) => $"""
        EXPORT DATA OPTIONS (
          uri = '{ExportedParts.Uri(_bucket, tablePrefix)}',
          format = 'PARQUET',
          compression = 'SNAPPY',
          overwrite = TRUE)
        AS
        {query}
        """;

    // ---- TrainModel -------------------------------------------------------------------------------------------

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
          h1 AS (SELECT * REPLACE (h ^ (h >> 16) AS h) FROM h0),
          h2 AS (SELECT * REPLACE (MOD(h * 2146121005, 4294967296) AS h) FROM h1),
          h3 AS (SELECT * REPLACE (h ^ (h >> 15) AS h) FROM h2),
          h4 AS (SELECT * REPLACE (MOD(h * 1540483477, 4294967296) AS h) FROM h3),
          h5 AS (SELECT * REPLACE (h ^ (h >> 16) AS h) FROM h4)
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
            CREATE OR REPLACE TABLE {PredictionsTable}
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
        new ProfileTables(SourceTable, PredictionsTable, UsersTable, ProductsTable), _run.Metrics);

    private QueryParameter[] Window =>
        [QueryParameter.ForDate("window_start", _run.WindowStart), QueryParameter.ForDate("window_end", _run.WindowEnd)];

    public SqlStatement ProfileSegments() => Statement(Stages.Predict, "profile_segments",
        "per segment: customers, orders, revenue, and the order items that do not join users or products",
        Profile.Segments(), Window);

    public SqlStatement ProfileQuartiles() => Statement(Stages.Predict, "profile_quartiles",
        "per segment and for all customers (centroid_id 0): quartiles of the three features", Profile.Quartiles());

    /// <summary>Customers by gender, age band, country and traffic source; null without a users table.</summary>
    public SqlStatement? ProfilePeople() => Profile.People() is { } sql
        ? Statement(Stages.Predict, "profile_people", "per segment: customers by gender, age band, country and traffic source", sql, Window)
        : null;

    /// <summary>Revenue by department, category and brand; null without a products table.</summary>
    public SqlStatement? ProfileCatalogue() => Profile.Catalogue() is { } sql
        ? Statement(Stages.Predict, "profile_catalogue", "per segment: revenue and buying customers by department, category and brand", sql, Window)
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
    public IReadOnlyList<SqlStatement> All(int chartPoints) =>
    [
        Stats(), StatsSummary(), StatsExport(),
        Split(), TrainingSummary(),
        .. Candidates.Select(TrainModel), .. Candidates.Select(ExpireModel),
        Evaluate(), Centroids(), TrainingInfo(), PlannedFeatureInfo(),
        PlannedPredictions(), SegmentSizes(), PredictionsExport(),
        ProfileSegments(), ProfileQuartiles(), .. new[] { ProfilePeople(), ProfileCatalogue() }.OfType<SqlStatement>(),
        ChartSample(chartPoints),
    ];

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
            if (statement.Stage != stage)
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
        Line();
        Line($"-- ==== {Stages.GenerateCampaign} ====");
        Line("-- No SQL: the campaign writer (offline, Vertex AI Gemini or an OpenAI-compatible endpoint) reads model.json.");
        return text.ToString();
    }

    private static string CheckedK(int k) =>
        k is >= RunParameters.MinK and <= RunParameters.MaxK
            ? k.ToString(CultureInfo.InvariantCulture)
            : throw new ArgumentOutOfRangeException(nameof(k), k, $"k must be from {RunParameters.MinK} to {RunParameters.MaxK}");
}
