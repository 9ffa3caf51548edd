using System.Diagnostics;

namespace Pipeline.Tests.Reliability;

/// <summary>What a Runner process printed, and how it ended.</summary>
public sealed record RunnerResult(int ExitCode, string Output, string Error);

/// <summary>
/// The Runner (<c>pipeline.dll</c>, copied beside the tests) as a child process, as a user starts it: so that a
/// test can read what the user reads, and kill it with SIGKILL.
/// </summary>
public static class RunnerProcess
{
    public static string Dll => Path.Combine(AppContext.BaseDirectory, "pipeline.dll");

    public static Process Start(IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Dll);
        foreach (var arg in args) start.ArgumentList.Add(arg);
        // The machine's own Pub/Sub and pipeline settings must not leak into a test.
        foreach (var name in start.Environment.Keys.Where(k => k.StartsWith("PUBSUB_", StringComparison.Ordinal)
                     || k is "GOOGLE_CLOUD_PROJECT" || k.StartsWith("Pipeline__", StringComparison.Ordinal) || k.StartsWith("Runner__", StringComparison.Ordinal)).ToList())
            start.Environment.Remove(name);
        start.Environment["DOTNET_NOLOGO"] = "1";
        foreach (var (name, value) in environment ?? new Dictionary<string, string>()) start.Environment[name] = value;
        return Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start");
    }

    /// <summary>Runs the Runner to its end (killed after <paramref name="timeout"/>, default two minutes).</summary>
    public static async Task<RunnerResult> RunAsync(IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null,
        TimeSpan? timeout = null)
    {
        using var process = Start(args, environment);
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var deadline = new CancellationTokenSource(timeout ?? TimeSpan.FromMinutes(2));
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"the Runner did not end within {(timeout ?? TimeSpan.FromMinutes(2)).TotalSeconds:0} s:\n{await output}\n{await error}");
        }
        return new RunnerResult(process.ExitCode, await output, await error);
    }

    /// <summary>Reads standard error until a line contains <paramref name="text"/>; everything read is returned.</summary>
    public static async Task<string> WaitForErrorLineAsync(Process process, string text, TimeSpan timeout)
    {
        using var deadline = new CancellationTokenSource(timeout);
        var read = new System.Text.StringBuilder();
        while (true)
        {
            string? line;
            try
            {
                line = await process.StandardError.ReadLineAsync(deadline.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"no line with '{text}' within {timeout.TotalSeconds:0} s; standard error so far:\n{read}");
            }
            if (line is null) throw new InvalidOperationException($"the Runner ended (exit {(process.HasExited ? process.ExitCode : -1)}) before printing '{text}':\n{read}");
            read.AppendLine(line);
            if (line.Contains(text, StringComparison.Ordinal)) return read.ToString();
        }
    }
}
