using System.Collections.Concurrent;
using System.Security.Cryptography;
using Microsoft.Extensions.Options;
using Pipeline.Core;

namespace Pipeline.Embedded;

/// <summary>
/// The bucket as a local directory with the same layout as Cloud Storage. Objects are written to a temporary file
/// beside their place and renamed over it, so a reader sees the old object or the new one, never half. A
/// conditional write compares a content hash (the "generation") under a lock that other processes honour too.
/// </summary>
public sealed class FileSystemBucket : IBucket
{
    private static readonly ConcurrentDictionary<string, SemaphoreSlim> Locks = new();
    private readonly string _root;

    public FileSystemBucket(IOptions<EmbeddedOptions> options) : this(options.Value.BucketDirectory) { }

    public FileSystemBucket(string root)
    {
        _root = Path.GetFullPath(root);
        Directory.CreateDirectory(_root);
    }

    public string Root => _root;

    /// <summary>The file's path; for a table's prefix (<c>…/</c>) the folder's path with a trailing separator.</summary>
    public string Describe(string objectName) =>
        objectName.EndsWith('/') ? PathOf(objectName.TrimEnd('/')) + Path.DirectorySeparatorChar : PathOf(objectName);

    public async Task<BucketObject?> TryReadAsync(string objectName, CancellationToken cancellationToken)
    {
        var path = PathOf(objectName);
        try
        {
            var content = await File.ReadAllBytesAsync(path, cancellationToken);
            return new BucketObject(content, Generation(content));
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
    }

    public async Task<string> WriteAsync(string objectName, ReadOnlyMemory<byte> content, string contentType,
        string? ifGenerationMatch, CancellationToken cancellationToken)
    {
        var path = PathOf(objectName);
        if (ifGenerationMatch is null)
        {
            await ReplaceAsync(path, content, cancellationToken);
            return Generation(content.Span);
        }

        var gate = Locks.GetOrAdd(path, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken);
        try
        {
            using var processLock = await AcquireFileLockAsync(path, cancellationToken);
            var current = File.Exists(path) ? Generation(await File.ReadAllBytesAsync(path, cancellationToken)) : "0";
            if (current != ifGenerationMatch) throw new ConcurrentUpdateException(objectName);
            await ReplaceAsync(path, content, cancellationToken);
            return Generation(content.Span);
        }
        finally
        {
            gate.Release();
        }
    }

    public Task UploadFileAsync(string objectName, string localPath, string contentType, CancellationToken cancellationToken) =>
        PlaceFile(objectName, localPath, move: false);

    /// <summary>
    /// Moves the file in: a rename when it is on the bucket's file system (a copy and a delete otherwise), then a
    /// rename into place, so no reader sees half of it.
    /// </summary>
    public Task MoveFileInAsync(string objectName, string localPath, string contentType, CancellationToken cancellationToken) =>
        PlaceFile(objectName, localPath, move: true);

    private Task PlaceFile(string objectName, string localPath, bool move)
    {
        var path = PathOf(objectName);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var temporary = TemporaryPath(path);
        try
        {
            if (move) File.Move(localPath, temporary);
            else File.Copy(localPath, temporary, overwrite: true);
            File.Move(temporary, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(temporary)) File.Delete(temporary);
        }
        return Task.CompletedTask;
    }

    public Task<LocalObject> OpenLocalAsync(string objectName, CancellationToken cancellationToken)
    {
        var path = PathOf(objectName);
        return File.Exists(path)
            ? Task.FromResult(new LocalObject(path, temporary: false))
            : throw new PermanentPipelineException($"{path} does not exist");
    }

    public Task<IReadOnlyList<string>> ListAsync(string prefix, CancellationToken cancellationToken)
    {
        // A prefix is a folder path and perhaps the start of a name in it ("runs/r1/pred"), as on Cloud Storage.
        var folder = prefix.Contains('/') ? prefix[..(prefix.LastIndexOf('/') + 1)] : "";
        var directory = folder.Length == 0 ? _root : PathOf(folder.TrimEnd('/'));
        if (!Directory.Exists(directory)) return Task.FromResult<IReadOnlyList<string>>([]);
        IReadOnlyList<string> names = Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories)
            .Select(path => Path.GetRelativePath(_root, path).Replace(Path.DirectorySeparatorChar, '/'))
            .Where(name => name.StartsWith(prefix, StringComparison.Ordinal) && !IsTemporary(name))
            .Order(StringComparer.Ordinal)
            .ToList();
        return Task.FromResult(names);
    }

    public Task DeleteAsync(string objectName, CancellationToken cancellationToken)
    {
        File.Delete(PathOf(objectName)); // no error when it does not exist, as the interface promises
        return Task.CompletedTask;
    }

    public async Task ComposeAsync(IReadOnlyList<string> sources, string destination, string contentType, CancellationToken cancellationToken)
    {
        if (sources.Count is 0 or > IBucket.MaxComposeSources)
            throw new ArgumentException($"a compose takes 1 to {IBucket.MaxComposeSources} sources, not {sources.Count}", nameof(sources));
        var paths = sources.Select(PathOf).ToList();
        var missing = paths.FirstOrDefault(path => !File.Exists(path));
        if (missing is not null) throw new FileNotFoundException($"cannot compose {PathOf(destination)}: {missing} does not exist", missing);

        await WriteWholeAsync(PathOf(destination), async file =>
        {
            foreach (var path in paths)
            {
                await using var source = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 64 * 1024, useAsync: true);
                await source.CopyToAsync(file, cancellationToken);
            }
        }, cancellationToken);
    }

    private static bool IsTemporary(string objectName) =>
        objectName.StartsWith(".locks/", StringComparison.Ordinal) || Path.GetFileName(objectName).StartsWith('.');

    /// <summary>Where a new file is prepared before it is moved in: beside its place, on the same file system.</summary>
    private static string TemporaryPath(string finalPath) =>
        Path.Combine(Path.GetDirectoryName(finalPath)!, $".{Path.GetFileName(finalPath)}.{Guid.NewGuid():N}.tmp");

    private static Task ReplaceAsync(string path, ReadOnlyMemory<byte> content, CancellationToken cancellationToken) =>
        WriteWholeAsync(path, file => file.WriteAsync(content, cancellationToken).AsTask(), cancellationToken);

    /// <summary>Writes a temporary file beside <paramref name="path"/> and renames it over the place, so no reader sees half.</summary>
    private static async Task WriteWholeAsync(string path, Func<FileStream, Task> write, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var temporary = TemporaryPath(path);
        try
        {
            await using (var file = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 64 * 1024, useAsync: true))
            {
                await write(file);
                await file.FlushAsync(cancellationToken);
            }
            File.Move(temporary, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(temporary)) File.Delete(temporary);
        }
    }

    private async Task<FileStream> AcquireFileLockAsync(string path, CancellationToken cancellationToken)
    {
        var lockDirectory = Path.Combine(_root, ".locks");
        Directory.CreateDirectory(lockDirectory);
        var lockPath = Path.Combine(lockDirectory, Convert.ToHexString(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(path)))[..32] + ".lock");
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                return new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.DeleteOnClose);
            }
            catch (IOException e) when (attempt < 2000 && IsHeldByAnother(e))
            {
                await Task.Delay(5, cancellationToken);
            }
        }
    }

    /// <summary>
    /// The lock is held by another writer: worth waiting for. Anything else (a read-only or full file system, EROFS
    /// or ENOSPC) does not pass by waiting and goes straight to the caller with its path.
    /// </summary>
    private static bool IsHeldByAnother(IOException e) =>
        e.GetType() == typeof(IOException) && e.HResult is SharingViolationLinux or SharingViolationMac or SharingViolationWindows;

    // What .NET puts in HResult when another handle holds the lock: the errno of flock (EWOULDBLOCK) on Unix, the
    // Win32 error as an HRESULT on Windows.
    private const int SharingViolationLinux = 11;
    private const int SharingViolationMac = 35;
    private const int SharingViolationWindows = unchecked((int)0x80070020);

    private string PathOf(string objectName)
    {
        if (string.IsNullOrWhiteSpace(objectName) || objectName.StartsWith('/') || objectName.Split('/').Any(part => part is ".." or "." or ""))
            throw new ArgumentException($"'{objectName}' is not a valid object name", nameof(objectName));
        return Path.Combine(_root, objectName.Replace('/', Path.DirectorySeparatorChar));
    }

    private static string Generation(ReadOnlySpan<byte> content) => Convert.ToHexString(SHA256.HashData(content))[..24];
}
