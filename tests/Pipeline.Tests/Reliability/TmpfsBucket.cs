using System.Diagnostics;

namespace Pipeline.Tests.Reliability;

/// <summary>
/// A bucket directory on a small tmpfs of its own, which a test can make really read-only (remounted <c>ro</c>:
/// EROFS, which root cannot write through either, unlike <c>chmod</c>) or really full (filled to the last block:
/// ENOSPC). Needs <c>mount</c> to be permitted (root with CAP_SYS_ADMIN, as on a CI machine or VM); where it is not,
/// <see cref="Unavailable"/> says why and the tests that need it are skipped with that reason.
/// </summary>
public sealed class TmpfsBucket : IDisposable
{
    private TmpfsBucket(string path) => Path = path;

    /// <summary>The bucket directory (the mount point).</summary>
    public string Path { get; }

    /// <summary>Null where a tmpfs can be mounted here; else why not. Probed once, on a mount of its own.</summary>
    public static string? Unavailable => Probe.Value;

    private static readonly Lazy<string?> Probe = new(() =>
    {
        if (!OperatingSystem.IsLinux()) return "tmpfs mounts are Linux only";
        try
        {
            using var probe = Mount("64k");
            return null;
        }
        catch (InvalidOperationException e)
        {
            return e.Message;
        }
    });

    /// <summary>Mounts a tmpfs of <paramref name="size"/> (as mount's size option: 16m) on a new directory.</summary>
    public static TmpfsBucket Mount(string size)
    {
        var path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "pipeline-tmpfs-" + Guid.NewGuid().ToString("N")[..10]);
        Directory.CreateDirectory(path);
        try
        {
            Run("mount", "-t", "tmpfs", "-o", $"size={size},mode=0755", "tmpfs", path);
        }
        catch
        {
            Directory.Delete(path);
            throw;
        }
        return new TmpfsBucket(path);
    }

    /// <summary>The file system turns read-only under whoever has files open, as after an I/O error or by an operator.</summary>
    public void RemountReadOnly() => Run("mount", "-o", "remount,ro", Path);

    public void RemountReadWrite() => Run("mount", "-o", "remount,rw", Path);

    /// <summary>Writes <paramref name="filler"/> until the file system has no block left; returns its size.</summary>
    public long Fill(string filler)
    {
        var block = new byte[4096];
        using var file = new FileStream(System.IO.Path.Combine(Path, filler), FileMode.CreateNew, FileAccess.Write, FileShare.None, 1);
        try
        {
            while (true) file.Write(block);
        }
        catch (IOException e) when (e.HResult == 28)
        {
            // ENOSPC: full. What was written up to the last whole block stays.
        }
        return file.Length;
    }

    public void Dispose()
    {
        // Lazily, so that a file a crashed child still holds does not keep the mount.
        Run("umount", "-l", Path);
        Directory.Delete(Path);
    }

    private static void Run(string program, params string[] arguments)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        Process process;
        try
        {
            process = Process.Start(start) ?? throw new InvalidOperationException($"{program} did not start");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException($"{program} cannot be run here: {e.Message}", e);
        }
        using (process)
        {
            var error = process.StandardError.ReadToEnd();
            process.WaitForExit();
            if (process.ExitCode != 0)
                throw new InvalidOperationException($"`{program} {string.Join(' ', arguments)}` failed (exit {process.ExitCode}): {error.Trim()}");
        }
    }
}

/// <summary>A fault test that needs a tmpfs of its own: skipped with the reason where <c>mount</c> is not permitted.</summary>
public sealed class TmpfsTheoryAttribute : TheoryAttribute
{
    public TmpfsTheoryAttribute()
    {
        if (TmpfsBucket.Unavailable is { } reason)
            Skip = $"a tmpfs cannot be mounted here ({reason}); the read-only and full bucket tests need root with CAP_SYS_ADMIN. " +
                "A_full_disk_fails_the_run_in_its_stage (a fault-injecting IBucket) covers a full disk without it.";
    }
}
