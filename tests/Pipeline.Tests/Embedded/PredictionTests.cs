using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Pipeline.Analytics;
using Pipeline.Core;
using Pipeline.Embedded;

namespace Pipeline.Tests.Embedded;

/// <summary>
/// Predict assigns customers in process; its predictions must be the ones the prediction SQL computes, to the bit:
/// DuckDB reads the model's numbers as DECIMAL literals and subtracts them from integer columns exactly, so a
/// plain double computation would differ in the last bit of about one distance in five.
/// </summary>
public sealed class PredictionTests : IDisposable
{
    private readonly TempDirectory _bucketDirectory = new();

    public void Dispose() => _bucketDirectory.Dispose();

    private static readonly Standardization Messy = new([163.88153286512394, 1.3518540153738061, 223.9581413572162],
        [104.27930668872345, 0.6211070992229462, 265.6005382581273]);

    private static SegmentModel Model(string runId) => new(runId, SegmentationTrainer.Engine, 4, "fixed", Features.All, Messy,
        [
            new Centroid(1, "Loyal Customers", 89.0163548163548, 3.1734349734349636, 222.9858655848156, new RfmScore(4, 5, 4)),
            new Centroid(2, "Need Attention", 104.02166970802924, 1.999999999999964, 202.12685946892444, new RfmScore(4, 5, 4)),
            new Centroid(3, "Big Spenders", 186.35725350871496, 1.0811294676400558, 745.2332038842453, new RfmScore(3, 2, 5)),
            new Centroid(4, "About to Sleep", 268.6402479618888, 1.0523709860670925, 103.76410791524658, new RfmScore(2, 2, 3)),
        ],
        new ModelMetrics(1, 1, 1), 3, 20_000, 0, 42, null);

    /// <param name="parts">How many parts the statistics come in (as BigQuery exports them): the lent columns find each
    /// customer by the part and its row in it; one part is empty.</param>
    [Theory]
    [InlineData(400, 1)]        // integer features tabulated by DuckDB once per value
    [InlineData(400, 3)]
    [InlineData(5_000_000, 1)]  // days spread too wide to tabulate: DuckDB assigns the customers itself
    public async Task Predictions_are_the_prediction_sqls_to_the_bit(long maxDays, int parts)
    {
        var runId = $"predict-{maxDays}-{parts}";
        var parameters = new RunParameters(runId, new DateOnly(2025, 1, 1), new DateOnly(2026, 1, 1), new DateOnly(2026, 1, 1), 4,
            StatsPreset.Rfm, 42, 0.2);
        var options = Options.Create(new EmbeddedOptions { BucketDirectory = _bucketDirectory.Path });
        var bucket = new FileSystemBucket(options);
        var statsParts = Enumerable.Range(0, parts).Select(k => Path.Combine(_bucketDirectory.Path, BucketLayout.Part(BucketLayout.CustomerStats(runId), k))).ToList();
        Directory.CreateDirectory(Path.GetDirectoryName(statsParts[0])!);
        using var connection = DuckDb.Open(options.Value);
        // In user order across the parts: the first holds i ≤ 7,000, the second nobody, the last the rest.
        for (var k = 0; k < parts; k++)
            DuckDb.Execute(connection, $"""
                COPY (SELECT i * 3 AS user_id, CAST(hash(i) % {maxDays} AS BIGINT) AS days_since_last_order,
                        CAST(1 + hash(i * 7) % 6 AS BIGINT) AS count_orders, CAST(hash(i * 13) % 200000 AS DOUBLE) / 97.0 AS average_spend
                      FROM range(1, 20001) t(i)
                      WHERE {(parts == 1 ? "true" : k == 0 ? "i <= 7000" : k == parts - 1 ? "i > 7000" : "false")}
                      ORDER BY user_id)
                TO {DuckDb.Literal(statsParts[k])} (FORMAT parquet)
                """);
        var stats = $"[{string.Join(", ", statsParts.Select(DuckDb.Literal))}]";
        var model = Model(runId);
        var engine = new EmbeddedSegmentationEngine(options, Options.Create(new AudienceOptions()), bucket,
            new RunLedger(bucket, TimeProvider.System), NullLogger<EmbeddedSegmentationEngine>.Instance);

        var outcome = await engine.PredictAllAsync(parameters, model, CancellationToken.None);

        using var predictions = await ((IBucket)bucket).OpenLocalPartsAsync(BucketLayout.Predictions(runId), CancellationToken.None);
        var expected = EmbeddedSegmentationEngine.PredictionSql(model, $"read_parquet({stats})");
        Assert.Equal(0L, DuckDb.Scalar<long>(connection, $"""
            SELECT count(*) FROM {DuckDb.ReadParquet(predictions)} AS p FULL JOIN ({expected}) AS q USING (user_id)
            WHERE p.centroid_id IS DISTINCT FROM q.centroid_id OR p.distance IS DISTINCT FROM q.distance OR p.segment IS DISTINCT FROM q.segment
               OR p.days_since_last_order IS DISTINCT FROM q.days_since_last_order OR p.count_orders IS DISTINCT FROM q.count_orders
               OR p.average_spend IS DISTINCT FROM q.average_spend
            """));
        Assert.Equal(20_000L, outcome.Sizes.Sum(s => s.Customers));
        foreach (var size in outcome.Sizes)
            Assert.Equal(DuckDb.Scalar<long>(connection, $"SELECT count(*) FROM ({expected}) WHERE centroid_id = {size.CentroidId}"), size.Customers);
        var control = Enumerable.Range(1, 20_000).Count(i => ControlGroup.Contains(i * 3L, new AudienceOptions().ControlGroupSalt, new AudienceOptions().ControlGroupShare));
        Assert.Equal(control, outcome.Movement.ControlGroup);
        Assert.Equal(20_000L - control, outcome.Audiences.Sum(a => a.Customers));
        Assert.Equal(DuckDb.Scalar<long>(connection, $"SELECT min(days_since_last_order) FROM read_parquet({stats})"),
            outcome.Movement.NewestOrderDays);
    }

    /// <summary>
    /// The in-process path (whole columns handed to DuckDB, no join or sort on a first run in user order) writes the
    /// predictions, movement and audiences the SQL path writes: the prediction SQL with the control group and the
    /// movement columns in SQL, joined to the previous run and sorted by user. A second run carries
    /// <c>segment_since</c> over from the first; statistics out of user order still give predictions in user order.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Predictions_movement_and_audiences_are_the_sql_paths_over_two_runs(bool statsOutOfUserOrder)
    {
        var options = Options.Create(new EmbeddedOptions { BucketDirectory = _bucketDirectory.Path });
        var bucket = new FileSystemBucket(options);
        var ledger = new RunLedger(bucket, TimeProvider.System);
        var audiences = new AudienceOptions();
        var engine = new EmbeddedSegmentationEngine(options, Options.Create(audiences), bucket, ledger, NullLogger<EmbeddedSegmentationEngine>.Instance);
        using var connection = DuckDb.Open(options.Value);

        // The second run loses the first 5,000 customers, gains 5,000 new ones and sees everybody's features change a little.
        var first = await PredictAndCompareAsync(engine, ledger, connection, "first", new DateOnly(2025, 12, 1), 1, 20_000, 7, null, statsOutOfUserOrder);
        var second = await PredictAndCompareAsync(engine, ledger, connection, "second", new DateOnly(2026, 1, 1), 5_001, 25_000, 11, "first", statsOutOfUserOrder);

        Assert.Equal(0L, first.Movement.Migration.Gone);
        Assert.Equal(5_000L, second.Movement.Migration.New);
        Assert.Equal(5_000L, second.Movement.Migration.Gone);
        var predictions = Predictions("second");
        Assert.True(DuckDb.Scalar<long>(connection, $"SELECT count(*) FROM {predictions} WHERE segment_since = DATE '2025-12-01'") > 0);
        Assert.True(DuckDb.Scalar<long>(connection, $"SELECT count(*) FROM {predictions} WHERE previous_segment_id <> centroid_id") > 0);
    }

    /// <summary>
    /// A later run in user order merges the previous run's segments in process instead of joining them; its
    /// predictions, movement and audiences are still the SQL path's over three runs (customers who stay, move, are new,
    /// are gone; <c>segment_since</c> carried over twice), whatever the previous run's parts look like: more than one,
    /// written before <c>segment_since</c> existed, or out of user order (then the join is the fallback).
    /// </summary>
    [Theory]
    [InlineData("one part")]
    [InlineData("two parts")]
    [InlineData("without segment_since")]
    [InlineData("two parts out of order")]
    public async Task A_later_runs_movement_merged_in_process_is_the_joins(string previousParts)
    {
        var options = Options.Create(new EmbeddedOptions { BucketDirectory = _bucketDirectory.Path });
        var bucket = new FileSystemBucket(options);
        var ledger = new RunLedger(bucket, TimeProvider.System);
        var engine = new EmbeddedSegmentationEngine(options, Options.Create(new AudienceOptions()), bucket, ledger, NullLogger<EmbeddedSegmentationEngine>.Instance);
        using var connection = DuckDb.Open(options.Value);
        var firstAsOf = new DateOnly(2025, 12, 1);
        await PredictAndCompareAsync(engine, ledger, connection, "first", firstAsOf, 1, 20_000, 7, null, outOfUserOrder: false);
        var firstSince = RewriteParts(connection, "first", previousParts);
        var firstSegments = $"SELECT user_id, centroid_id, {firstSince} AS segment_since FROM {Predictions("first")}";
        var merged = PreviousSegments.Merge(connection, firstSegments, [3, 6], [1, 1], firstAsOf);
        Assert.Equal(previousParts != "two parts out of order", merged is not null);
        // Users 3 and 6 stay; the first run's other 19,998 customers are gone, counted by their segment.
        if (merged is { } m)
            Assert.Equal(DuckDb.Scalar<long>(connection, $"SELECT count(*) FROM ({firstSegments}) WHERE user_id NOT IN (3, 6)"), m.GoneBySegment.Values.Sum());

        var second = await PredictAndCompareAsync(engine, ledger, connection, "second", new DateOnly(2026, 1, 1), 5_001, 25_000, 11, "first",
            outOfUserOrder: false, firstSegments);
        // The third run sees the second's customers unchanged (they stay) and 5,000 new ones.
        var third = await PredictAndCompareAsync(engine, ledger, connection, "third", new DateOnly(2026, 2, 1), 5_001, 30_000, 11, "second",
            outOfUserOrder: false);

        Assert.Equal((5_000L, 5_000L), (second.Movement.Migration.New, second.Movement.Migration.Gone));
        Assert.Equal((5_000L, 0L), (third.Movement.Migration.New, third.Movement.Migration.Gone));
        Assert.True(second.Movement.Migration.Moved > 0);
        // Since the first run (carried over twice), since the second, and only the third run's new customers since now.
        Assert.Equal("2025-12-01 2026-01-01 2026-02-01: 5000 new", DuckDb.Scalar<string>(connection, $"""
            SELECT array_to_string(list_sort(list(DISTINCT CAST(segment_since AS VARCHAR))), ' ') || ': '
                || CAST(count(*) FILTER (WHERE previous_segment_id IS NULL AND segment_since = DATE '2026-02-01') AS VARCHAR) || ' new'
            FROM {Predictions("third")}
            """));
    }

    /// <summary>
    /// Writes a run's predictions again as <paramref name="layout"/> says and returns its <c>segment_since</c> as SQL
    /// (the run's as_of when the parts lack the column).
    /// </summary>
    private string RewriteParts(DuckDB.NET.Data.DuckDBConnection connection, string runId, string layout)
    {
        var directory = Path.Combine(_bucketDirectory.Path, BucketLayout.Predictions(runId));
        var original = Path.Combine(_bucketDirectory.Path, $"{runId}-predictions.parquet");
        File.Move(Path.Combine(directory, "part-00000.parquet"), original);
        var (first, second, columns) = layout switch
        {
            "one part" => ("true", null, "*"),
            "two parts" => ("user_id < 30000", "user_id >= 30000", "*"),
            "without segment_since" => ("true", null, "* EXCLUDE (segment_since)"),
            "two parts out of order" => ("user_id >= 30000", "user_id < 30000", "*"),
            _ => throw new ArgumentException(layout, nameof(layout)),
        };
        foreach (var (part, filter) in new[] { first, second }.Select((f, i) => (i, f)).Where(p => p.f is not null))
            DuckDb.Execute(connection, $"""
                COPY (SELECT {columns} FROM read_parquet({DuckDb.Literal(original)}) WHERE {filter} ORDER BY user_id)
                TO {DuckDb.Literal(Path.Combine(directory, $"part-{part:D5}.parquet"))} (FORMAT parquet)
                """);
        return layout == "without segment_since" ? "DATE '2025-12-01'" : "segment_since";
    }

    private async Task<PredictionOutcome> PredictAndCompareAsync(EmbeddedSegmentationEngine engine, RunLedger ledger, DuckDB.NET.Data.DuckDBConnection connection,
        string runId, DateOnly asOf, int firstUser, int lastUser, int featureSeed, string? previousRunId, bool outOfUserOrder, string? previousSegments = null)
    {
        var parameters = new RunParameters(runId, asOf.AddYears(-1), asOf, asOf, 4, StatsPreset.Rfm, 42, 0.2);
        await ledger.UpdateAsync(runId, parameters, m => m, CancellationToken.None);
        var stats = Path.Combine(_bucketDirectory.Path, BucketLayout.Part(BucketLayout.CustomerStats(runId), 0));
        Directory.CreateDirectory(Path.GetDirectoryName(stats)!);
        DuckDb.Execute(connection, $"""
            COPY (SELECT i * 3 AS user_id, CAST(hash(i * {featureSeed}) % 400 AS BIGINT) AS days_since_last_order,
                    CAST(1 + hash(i * 7) % 6 AS BIGINT) AS count_orders, CAST(hash(i * 13) % 200000 AS DOUBLE) / 97.0 AS average_spend
                  FROM range({firstUser}, {lastUser + 1}) t(i) ORDER BY {(outOfUserOrder ? "hash(i)" : "user_id")})
            TO {DuckDb.Literal(stats)} (FORMAT parquet)
            """);
        var model = Model(runId) with { MatchedToRun = previousRunId };

        var outcome = await engine.PredictAllAsync(parameters, model, CancellationToken.None);

        var previous = previousSegments ?? (previousRunId is null ? null : $"SELECT user_id, centroid_id, segment_since FROM {Predictions(previousRunId)}");
        var expected = EmbeddedSegmentationEngine.MovementSql(
            $"({EmbeddedSegmentationEngine.PredictionSql(model, $"read_parquet({DuckDb.Literal(stats)})")})", previous, asOf, new AudienceOptions());
        var written = Predictions(runId);
        Assert.Equal(Schema(connection, expected), Schema(connection, $"SELECT * FROM {written}"));
        // The segment names, written from an ENUM, are a plain UTF-8 string column to any Parquet reader.
        Assert.Equal("BYTE_ARRAY UTF8", DuckDb.Scalar<string>(connection,
            $"SELECT DISTINCT type || ' ' || converted_type FROM parquet_schema({DuckDb.Literal(Path.Combine(_bucketDirectory.Path, BucketLayout.Predictions(runId), "*.parquet"))}) WHERE name = 'segment'"));
        Assert.Equal(0L, DuckDb.Scalar<long>(connection, $"""
            SELECT count(*) FROM ((SELECT * FROM {written} EXCEPT ALL SELECT * FROM ({expected}))
                UNION ALL (SELECT * FROM ({expected}) EXCEPT ALL SELECT * FROM {written}))
            """));
        Assert.Equal(lastUser - firstUser + 1, UserIdsInFileOrder(connection, written).Count);
        Assert.Equal(UserIdsInFileOrder(connection, written).Order(), UserIdsInFileOrder(connection, written));

        // The movement from the parts just written (the separate MovementAsync path) and the audiences as DuckDB writes them from the SQL path.
        var fromParts = await engine.MovementAsync(parameters, model, outcome.Sizes, CancellationToken.None);
        Assert.Equal(PipelineJson.Serialize(fromParts), PipelineJson.Serialize(outcome.Movement));
        Assert.Equal(4, outcome.Audiences.Count);
        foreach (var audience in outcome.Audiences)
        {
            var csv = Path.Combine(_bucketDirectory.Path, $"expected-{runId}-{audience.CentroidId}.csv");
            DuckDb.Execute(connection, $"""
                COPY (SELECT user_id FROM ({expected}) WHERE centroid_id = {audience.CentroidId} AND NOT control_group ORDER BY user_id)
                TO {DuckDb.Literal(csv)} (FORMAT csv, HEADER true)
                """);
            Assert.Equal(await File.ReadAllBytesAsync(csv), await File.ReadAllBytesAsync(Path.Combine(_bucketDirectory.Path, audience.ObjectName)));
        }
        return outcome;
    }

    private string Predictions(string runId) =>
        $"read_parquet({DuckDb.Literal(Path.Combine(_bucketDirectory.Path, BucketLayout.Predictions(runId), "*.parquet"))})";

    private static string Schema(DuckDB.NET.Data.DuckDBConnection connection, string query)
    {
        using var command = DuckDb.Command(connection, $"SELECT column_name, column_type FROM (DESCRIBE {query})");
        using var reader = command.ExecuteReader();
        var columns = new List<string>();
        while (reader.Read()) columns.Add($"{reader.GetString(0)} {reader.GetString(1)}");
        return string.Join(", ", columns);
    }

    private static List<long> UserIdsInFileOrder(DuckDB.NET.Data.DuckDBConnection connection, string table)
    {
        using var command = DuckDb.Command(connection, $"SELECT user_id FROM {table}");
        using var reader = command.ExecuteReader();
        var ids = new List<long>();
        while (reader.Read()) ids.Add(reader.GetInt64(0));
        return ids;
    }

    /// <summary>
    /// Lent columns reach DuckDB bit for bit at each position, across vectors, a partial last one and in any order
    /// the query asks for them; a position outside the array fails the query instead of reading past it.
    /// </summary>
    [Fact]
    public void Lent_columns_are_read_as_they_are_at_each_position()
    {
        const int rows = 5_000; // two full vectors of 2,048 and a part of one
        var ids = Enumerable.Range(0, rows).Select(i => i switch { 0 => long.MinValue, 1 => long.MaxValue, _ => i * 7919L - 1_000_000 }).ToArray();
        var values = Enumerable.Range(0, rows).Select(i => i switch { 0 => -0.0, 1 => double.NaN, 2 => double.Epsilon, 3 => double.NegativeInfinity, _ => i / 3.0 }).ToArray();
        var flags = Enumerable.Range(0, rows).Select(i => i % 3 == 0).ToArray();
        using var connection = DuckDb.Open(new EmbeddedOptions());
        DuckDbColumns.Lend(connection, "lent_id", ids);
        DuckDbColumns.Lend(connection, "lent_value", values);
        DuckDbColumns.Lend(connection, "lent_flag", flags);

        // Backwards, so that a function reading by its call order instead of the position would be caught.
        using (var command = DuckDb.Command(connection,
            "SELECT p, lent_id(p), lent_value(p), lent_flag(p) FROM (SELECT range AS p FROM range(5000)) ORDER BY p DESC"))
        using (var reader = command.ExecuteReader())
        {
            var read = 0;
            for (; reader.Read(); read++)
            {
                var i = (int)reader.GetInt64(0);
                Assert.Equal(rows - 1 - read, i);
                Assert.Equal(ids[i], reader.GetInt64(1));
                Assert.Equal(BitConverter.DoubleToInt64Bits(values[i]), BitConverter.DoubleToInt64Bits(reader.GetDouble(2)));
                Assert.Equal(flags[i], reader.GetBoolean(3));
            }
            Assert.Equal(rows, read);
        }
        Assert.Equal(["BIGINT", "DOUBLE", "BOOLEAN"], new[] { "lent_id(0)", "lent_value(0)", "lent_flag(0)" }
            .Select(call => DuckDb.Scalar<string>(connection, $"SELECT typeof({call})")));
        var outside = Assert.ThrowsAny<Exception>(() => DuckDb.Scalar<long>(connection, $"SELECT sum(lent_id(range)) FROM range({rows + 1})"));
        Assert.Contains("5000", outside.Message);
        Assert.Throws<ArgumentException>(() => DuckDbColumns.Lend(connection, "lent_text", new[] { "a" }));
    }
}
