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

    [Fact]
    public async Task Compose_writes_the_sources_one_after_another_into_the_destination_whole_and_keeps_the_sources()
    {
        IBucket bucket = new FileSystemBucket(_root.Path);
        const string destination = "runs/r1/audiences/champions.csv";
        await bucket.WriteAsync(destination, "an older attempt's file"u8.ToArray(), ContentTypes.Csv, null, CancellationToken.None);
        string[] sources = ["runs/r1/audiences/.parts/champions/compose/header.csv", "runs/r1/audiences/.parts/champions/part-000000000000.csv",
            "runs/r1/audiences/.parts/champions/part-000000000001.csv", "runs/r1/audiences/.parts/champions/part-000000000002.csv"];
        string[] contents = ["user_id\n", "101\n102\n", "", "103\n"];
        foreach (var (name, content) in sources.Zip(contents))
            await bucket.WriteAsync(name, System.Text.Encoding.UTF8.GetBytes(content), ContentTypes.Csv, null, CancellationToken.None);

        await bucket.ComposeAsync(sources, destination, ContentTypes.Csv, CancellationToken.None);

        Assert.Equal("user_id\n101\n102\n103\n", await File.ReadAllTextAsync(Path.Combine(_root.Path, "runs", "r1", "audiences", "champions.csv")));
        Assert.All(sources, name => Assert.True(File.Exists(Path.Combine(_root.Path, name))));
        // No temporary file of the compose is left beside the destination.
        Assert.Equal(["champions.csv"], Directory.GetFiles(Path.Combine(_root.Path, "runs", "r1", "audiences")).Select(Path.GetFileName));
    }

    [Fact]
    public async Task Compose_refuses_a_missing_source_and_more_sources_than_Cloud_Storage_takes_and_leaves_the_destination_alone()
    {
        IBucket bucket = new FileSystemBucket(_root.Path);
        await bucket.WriteAsync("runs/r1/a.csv", "a\n"u8.ToArray(), ContentTypes.Csv, null, CancellationToken.None);

        var missing = await Assert.ThrowsAsync<FileNotFoundException>(() =>
            bucket.ComposeAsync(["runs/r1/a.csv", "runs/r1/b.csv"], "runs/r1/out.csv", ContentTypes.Csv, CancellationToken.None));
        Assert.Contains("b.csv does not exist", missing.Message, StringComparison.Ordinal);

        var tooMany = await Assert.ThrowsAsync<ArgumentException>(() =>
            bucket.ComposeAsync(Enumerable.Repeat("runs/r1/a.csv", IBucket.MaxComposeSources + 1).ToList(), "runs/r1/out.csv", ContentTypes.Csv, CancellationToken.None));
        Assert.Contains("1 to 32 sources, not 33", tooMany.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(_root.Path, "runs", "r1", "out.csv")));
    }

    /// <summary>
    /// A part written to a local file is moved in whole: the object has the file's bytes, the file is gone and no
    /// temporary file is left. A bucket that cannot move (as Cloud Storage: the interface's own way) uploads the file
    /// and then deletes it.
    /// </summary>
    [Fact]
    public async Task A_file_moved_in_becomes_the_whole_object_and_leaves_nothing_behind()
    {
        var bucket = new FileSystemBucket(Path.Combine(_root.Path, "bucket"));
        var content = Enumerable.Range(0, 100_000).Select(i => (byte)(i * 31)).ToArray();
        var local = Path.Combine(_root.Path, "part.export");
        await File.WriteAllBytesAsync(local, content);
        await File.WriteAllBytesAsync(Path.Combine(_root.Path, "old.export"), "PAR1"u8.ToArray());
        await ((IBucket)bucket).MoveFileInAsync("runs/r1/predictions/part-00000.parquet", Path.Combine(_root.Path, "old.export"), ContentTypes.Parquet, CancellationToken.None);

        await ((IBucket)bucket).MoveFileInAsync("runs/r1/predictions/part-00000.parquet", local, ContentTypes.Parquet, CancellationToken.None);

        Assert.False(File.Exists(local));
        Assert.Equal(content, (await bucket.TryReadAsync("runs/r1/predictions/part-00000.parquet", CancellationToken.None))!.Content.ToArray());
        Assert.Equal(["part-00000.parquet"], Directory.GetFiles(Path.Combine(bucket.Root, "runs", "r1", "predictions")).Select(Path.GetFileName));

        IBucket uploading = new Reliability.FaultyBucket(bucket.Root, full: _ => false); // a local bucket that refuses nothing, without a move of its own
        var another = Path.Combine(_root.Path, "other.export");
        await File.WriteAllBytesAsync(another, content[..10]);
        await uploading.MoveFileInAsync("runs/r1/other.csv", another, ContentTypes.Csv, CancellationToken.None);
        Assert.False(File.Exists(another));
        Assert.Equal(content[..10], (await bucket.TryReadAsync("runs/r1/other.csv", CancellationToken.None))!.Content.ToArray());
    }
}
