using Pipeline.Core;
using Pipeline.Embedded;

namespace Pipeline.Tests.Reliability;

/// <summary>
/// A local bucket whose disk is full for some objects: writing one whose name <paramref name="full"/> matches fails
/// as the operating system reports ENOSPC; everything else is written for real.
/// </summary>
public sealed class FaultyBucket(string root, Func<string, bool> full) : IBucket
{
    private readonly FileSystemBucket _inner = new(root);

    public int RefusedWrites { get; private set; }

    public string Describe(string objectName) => _inner.Describe(objectName);

    public Task<BucketObject?> TryReadAsync(string objectName, CancellationToken cancellationToken) => _inner.TryReadAsync(objectName, cancellationToken);

    public Task<string> WriteAsync(string objectName, ReadOnlyMemory<byte> content, string contentType, string? ifGenerationMatch,
        CancellationToken cancellationToken)
    {
        Refuse(objectName);
        return _inner.WriteAsync(objectName, content, contentType, ifGenerationMatch, cancellationToken);
    }

    public Task UploadFileAsync(string objectName, string localPath, string contentType, CancellationToken cancellationToken)
    {
        Refuse(objectName);
        return _inner.UploadFileAsync(objectName, localPath, contentType, cancellationToken);
    }

    public Task ComposeAsync(IReadOnlyList<string> sources, string destination, string contentType, CancellationToken cancellationToken)
    {
        Refuse(destination);
        return _inner.ComposeAsync(sources, destination, contentType, cancellationToken);
    }

    public Task<LocalObject> OpenLocalAsync(string objectName, CancellationToken cancellationToken) => _inner.OpenLocalAsync(objectName, cancellationToken);

    public Task<IReadOnlyList<string>> ListAsync(string prefix, CancellationToken cancellationToken) => _inner.ListAsync(prefix, cancellationToken);

    public Task DeleteAsync(string objectName, CancellationToken cancellationToken) => _inner.DeleteAsync(objectName, cancellationToken);

    private void Refuse(string objectName)
    {
        if (!full(objectName)) return;
        RefusedWrites++;
        // The message and HResult .NET gives for ENOSPC.
        throw new IOException($"No space left on device : '{Describe(objectName)}'", 28);
    }
}
