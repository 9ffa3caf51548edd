using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Pipeline.Core;
using Pipeline.Embedded;

namespace Pipeline.Gcp.Tests;

/// <summary>
/// The bucket's Parquet tables have the same column types from both backends, chosen once in
/// <see cref="BucketTables"/>: the embedded backend's parts, written here by DuckDB for real, carry exactly the
/// Parquet types BigQuery's EXPORT DATA writes for the BigQuery types the export statements cast each column to
/// (INT64 → INT64, FLOAT64 → DOUBLE, STRING → UTF-8 BYTE_ARRAY, as BigQuery's export documentation maps them).
/// </summary>
public sealed class BucketTableTypesTests : IDisposable
{
    private readonly TemporaryDirectory _directory = new();

    [Fact]
    public async Task Both_backends_write_customer_stats_and_predictions_with_the_same_column_types()
    {
        var input = Path.Combine(_directory.Path, "order_items.csv");
        await File.WriteAllTextAsync(input, """
            order_id,user_id,status,created_at,sale_price
            1,11,Complete,2022-12-01 10:00:00 UTC,85.5
            2,11,Complete,2022-12-20 10:00:00 UTC,85.5
            3,42,Shipped,2022-03-05 10:00:00 UTC,19.99
            4,77,Complete,2022-12-29 10:00:00 UTC,240.125
            """);
        var bucket = new FileSystemBucket(Path.Combine(_directory.Path, "bucket"));
        var options = Options.Create(new EmbeddedOptions { Input = input, BucketDirectory = bucket.Root });
        var run = TestRuns.Parameters();

        await new DuckDbStatsBuilder(options, bucket, NullLogger<DuckDbStatsBuilder>.Instance).BuildAsync(run, CancellationToken.None);
        await new EmbeddedSegmentationEngine(options, Options.Create(new AudienceOptions()), bucket, new RunLedger(bucket, TimeProvider.System), NullLogger<EmbeddedSegmentationEngine>.Instance)
            .PredictAsync(run, Model(), CancellationToken.None);

        var plan = new SqlPlan(FakeBigQuery.Options(), run);
        AssertSameTypes(await ParquetColumnsAsync(bucket, BucketLayout.CustomerStats(run.RunId)), BucketTables.CustomerStats, plan.StatsExport().Sql);
        AssertSameTypes(await ParquetColumnsAsync(bucket, BucketLayout.Predictions(run.RunId)), BucketTables.Predictions, plan.PredictionsExport().Sql);
    }

    private static void AssertSameTypes(IReadOnlyDictionary<string, (string Physical, string? Converted)> embedded,
        IReadOnlyList<TableColumn> chosen, string bigQueryExport)
    {
        foreach (var column in chosen)
        {
            Assert.True(embedded.ContainsKey(column.Name), $"the embedded part has no column {column.Name}");
            Assert.Equal((column.Name, column.ParquetType), (column.Name, embedded[column.Name].Physical));
            if (column.Type == ColumnType.Text) Assert.Equal("UTF8", embedded[column.Name].Converted);
            if (column.Type == ColumnType.Date) Assert.Equal("DATE", embedded[column.Name].Converted);
            Assert.Contains($"CAST({column.Name} AS {column.BigQueryType}) AS {column.Name}", bigQueryExport, StringComparison.Ordinal);
        }
    }

    /// <summary>Every column's Parquet physical and converted type, as DuckDB reads them from the part's footer.</summary>
    private static async Task<IReadOnlyDictionary<string, (string Physical, string? Converted)>> ParquetColumnsAsync(IBucket bucket, string tablePrefix)
    {
        using var parts = await bucket.OpenLocalPartsAsync(tablePrefix, CancellationToken.None);
        using var connection = BigQueryOnDuckDb.Open();
        using var command = DuckDb.Command(connection,
            $"SELECT name, type, converted_type FROM parquet_schema({DuckDb.Literal(Assert.Single(parts.Paths))}) WHERE num_children IS NULL OR num_children = 0");
        using var reader = command.ExecuteReader();
        var columns = new Dictionary<string, (string, string?)>();
        while (reader.Read()) columns[reader.GetString(0)] = (reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2));
        return columns;
    }

    private static SegmentModel Model() => new(
        "run-1", "kmeans", 2, "fixed", Features.All,
        new Standardization([100, 1.5, 100], [80, 0.5, 90]),
        [
            new Centroid(1, "Champions", 20, 2, 150, new RfmScore(5, 5, 4)),
            new Centroid(2, "Hibernating", 300, 1, 20, new RfmScore(1, 1, 1)),
        ],
        new ModelMetrics(0.8, 1.1, 0.9), 3, 3, 0, 42, null);

    public void Dispose() => _directory.Dispose();
}
