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
    /// A local file with the object's content, for engines that read files (DuckDB): the file itself for a
    /// local bucket, a temporary download otherwise. Dispose it when done.
    /// </summary>
    Task<LocalObject> OpenLocalAsync(string objectName, CancellationToken cancellationToken);

    /// <summary>
    /// The names one level below <paramref name="prefix"/> (ending in '/'): objects by their full name, and
    /// "directories" as their prefix ending in '/' (Cloud Storage's delimiter listing).
    /// </summary>
    Task<IReadOnlyList<string>> ListAsync(string prefix, CancellationToken cancellationToken) =>
        throw new NotSupportedException($"{GetType().Name} cannot list objects");
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
}
