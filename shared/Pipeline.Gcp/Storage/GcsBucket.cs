using System.Globalization;
using System.Net;
using Google;
using Google.Apis.Storage.v1.Data;
using Google.Cloud.Storage.V1;
using Pipeline.Core;

namespace Pipeline.Gcp;

/// <summary>
/// The bucket on Cloud Storage. Objects are written whole (Cloud Storage never shows half an upload); reads pin the
/// generation they read, and conditional writes use <c>ifGenerationMatch</c> ("0": only if the object does not exist),
/// which Cloud Storage answers with 412 when another writer got there first.
/// </summary>
public sealed class GcsBucket(StorageClient storage, string bucketName) : IBucket
{
    private const int ReadAttempts = 5;

    public string BucketName { get; } = bucketName;

    public string Describe(string objectName) => $"gs://{BucketName}/{objectName}";

    public async Task<BucketObject?> TryReadAsync(string objectName, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            Google.Apis.Storage.v1.Data.Object metadata;
            try
            {
                metadata = await storage.GetObjectAsync(BucketName, objectName, cancellationToken: cancellationToken);
            }
            catch (GoogleApiException e) when (e.HttpStatusCode == HttpStatusCode.NotFound)
            {
                return null;
            }

            using var content = new MemoryStream();
            try
            {
                // Pinned to the generation just read, so content and generation always belong together.
                await storage.DownloadObjectAsync(BucketName, objectName, content,
                    new DownloadObjectOptions { Generation = metadata.Generation }, cancellationToken);
            }
            catch (GoogleApiException e) when (e.HttpStatusCode == HttpStatusCode.NotFound && attempt < ReadAttempts)
            {
                continue; // replaced or deleted between the two calls: read the current generation
            }
            catch (GoogleApiException e) when (e.HttpStatusCode == HttpStatusCode.NotFound)
            {
                return null;
            }
            return new BucketObject(content.ToArray(), Generation(metadata));
        }
    }

    public async Task<string> WriteAsync(string objectName, ReadOnlyMemory<byte> content, string contentType,
        string? ifGenerationMatch, CancellationToken cancellationToken)
    {
        using var stream = new MemoryStream(content.ToArray(), writable: false);
        return await UploadAsync(objectName, stream, contentType, ifGenerationMatch, cancellationToken);
    }

    public async Task UploadFileAsync(string objectName, string localPath, string contentType, CancellationToken cancellationToken)
    {
        await using var stream = File.OpenRead(localPath);
        await UploadAsync(objectName, stream, contentType, null, cancellationToken);
    }

    public async Task<LocalObject> OpenLocalAsync(string objectName, CancellationToken cancellationToken)
    {
        var path = Path.Combine(Path.GetTempPath(), $"gcs-{Guid.NewGuid():N}{Path.GetExtension(objectName)}");
        try
        {
            await using (var file = File.Create(path))
                await storage.DownloadObjectAsync(BucketName, objectName, file, cancellationToken: cancellationToken);
            return new LocalObject(path, temporary: true);
        }
        catch (GoogleApiException e) when (e.HttpStatusCode == HttpStatusCode.NotFound)
        {
            File.Delete(path);
            throw new PermanentPipelineException($"{Describe(objectName)} does not exist");
        }
        catch
        {
            File.Delete(path);
            throw;
        }
    }

    public async Task<IReadOnlyList<string>> ListAsync(string prefix, CancellationToken cancellationToken)
    {
        var names = new List<string>();
        await foreach (var item in storage.ListObjectsAsync(BucketName, prefix).WithCancellation(cancellationToken))
            names.Add(item.Name);
        names.Sort(StringComparer.Ordinal);
        return names;
    }

    public async Task DeleteAsync(string objectName, CancellationToken cancellationToken)
    {
        try
        {
            await storage.DeleteObjectAsync(BucketName, objectName, cancellationToken: cancellationToken);
        }
        catch (GoogleApiException e) when (e.HttpStatusCode == HttpStatusCode.NotFound)
        {
            // Already gone: a redelivery repeating the clean-up, or another instance doing it at the same time.
        }
    }

    /// <summary>
    /// objects.compose: Cloud Storage concatenates the sources itself. Unconditional, as <see cref="UploadFileAsync"/>
    /// is: the destination is a run's output that a redelivery may write again with the same content, never an object
    /// two writers update in turn (those use <see cref="WriteAsync"/> with a generation). The sources are the current
    /// generations; a missing one is a 404, which a redelivery retries.
    /// </summary>
    public async Task ComposeAsync(IReadOnlyList<string> sources, string destination, string contentType, CancellationToken cancellationToken)
    {
        if (sources.Count is 0 or > IBucket.MaxComposeSources)
            throw new ArgumentException($"a compose takes 1 to {IBucket.MaxComposeSources} sources, not {sources.Count}", nameof(sources));
        var request = new ComposeRequest
        {
            SourceObjects = sources.Select(name => new ComposeRequest.SourceObjectsData { Name = name }).ToList(),
            Destination = new Google.Apis.Storage.v1.Data.Object { ContentType = contentType },
        };
        await storage.Service.Objects.Compose(request, BucketName, destination).ExecuteAsync(cancellationToken);
    }

    private async Task<string> UploadAsync(string objectName, Stream content, string contentType, string? ifGenerationMatch,
        CancellationToken cancellationToken)
    {
        var options = new UploadObjectOptions();
        if (ifGenerationMatch is not null)
            options.IfGenerationMatch = long.Parse(ifGenerationMatch, NumberStyles.None, CultureInfo.InvariantCulture);
        try
        {
            var written = await storage.UploadObjectAsync(BucketName, objectName, contentType, content, options, cancellationToken);
            return Generation(written);
        }
        catch (GoogleApiException e) when (e.HttpStatusCode == HttpStatusCode.PreconditionFailed)
        {
            throw new ConcurrentUpdateException(objectName);
        }
    }

    private static string Generation(Google.Apis.Storage.v1.Data.Object metadata) =>
        metadata.Generation?.ToString(CultureInfo.InvariantCulture)
        ?? throw new InvalidDataException($"Cloud Storage returned no generation for {metadata.Name}");
}
