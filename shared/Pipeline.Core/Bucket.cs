namespace Pipeline.Core;

/// <summary>An object read from the bucket, with the generation a conditional write must match.</summary>
public sealed record BucketObject(byte[] Content, string Generation);

/// <summary>
/// Where users read the outputs: a local directory or a Cloud Storage bucket, with the same layout.
/// Every write is whole: no reader ever sees half an object.
/// </summary>
public interface IBucket
{
    /// <summary>Where an object is, for people: a file path or a gs:// URI.</summary>
    string Describe(string objectName);

    /// <summary>The object, or null when it does not exist.</summary>
    Task<BucketObject?> TryReadAsync(string objectName, CancellationToken cancellationToken);

    /// <summary>
    /// Writes the whole object. With <paramref name="ifGenerationMatch"/> the write happens only if the object is
    /// still at that generation ("0": only if it does not exist), else <see cref="ConcurrentUpdateException"/>.
    /// </summary>
    Task<string> WriteAsync(string objectName, ReadOnlyMemory<byte> content, string contentType,
        string? ifGenerationMatch, CancellationToken cancellationToken);

    /// <summary>Uploads a local file as the whole object.</summary>
    Task UploadFileAsync(string objectName, string localPath, string contentType, CancellationToken cancellationToken);

    /// <summary>
    /// Uploads a local file the caller no longer needs as the whole object, and deletes the file. A bucket in a local
    /// directory moves it in instead of copying it: at hundreds of megabytes the copy's fresh pages cost more than
    /// writing the file did.
    /// </summary>
    async Task MoveFileInAsync(string objectName, string localPath, string contentType, CancellationToken cancellationToken)
    {
        await UploadFileAsync(objectName, localPath, contentType, cancellationToken);
        File.Delete(localPath);
    }

    /// <summary>
    /// A local file with the object's content, for engines that read files (DuckDB): the file itself for a
    /// local bucket, a temporary download otherwise. Dispose it when done.
    /// </summary>
    Task<LocalObject> OpenLocalAsync(string objectName, CancellationToken cancellationToken);

    /// <summary>The names of the objects whose names start with <paramref name="prefix"/>, in name order.</summary>
    Task<IReadOnlyList<string>> ListAsync(string prefix, CancellationToken cancellationToken);

    /// <summary>
    /// Deletes the object (a stale Parquet part of an earlier attempt); deleting one that does not exist is not an error.
    /// </summary>
    Task DeleteAsync(string objectName, CancellationToken cancellationToken);

    /// <summary>The most sources one <see cref="ComposeAsync"/> takes (Cloud Storage's limit for objects.compose).</summary>
    const int MaxComposeSources = 32;

    /// <summary>
    /// Writes <paramref name="destination"/> whole as the concatenation of the <paramref name="sources"/> (1 to
    /// <see cref="MaxComposeSources"/> objects of this bucket, in order), replacing it if it exists, without their
    /// content passing through this process on Cloud Storage (objects.compose). A missing source is an error.
    /// </summary>
    Task ComposeAsync(IReadOnlyList<string> sources, string destination, string contentType, CancellationToken cancellationToken);

    /// <summary>
    /// Local files with every Parquet part of the table under <paramref name="tablePrefix"/>
    /// (<see cref="BucketLayout.Part"/>), in name order; a table without parts is a permanent error.
    /// Dispose it when done.
    /// </summary>
    async Task<LocalParts> OpenLocalPartsAsync(string tablePrefix, CancellationToken cancellationToken)
    {
        var names = (await ListAsync(tablePrefix, cancellationToken)).Where(n => BucketLayout.IsPart(tablePrefix, n)).ToList();
        if (names.Count == 0) throw new PermanentPipelineException($"{Describe(tablePrefix)} holds no Parquet part (part-*.parquet)");
        var parts = new List<LocalObject>(names.Count);
        try
        {
            foreach (var name in names) parts.Add(await OpenLocalAsync(name, cancellationToken));
            return new LocalParts(parts);
        }
        catch
        {
            foreach (var part in parts) part.Dispose();
            throw;
        }
    }
}

/// <summary>Local copies of a table's Parquet parts; disposing them removes temporary copies.</summary>
public sealed class LocalParts(IReadOnlyList<LocalObject> parts) : IDisposable
{
    /// <summary>The parts' local paths, in name order (never empty).</summary>
    public IReadOnlyList<string> Paths { get; } = parts.Select(p => p.Path).ToList();

    public void Dispose()
    {
        foreach (var part in parts) part.Dispose();
    }
}

/// <summary>A local copy of a bucket object; disposing it removes a temporary copy.</summary>
public sealed class LocalObject(string path, bool temporary) : IDisposable
{
    public string Path { get; } = path;

    public void Dispose()
    {
        if (temporary && File.Exists(Path)) File.Delete(Path);
    }
}

/// <summary>Content types of the bucket's files.</summary>
public static class ContentTypes
{
    public const string Json = "application/json";
    public const string Parquet = "application/vnd.apache.parquet";
    public const string Csv = "text/csv";
    public const string Png = "image/png";
    public const string Markdown = "text/markdown; charset=utf-8";
    public const string Html = "text/html; charset=utf-8";
}
