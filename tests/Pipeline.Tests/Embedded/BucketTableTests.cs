using Pipeline.Core;
using Pipeline.Embedded;

namespace Pipeline.Tests.Embedded;

/// <summary>Large tables are a prefix of Parquet parts (CONTRACT.md, "The bucket"): how the local bucket lists and opens them.</summary>
public sealed class BucketTableTests : IDisposable
{
    private readonly TempDirectory _root = new();

    public void Dispose() => _root.Dispose();

    [Fact]
    public async Task A_table_is_every_parquet_part_under_its_prefix_in_name_order_and_nothing_else()
    {
        IBucket bucket = new FileSystemBucket(_root.Path);
        var prefix = BucketLayout.Predictions("r1");
        Assert.Equal("runs/r1/predictions/", prefix);
        Assert.Equal("runs/r1/predictions/part-00002.parquet", BucketLayout.Part(prefix, 2));

        // Parts as BigQuery's EXPORT DATA names them, and as the embedded backend does, out of order; beside them a
        // temporary file of a write in progress, a marker, a nested folder, and a neighbour whose name shares the prefix.
        foreach (var name in new[] { "part-000000000001.parquet", "part-00000.parquet", "part-000000000000.parquet", "_SUCCESS", "nested/part-0.parquet" })
            await bucket.WriteAsync(prefix + name, "PAR1"u8.ToArray(), ContentTypes.Parquet, null, CancellationToken.None);
        await bucket.WriteAsync("runs/r1/predictions_old/part-00000.parquet", "PAR1"u8.ToArray(), ContentTypes.Parquet, null, CancellationToken.None);
        File.WriteAllBytes(Path.Combine(_root.Path, "runs", "r1", "predictions", ".part-00009.parquet.abc.tmp"), "PA"u8.ToArray());

        Assert.Equal(
            ["runs/r1/predictions/_SUCCESS", "runs/r1/predictions/nested/part-0.parquet", "runs/r1/predictions/part-00000.parquet",
             "runs/r1/predictions/part-000000000000.parquet", "runs/r1/predictions/part-000000000001.parquet"],
            await bucket.ListAsync(prefix, CancellationToken.None));

        using var parts = await bucket.OpenLocalPartsAsync(prefix, CancellationToken.None);
        Assert.Equal(
            new[] { "part-00000.parquet", "part-000000000000.parquet", "part-000000000001.parquet" }.Select(n => Path.Combine(_root.Path, "runs", "r1", "predictions", n)),
            parts.Paths);
    }

    [Fact]
    public async Task A_table_without_parts_is_a_permanent_error_naming_the_prefix()
    {
        IBucket bucket = new FileSystemBucket(_root.Path);
        var error = await Assert.ThrowsAsync<PermanentPipelineException>(() => bucket.OpenLocalPartsAsync(BucketLayout.CustomerStats("none"), CancellationToken.None));
        Assert.Contains("customer_stats", error.Message, StringComparison.Ordinal);
        Assert.Contains("holds no Parquet part", error.Message, StringComparison.Ordinal);
        Assert.Empty(await bucket.ListAsync("runs/none/", CancellationToken.None));
    }
}
