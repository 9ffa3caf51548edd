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

    [Theory]
    [InlineData(400)]        // integer features tabulated by DuckDB once per value
    [InlineData(5_000_000)]  // days spread too wide to tabulate: DuckDB assigns the customers itself
    public async Task Predictions_are_the_prediction_sqls_to_the_bit(long maxDays)
    {
        var runId = $"predict-{maxDays}";
        var parameters = new RunParameters(runId, new DateOnly(2025, 1, 1), new DateOnly(2026, 1, 1), new DateOnly(2026, 1, 1), 4,
            StatsPreset.Rfm, 42, 0.2);
        var options = Options.Create(new EmbeddedOptions { BucketDirectory = _bucketDirectory.Path });
        var bucket = new FileSystemBucket(options);
        var stats = Path.Combine(_bucketDirectory.Path, BucketLayout.Part(BucketLayout.CustomerStats(runId), 0));
        Directory.CreateDirectory(Path.GetDirectoryName(stats)!);
        using var connection = DuckDb.Open(options.Value);
        DuckDb.Execute(connection, $"""
            COPY (SELECT i * 3 AS user_id, CAST(hash(i) % {maxDays} AS BIGINT) AS days_since_last_order,
                    CAST(1 + hash(i * 7) % 6 AS BIGINT) AS count_orders, CAST(hash(i * 13) % 200000 AS DOUBLE) / 97.0 AS average_spend
                  FROM range(1, 20001) t(i) ORDER BY user_id)
            TO {DuckDb.Literal(stats)} (FORMAT parquet)
            """);
        var model = Model(runId);
        var engine = new EmbeddedSegmentationEngine(options, Options.Create(new AudienceOptions()), bucket,
            new RunLedger(bucket, TimeProvider.System), NullLogger<EmbeddedSegmentationEngine>.Instance);

        var outcome = await engine.PredictAllAsync(parameters, model, CancellationToken.None);

        using var predictions = await ((IBucket)bucket).OpenLocalPartsAsync(BucketLayout.Predictions(runId), CancellationToken.None);
        var expected = EmbeddedSegmentationEngine.PredictionSql(model, $"read_parquet({DuckDb.Literal(stats)})");
        Assert.Equal(0L, DuckDb.Scalar<long>(connection, $"""
            SELECT count(*) FROM {DuckDb.ReadParquet(predictions)} AS p FULL JOIN ({expected}) AS q USING (user_id)
            WHERE p.centroid_id IS DISTINCT FROM q.centroid_id OR p.distance IS DISTINCT FROM q.distance OR p.segment IS DISTINCT FROM q.segment
            """));
        Assert.Equal(20_000L, outcome.Sizes.Sum(s => s.Customers));
        foreach (var size in outcome.Sizes)
            Assert.Equal(DuckDb.Scalar<long>(connection, $"SELECT count(*) FROM ({expected}) WHERE centroid_id = {size.CentroidId}"), size.Customers);
        var control = Enumerable.Range(1, 20_000).Count(i => ControlGroup.Contains(i * 3L, new AudienceOptions().ControlGroupSalt, new AudienceOptions().ControlGroupShare));
        Assert.Equal(control, outcome.Movement.ControlGroup);
        Assert.Equal(20_000L - control, outcome.Audiences.Sum(a => a.Customers));
        Assert.Equal(DuckDb.Scalar<long>(connection, $"SELECT min(days_since_last_order) FROM read_parquet({DuckDb.Literal(stats)})"),
            outcome.Movement.NewestOrderDays);
    }
}
