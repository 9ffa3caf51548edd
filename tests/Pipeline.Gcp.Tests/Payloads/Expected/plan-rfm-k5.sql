-- BigQuery statements of run 2023-01-01-nightly
-- project my-project, dataset segmentation, location US, source bigquery-public-data.thelook_ecommerce.order_items
-- profiles: users bigquery-public-data.thelook_ecommerce.users, products bigquery-public-data.thelook_ecommerce.products
-- window 2022-01-01 to 2023-01-01 (exclusive), as of 2023-01-01, k 5, metrics rfm, seed 42, test fraction 0.2
-- Values travel as named query parameters (parameterMode NAMED), never inside the SQL text.
-- Each statement runs as a job with the id shown; a redelivered message attaches to that job.

-- ==== BuildStats ====

-- [1] stats: per-customer statistics of the window (metrics = rfm)
-- job id: segmentation_2023_01_01_nightly_buildstats_stats_cf7892c5ef9b_0
-- @as_of DATE = 2023-01-01
-- @window_start DATE = 2022-01-01
-- @window_end DATE = 2023-01-01
CREATE OR REPLACE TABLE `my-project.segmentation.stats_2023_01_01_nightly`
OPTIONS (expiration_timestamp = TIMESTAMP_ADD(CURRENT_TIMESTAMP(), INTERVAL 7 DAY))
AS
SELECT
  user_id,
  DATE_DIFF(@as_of, DATE(MAX(created_at)), DAY) AS days_since_last_order,
  COUNT(DISTINCT order_id) AS count_orders,
  SUM(sale_price) / COUNT(DISTINCT order_id) AS average_spend,
  COUNT(*) AS items_counted,
  COUNT(DISTINCT order_id) AS distinct_orders,
  SUM(sale_price) AS revenue,
  COUNTIF((IS_NAN(sale_price) OR IS_INF(sale_price))) AS non_finite_prices,
  MIN(IF((IS_NAN(sale_price) OR IS_INF(sale_price)), CAST(sale_price AS STRING), NULL)) AS non_finite_price_example
FROM `bigquery-public-data.thelook_ecommerce.order_items`
WHERE (created_at >= TIMESTAMP(@window_start) AND created_at < TIMESTAMP(@window_end) AND status NOT IN ('Cancelled', 'Returned'))
  OR (IS_NAN(sale_price) OR IS_INF(sale_price))
GROUP BY user_id;

-- [2] stats_summary: how many customers and counted items the statistics cover, and how many items have a non-finite sale_price
-- job id: segmentation_2023_01_01_nightly_buildstats_stats_summary_7d4da040ac1a_0
SELECT
  COUNT(*) AS customers,
  IFNULL(SUM(items_counted), 0) AS items_counted,
  IFNULL(SUM(non_finite_prices), 0) AS non_finite_prices,
  MIN(non_finite_price_example) AS non_finite_price_example
FROM `my-project.segmentation.stats_2023_01_01_nightly`;

-- [3] stats_export: customer_stats/part-*.parquet, exported by BigQuery into the bucket
-- job id: segmentation_2023_01_01_nightly_buildstats_stats_export_86a4bb51c8bd_0
EXPORT DATA OPTIONS (
  uri = 'gs://my-bucket/runs/2023-01-01-nightly/customer_stats/part-*.parquet',
  format = 'PARQUET',
  compression = 'SNAPPY',
  overwrite = TRUE)
AS
SELECT
  CAST(user_id AS INT64) AS user_id,
  CAST(days_since_last_order AS INT64) AS days_since_last_order,
  CAST(count_orders AS INT64) AS count_orders,
  CAST(average_spend AS FLOAT64) AS average_spend,
  CAST(items_counted AS INT64) AS items_counted,
  CAST(distinct_orders AS INT64) AS distinct_orders,
  CAST(revenue AS FLOAT64) AS revenue
FROM `my-project.segmentation.stats_2023_01_01_nightly`;

-- ==== TrainModel ====

-- [4] split: the deterministic hold-out split of the customers
-- job id: segmentation_2023_01_01_nightly_trainmodel_split_ae40632000c0_0
-- @seed INT64 = 42
-- @test_fraction FLOAT64 = 0.2
CREATE OR REPLACE TABLE `my-project.segmentation.split_2023_01_01_nightly`
OPTIONS (expiration_timestamp = TIMESTAMP_ADD(CURRENT_TIMESTAMP(), INTERVAL 7 DAY))
AS
WITH
  h0 AS (SELECT *, MOD(ABS(user_id) + @seed * 1000003, 4294967296) AS h FROM `my-project.segmentation.stats_2023_01_01_nightly`),
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
FROM h5;

-- [5] training_summary: split sizes and population quantiles
-- job id: segmentation_2023_01_01_nightly_trainmodel_training_summary_c609193164c8_0
SELECT
  COUNTIF(NOT held_out) AS training_customers,
  COUNTIF(held_out) AS test_customers,
  APPROX_QUANTILES(CAST(days_since_last_order AS FLOAT64), 1000) AS quantiles_days_since_last_order,
  APPROX_QUANTILES(CAST(count_orders AS FLOAT64), 1000) AS quantiles_count_orders,
  APPROX_QUANTILES(CAST(average_spend AS FLOAT64), 1000) AS quantiles_average_spend
FROM `my-project.segmentation.split_2023_01_01_nightly`;

-- [6] model_k5: K-means with k = 5 on the training customers
-- job id: segmentation_2023_01_01_nightly_trainmodel_model_k5_46cb68bdc6e2_0
CREATE OR REPLACE MODEL `my-project.segmentation.model_2023_01_01_nightly_k5`
OPTIONS (
  model_type = 'KMEANS',
  num_clusters = 5,
  kmeans_init_method = 'KMEANS++',
  distance_type = 'EUCLIDEAN',
  standardize_features = TRUE,
  max_iterations = 20,
  early_stop = TRUE,
  min_rel_progress = 0.01
)
AS
SELECT days_since_last_order, count_orders, average_spend
FROM `my-project.segmentation.split_2023_01_01_nightly`
WHERE NOT held_out;

-- [7] model_k5_expiration: let the k = 5 model expire with the run's tables
-- job id: segmentation_2023_01_01_nightly_trainmodel_model_k5_expiration_b5c725c3f39a_0
ALTER MODEL `my-project.segmentation.model_2023_01_01_nightly_k5`
SET OPTIONS (expiration_timestamp = TIMESTAMP_ADD(CURRENT_TIMESTAMP(), INTERVAL 7 DAY));

-- [8] evaluate: Davies-Bouldin index and mean squared distance on the held-out customers
-- job id: segmentation_2023_01_01_nightly_trainmodel_evaluate_d3f909b52107_0
-- @evaluate_held_out BOOL = true
SELECT 5 AS k, davies_bouldin_index, mean_squared_distance
FROM ML.EVALUATE(MODEL `my-project.segmentation.model_2023_01_01_nightly_k5`, (
  SELECT days_since_last_order, count_orders, average_spend
  FROM `my-project.segmentation.split_2023_01_01_nightly`
  WHERE held_out = @evaluate_held_out))
ORDER BY k;

-- [9] centroids: every candidate's centroids, one row a centroid, in original units
-- job id: segmentation_2023_01_01_nightly_trainmodel_centroids_2658d262e7ec_0
SELECT
  5 AS k,
  centroid_id,
  MAX(IF(feature = 'days_since_last_order', numerical_value, NULL)) AS days_since_last_order,
  MAX(IF(feature = 'count_orders', numerical_value, NULL)) AS count_orders,
  MAX(IF(feature = 'average_spend', numerical_value, NULL)) AS average_spend
FROM ML.CENTROIDS(MODEL `my-project.segmentation.model_2023_01_01_nightly_k5`)
GROUP BY centroid_id
ORDER BY k, centroid_id;

-- [10] training_info: iterations and final training loss of every candidate
-- job id: segmentation_2023_01_01_nightly_trainmodel_training_info_bbd81a20f64a_0
SELECT 5 AS k, COUNT(*) AS iterations, ARRAY_AGG(loss ORDER BY iteration DESC LIMIT 1)[OFFSET(0)] AS loss
FROM ML.TRAINING_INFO(MODEL `my-project.segmentation.model_2023_01_01_nightly_k5`)
ORDER BY k;

-- [11] feature_info: the mean and standard deviation BigQuery ML standardized each feature with
-- job id: segmentation_2023_01_01_nightly_trainmodel_feature_info_290b9e7da0ef_0
SELECT input, mean, stddev
FROM ML.FEATURE_INFO(MODEL `my-project.segmentation.model_2023_01_01_nightly_k5`);

-- ==== Predict ====

-- [12] customer_segments_table: the persistent customer_segments table, partitioned by run date and clustered by segment, if it does not exist
-- job id: segmentation_2023_01_01_nightly_predict_customer_segments_table_c47005ccef54_0
CREATE TABLE IF NOT EXISTS `my-project.segmentation.customer_segments` (
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
OPTIONS (description = 'The customer segments of every run; customer_segments_latest shows the latest completed run');

-- [13] segment_runs_table: the record of completed runs, if it does not exist
-- job id: segmentation_2023_01_01_nightly_predict_segment_runs_table_4b03f61354ef_0
CREATE TABLE IF NOT EXISTS `my-project.segmentation.segment_runs` (
  run_id STRING NOT NULL,
  run_as_of DATE NOT NULL,
  completed_at TIMESTAMP NOT NULL,
  latest_at TIMESTAMP
);

-- [14] customer_segments_latest_view: the view of the latest completed run's customer segments
-- job id: segmentation_2023_01_01_nightly_predict_customer_segments_latest_view_01820d79bf36_0
CREATE OR REPLACE VIEW `my-project.segmentation.customer_segments_latest` AS
SELECT s.*
FROM `my-project.segmentation.customer_segments` AS s
JOIN (
  SELECT run_id, run_as_of
  FROM `my-project.segmentation.segment_runs`
  WHERE latest_at IS NOT NULL
  ORDER BY latest_at DESC
  LIMIT 1) AS latest
ON s.run_id = latest.run_id AND s.run_as_of = latest.run_as_of;

-- [15] predictions: a segment for every customer, with the stable centroid ids
-- @centroid_ids ARRAY<INT64> = (known after TrainModel, from model.json)
-- @segments ARRAY<STRING> = (known after TrainModel, from model.json)
CREATE OR REPLACE TABLE `my-project.segmentation.assignments_2023_01_01_nightly`
OPTIONS (expiration_timestamp = TIMESTAMP_ADD(CURRENT_TIMESTAMP(), INTERVAL 7 DAY))
AS
SELECT
  user_id,
  @centroid_ids[OFFSET(p.centroid_id - 1)] AS centroid_id,
  (SELECT d.distance FROM UNNEST(p.nearest_centroids_distance) AS d WHERE d.centroid_id = p.centroid_id) AS distance,
  @segments[OFFSET(p.centroid_id - 1)] AS segment,
  days_since_last_order,
  count_orders,
  average_spend
FROM ML.PREDICT(MODEL `my-project.segmentation.model_2023_01_01_nightly_k5`, (
  SELECT user_id, days_since_last_order, count_orders, average_spend
  FROM `my-project.segmentation.stats_2023_01_01_nightly`)) AS p;

-- [16] movement: each customer's segment in the previous run, since when it is in its segment, and the control group
-- @previous_run_id STRING = (known after TrainModel, from model.json's matched_to_run and that run's manifest)
-- @previous_as_of DATE = (known after TrainModel, from model.json's matched_to_run and that run's manifest)
-- @as_of DATE = 2023-01-01
-- @control_seed INT64 = 1082728325
-- @control_threshold INT64 = 1000
CREATE OR REPLACE TABLE `my-project.segmentation.predictions_2023_01_01_nightly`
OPTIONS (expiration_timestamp = TIMESTAMP_ADD(CURRENT_TIMESTAMP(), INTERVAL 7 DAY))
AS
WITH
  previous AS (
    SELECT user_id, centroid_id, segment_since
    FROM `my-project.segmentation.customer_segments`
    WHERE run_as_of = @previous_as_of AND run_id = @previous_run_id),
  h0 AS (
    SELECT a.*, prev.centroid_id AS previous_centroid, prev.segment_since AS previous_since,
      MOD(MOD(ABS(a.user_id), 4294967296) + @control_seed * 1000003, 4294967296) AS h
    FROM `my-project.segmentation.assignments_2023_01_01_nightly` AS a LEFT JOIN previous AS prev ON prev.user_id = a.user_id),
  h1 AS (SELECT * REPLACE (h ^ (h >> 16) AS h) FROM h0),
  h2 AS (SELECT * REPLACE (MOD(h * 2146121005, 4294967296) AS h) FROM h1),
  h3 AS (SELECT * REPLACE (h ^ (h >> 15) AS h) FROM h2),
  h4 AS (SELECT * REPLACE (MOD(h * 1540483477, 4294967296) AS h) FROM h3),
  h5 AS (SELECT * REPLACE (h ^ (h >> 16) AS h) FROM h4)
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
FROM h5;

-- [17] customer_segments_rows: the run's rows into customer_segments (replacing an earlier attempt's)
-- job id: segmentation_2023_01_01_nightly_predict_customer_segments_rows_8ed7244dcf39_0
-- @as_of DATE = 2023-01-01
-- @run_id STRING = '2023-01-01-nightly'
MERGE `my-project.segmentation.customer_segments` AS t
USING (SELECT * FROM `my-project.segmentation.predictions_2023_01_01_nightly`) AS s
ON FALSE
WHEN NOT MATCHED BY SOURCE AND t.run_as_of = @as_of AND t.run_id = @run_id THEN DELETE
WHEN NOT MATCHED THEN INSERT (run_id, run_as_of, user_id, centroid_id, distance, segment, days_since_last_order, count_orders,
  average_spend, previous_segment_id, segment_since, control_group)
VALUES (@run_id, s.run_as_of, s.user_id, s.centroid_id, s.distance, s.segment, s.days_since_last_order, s.count_orders,
  s.average_spend, s.previous_segment_id, s.segment_since, s.control_group);

-- [18] segment_sizes: customers per segment
-- job id: segmentation_2023_01_01_nightly_predict_segment_sizes_64db94c2e3b5_0
SELECT centroid_id, segment, COUNT(*) AS customers
FROM `my-project.segmentation.predictions_2023_01_01_nightly`
GROUP BY centroid_id, segment
ORDER BY centroid_id;

-- [19] predictions_export: predictions/part-*.parquet, exported by BigQuery into the bucket
-- job id: segmentation_2023_01_01_nightly_predict_predictions_export_5b3d3e0d15ab_0
EXPORT DATA OPTIONS (
  uri = 'gs://my-bucket/runs/2023-01-01-nightly/predictions/part-*.parquet',
  format = 'PARQUET',
  compression = 'SNAPPY',
  overwrite = TRUE)
AS
SELECT * REPLACE (
  CAST(user_id AS INT64) AS user_id,
  CAST(centroid_id AS INT64) AS centroid_id,
  CAST(distance AS FLOAT64) AS distance,
  CAST(segment AS STRING) AS segment,
  CAST(days_since_last_order AS INT64) AS days_since_last_order,
  CAST(count_orders AS INT64) AS count_orders,
  CAST(average_spend AS FLOAT64) AS average_spend,
  CAST(previous_segment_id AS INT64) AS previous_segment_id,
  CAST(segment_since AS DATE) AS segment_since,
  CAST(run_as_of AS DATE) AS run_as_of,
  CAST(control_group AS BOOL) AS control_group)
FROM `my-project.segmentation.predictions_2023_01_01_nightly`;

-- [20] movement_summary: the age of the window's newest order and the control group's size
-- job id: segmentation_2023_01_01_nightly_predict_movement_summary_3064d2de23b4_0
SELECT IFNULL(MIN(days_since_last_order), 0) AS newest_order_days, COUNTIF(control_group) AS control_group
FROM `my-project.segmentation.predictions_2023_01_01_nightly`;

-- [21] previous_segment_sizes: customers per segment in the previous completed run
-- @previous_run_id STRING = (known after TrainModel, from model.json's matched_to_run and that run's manifest)
-- @previous_as_of DATE = (known after TrainModel, from model.json's matched_to_run and that run's manifest)
SELECT centroid_id, ANY_VALUE(segment) AS segment, COUNT(*) AS customers
FROM `my-project.segmentation.customer_segments`
WHERE run_as_of = @previous_as_of AND run_id = @previous_run_id
GROUP BY centroid_id
ORDER BY centroid_id;

-- [22] migration: the from -> to counts against the previous completed run (new and gone included)
-- @previous_run_id STRING = (known after TrainModel, from model.json's matched_to_run and that run's manifest)
-- @previous_as_of DATE = (known after TrainModel, from model.json's matched_to_run and that run's manifest)
SELECT previous_segment_id AS from_centroid, centroid_id AS to_centroid, COUNT(*) AS customers
FROM `my-project.segmentation.predictions_2023_01_01_nightly`
GROUP BY from_centroid, to_centroid
UNION ALL
SELECT p.centroid_id AS from_centroid, NULL AS to_centroid, COUNT(*) AS customers
FROM `my-project.segmentation.customer_segments` AS p
WHERE p.run_as_of = @previous_as_of AND p.run_id = @previous_run_id
  AND NOT EXISTS (SELECT 1 FROM `my-project.segmentation.predictions_2023_01_01_nightly` AS c WHERE c.user_id = p.user_id)
GROUP BY from_centroid;

-- [23] audience_sizes: customers per audience file (segment), control group left out
-- job id: segmentation_2023_01_01_nightly_predict_audience_sizes_e208f3a0b35e_0
SELECT centroid_id, COUNT(*) AS customers
FROM `my-project.segmentation.predictions_2023_01_01_nightly`
WHERE NOT control_group
GROUP BY centroid_id
ORDER BY centroid_id;

-- [24] audience_export: one segment's user ids as CSV parts, exported by BigQuery into the bucket and composed into audiences/{segment}.csv
-- @centroid_id INT64 = (known after TrainModel: one export per segment of model.json)
EXPORT DATA OPTIONS (
  uri = 'gs://my-bucket/runs/2023-01-01-nightly/audiences/.parts/{segment}/part-*.csv',
  format = 'CSV',
  header = FALSE,
  overwrite = TRUE)
AS
SELECT user_id
FROM `my-project.segmentation.predictions_2023_01_01_nightly`
WHERE centroid_id = @centroid_id AND NOT control_group;

-- [25] profile_segments: per segment: customers, orders, items and revenue from the customers' statistics, and those that do not join users
-- job id: segmentation_2023_01_01_nightly_predict_profile_segments_f0add0fb1be9_0
WITH
  customers AS (
    SELECT user_id, centroid_id
    FROM `my-project.segmentation.predictions_2023_01_01_nightly`),
  stats AS (
    SELECT user_id, items_counted, distinct_orders, revenue
    FROM `my-project.segmentation.stats_2023_01_01_nightly`),
  people AS (
    SELECT
      id AS user_id,
      ANY_VALUE(CAST(gender AS STRING)) AS gender,
      ANY_VALUE(CASE WHEN age >= 65 THEN '65+' WHEN age >= 55 THEN '55–64' WHEN age >= 45 THEN '45–54' WHEN age >= 35 THEN '35–44' WHEN age >= 25 THEN '25–34' WHEN age >= 18 THEN '18–24' WHEN age >= 0 THEN 'under 18' END) AS age_band,
      ANY_VALUE(CAST(country AS STRING)) AS country,
      ANY_VALUE(CAST(traffic_source AS STRING)) AS traffic_source
    FROM `bigquery-public-data.thelook_ecommerce.users`
    GROUP BY id)
SELECT
  c.centroid_id,
  COUNT(*) AS customers,
  SUM(s.distinct_orders) AS orders,
  SUM(s.items_counted) AS items,
  SUM(s.revenue) AS revenue,
  SUM(CASE WHEN u.user_id IS NULL THEN s.items_counted ELSE 0 END) AS items_without_user,
  SUM(CASE WHEN u.user_id IS NULL THEN 1 ELSE 0 END) AS customers_without_user
FROM customers AS c
JOIN stats AS s ON s.user_id = c.user_id
LEFT JOIN people AS u ON u.user_id = c.user_id
GROUP BY c.centroid_id
ORDER BY c.centroid_id;

-- [26] profile_quartiles: per segment and for all customers (centroid_id 0): quartiles of the three features
-- job id: segmentation_2023_01_01_nightly_predict_profile_quartiles_ea414e0671e9_0
SELECT DISTINCT
  centroid_id,
  PERCENTILE_CONT(CAST(days_since_last_order AS FLOAT64), 0.25) OVER (PARTITION BY centroid_id) AS days_since_last_order_q1,
  PERCENTILE_CONT(CAST(days_since_last_order AS FLOAT64), 0.5) OVER (PARTITION BY centroid_id) AS days_since_last_order_median,
  PERCENTILE_CONT(CAST(days_since_last_order AS FLOAT64), 0.75) OVER (PARTITION BY centroid_id) AS days_since_last_order_q3,
  PERCENTILE_CONT(CAST(count_orders AS FLOAT64), 0.25) OVER (PARTITION BY centroid_id) AS count_orders_q1,
  PERCENTILE_CONT(CAST(count_orders AS FLOAT64), 0.5) OVER (PARTITION BY centroid_id) AS count_orders_median,
  PERCENTILE_CONT(CAST(count_orders AS FLOAT64), 0.75) OVER (PARTITION BY centroid_id) AS count_orders_q3,
  PERCENTILE_CONT(CAST(average_spend AS FLOAT64), 0.25) OVER (PARTITION BY centroid_id) AS average_spend_q1,
  PERCENTILE_CONT(CAST(average_spend AS FLOAT64), 0.5) OVER (PARTITION BY centroid_id) AS average_spend_median,
  PERCENTILE_CONT(CAST(average_spend AS FLOAT64), 0.75) OVER (PARTITION BY centroid_id) AS average_spend_q3
FROM `my-project.segmentation.predictions_2023_01_01_nightly`
UNION ALL
SELECT DISTINCT
  0 AS centroid_id,
  PERCENTILE_CONT(CAST(days_since_last_order AS FLOAT64), 0.25) OVER () AS days_since_last_order_q1,
  PERCENTILE_CONT(CAST(days_since_last_order AS FLOAT64), 0.5) OVER () AS days_since_last_order_median,
  PERCENTILE_CONT(CAST(days_since_last_order AS FLOAT64), 0.75) OVER () AS days_since_last_order_q3,
  PERCENTILE_CONT(CAST(count_orders AS FLOAT64), 0.25) OVER () AS count_orders_q1,
  PERCENTILE_CONT(CAST(count_orders AS FLOAT64), 0.5) OVER () AS count_orders_median,
  PERCENTILE_CONT(CAST(count_orders AS FLOAT64), 0.75) OVER () AS count_orders_q3,
  PERCENTILE_CONT(CAST(average_spend AS FLOAT64), 0.25) OVER () AS average_spend_q1,
  PERCENTILE_CONT(CAST(average_spend AS FLOAT64), 0.5) OVER () AS average_spend_median,
  PERCENTILE_CONT(CAST(average_spend AS FLOAT64), 0.75) OVER () AS average_spend_q3
FROM `my-project.segmentation.predictions_2023_01_01_nightly`
ORDER BY centroid_id;

-- [27] profile_people: per segment: customers by gender, age band, country and traffic source
-- job id: segmentation_2023_01_01_nightly_predict_profile_people_d6ff8846ae46_0
WITH
  customers AS (
    SELECT user_id, centroid_id
    FROM `my-project.segmentation.predictions_2023_01_01_nightly`),
  people AS (
    SELECT
      id AS user_id,
      ANY_VALUE(CAST(gender AS STRING)) AS gender,
      ANY_VALUE(CASE WHEN age >= 65 THEN '65+' WHEN age >= 55 THEN '55–64' WHEN age >= 45 THEN '45–54' WHEN age >= 35 THEN '35–44' WHEN age >= 25 THEN '25–34' WHEN age >= 18 THEN '18–24' WHEN age >= 0 THEN 'under 18' END) AS age_band,
      ANY_VALUE(CAST(country AS STRING)) AS country,
      ANY_VALUE(CAST(traffic_source AS STRING)) AS traffic_source
    FROM `bigquery-public-data.thelook_ecommerce.users`
    GROUP BY id)
SELECT c.centroid_id, 'gender' AS dimension, COALESCE(u.gender, '(unknown)') AS value, COUNT(*) AS customers
FROM customers AS c
JOIN people AS u ON u.user_id = c.user_id
GROUP BY 1, 2, 3
UNION ALL
SELECT c.centroid_id, 'age_band' AS dimension, COALESCE(u.age_band, '(unknown)') AS value, COUNT(*) AS customers
FROM customers AS c
JOIN people AS u ON u.user_id = c.user_id
GROUP BY 1, 2, 3
UNION ALL
SELECT c.centroid_id, 'country' AS dimension, COALESCE(u.country, '(unknown)') AS value, COUNT(*) AS customers
FROM customers AS c
JOIN people AS u ON u.user_id = c.user_id
GROUP BY 1, 2, 3
UNION ALL
SELECT c.centroid_id, 'traffic_source' AS dimension, COALESCE(u.traffic_source, '(unknown)') AS value, COUNT(*) AS customers
FROM customers AS c
JOIN people AS u ON u.user_id = c.user_id
GROUP BY 1, 2, 3
ORDER BY centroid_id, dimension, value;

-- [28] profile_catalogue: per segment: the order items that do not join products, margin, and revenue and buying customers by department, category and brand
-- job id: segmentation_2023_01_01_nightly_predict_profile_catalogue_b7f40f855e34_0
-- @window_start DATE = 2022-01-01
-- @window_end DATE = 2023-01-01
WITH
  customers AS (
    SELECT user_id, centroid_id
    FROM `my-project.segmentation.predictions_2023_01_01_nightly`),
  items AS (
    SELECT user_id, product_id, sale_price
    FROM `bigquery-public-data.thelook_ecommerce.order_items`
    WHERE created_at >= TIMESTAMP(@window_start)
      AND created_at < TIMESTAMP(@window_end)
      AND status NOT IN ('Cancelled', 'Returned')),
  catalogue AS (
    SELECT
      id AS product_id,
      ANY_VALUE(CAST(department AS STRING)) AS department,
      ANY_VALUE(CAST(category AS STRING)) AS category,
      ANY_VALUE(CAST(brand AS STRING)) AS brand,
      ANY_VALUE(CAST(cost AS FLOAT64)) AS cost
    FROM `bigquery-public-data.thelook_ecommerce.products`
    GROUP BY id),
  counted AS (
    SELECT
      c.centroid_id,
      i.user_id,
      i.sale_price,
      p.product_id IS NOT NULL AS found,
      p.cost,
      CASE WHEN p.product_id IS NULL THEN NULL ELSE COALESCE(p.department, '(unknown)') END AS department,
      CASE WHEN p.product_id IS NULL THEN NULL ELSE COALESCE(p.category, '(unknown)') END AS category,
      CASE WHEN p.product_id IS NULL THEN NULL ELSE COALESCE(p.brand, '(unknown)') END AS brand
    FROM items AS i
    JOIN customers AS c ON c.user_id = i.user_id
    LEFT JOIN catalogue AS p ON p.product_id = i.product_id)
SELECT *
FROM (
  SELECT
    centroid_id,
    CASE WHEN GROUPING(department) = 0 THEN 'department' WHEN GROUPING(category) = 0 THEN 'category' WHEN GROUPING(brand) = 0 THEN 'brand' END AS dimension,
    COALESCE(department, category, brand) AS value,
    COUNT(DISTINCT user_id) AS customers,
    SUM(sale_price) AS revenue,
    SUM(CASE WHEN found THEN 0 ELSE 1 END) AS items_without_product,
    CAST(SUM(CASE WHEN found THEN sale_price ELSE 0 END) AS FLOAT64) AS product_revenue,
    CAST(SUM(CASE WHEN found THEN cost ELSE 0 END) AS FLOAT64) AS cost
  FROM counted
  GROUP BY GROUPING SETS ((centroid_id), (centroid_id, department), (centroid_id, category), (centroid_id, brand)))
WHERE dimension IS NULL OR value IS NOT NULL
ORDER BY centroid_id, dimension, value;

-- ==== RenderChart ====

-- [29] chart_sample: a stratified sample of the predictions for the chart
-- job id: segmentation_2023_01_01_nightly_renderchart_chart_sample_634d1204b6a6_0
-- @seed INT64 = 42
-- @max_points INT64 = 30000
SELECT days_since_last_order, average_spend, centroid_id
FROM (
  SELECT
    days_since_last_order,
    average_spend,
    centroid_id,
    ROW_NUMBER() OVER (PARTITION BY centroid_id ORDER BY FARM_FINGERPRINT(FORMAT('%d:%d', user_id, @seed)), user_id) AS rank_in_segment,
    COUNT(*) OVER (PARTITION BY centroid_id) AS segment_customers,
    COUNT(*) OVER () AS all_customers
  FROM `my-project.segmentation.predictions_2023_01_01_nightly`)
WHERE rank_in_segment <= GREATEST(
  DIV(@max_points, 4 * (SELECT COUNT(DISTINCT centroid_id) FROM `my-project.segmentation.predictions_2023_01_01_nightly`)),
  CAST(FLOOR(@max_points * segment_customers / all_customers) AS INT64))
ORDER BY centroid_id, rank_in_segment;

-- ==== GenerateCampaign ====
-- The campaign writer (offline, Vertex AI Gemini or an OpenAI-compatible endpoint) reads model.json; no SQL.
-- When the run completes (passes the quality gate, or is released), customer_segments_latest moves to it:

-- [30] segment_runs_row: the completed run into segment_runs, which moves customer_segments_latest
-- job id: segmentation_2023_01_01_nightly_generatecampaign_segment_runs_row_4d75011a136c_0
-- @run_id STRING = '2023-01-01-nightly'
-- @as_of DATE = 2023-01-01
-- @is_latest BOOL = true
MERGE `my-project.segmentation.segment_runs` AS t
USING (SELECT @run_id AS run_id, @as_of AS run_as_of, CURRENT_TIMESTAMP() AS completed_at, IF(@is_latest, CURRENT_TIMESTAMP(), NULL) AS latest_at) AS s
ON t.run_id = s.run_id
WHEN MATCHED AND t.latest_at IS NULL AND s.latest_at IS NOT NULL THEN UPDATE SET latest_at = s.latest_at
WHEN NOT MATCHED THEN INSERT (run_id, run_as_of, completed_at, latest_at) VALUES (s.run_id, s.run_as_of, s.completed_at, s.latest_at);
