using System.Diagnostics;
using System.Text;
using Pipeline.Core;
using Pipeline.Hosting.PubSub;

namespace Pipeline.Emulator.Tests.Support;

/// <summary>
/// The Pub/Sub emulator that ships with gcloud, started once for the test run on a free loopback port and killed
/// (with its Java child) at the end. When it cannot start, every test that needs it fails with the reason: these
/// tests never skip.
/// </summary>
public sealed class PubSubEmulator : IAsyncLifetime, IDisposable
{
    public const string ProjectId = "test-project";

    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(90);
    private readonly StringBuilder output = new();
    private Process? process;
    private PubSubEmulatorAdmin? admin;

    /// <summary>host:port, what PUBSUB_EMULATOR_HOST would hold.</summary>
    public string HostPort { get; private set; } = "";

    public PubSubEmulatorAdmin Admin => admin ?? throw new InvalidOperationException("the emulator has not started");

    public Task InitializeAsync() => StartAsync(FreePort.Next());

    /// <summary>
    /// Starts gcloud's emulator on <paramref name="port"/> in a process group of its own (<c>setsid</c>), so that
    /// <see cref="KillProcessGroup"/> takes gcloud and its Java child down together, as a crash would.
    /// </summary>
    public async Task StartAsync(int port)
    {
        var gcloud = FindOnPath("gcloud") ?? throw new InvalidOperationException(
            "The Pub/Sub emulator tests need gcloud on PATH with the pubsub-emulator and beta components, and Java 11+ " +
            "(Debian: apt-get install google-cloud-cli google-cloud-cli-pubsub-emulator default-jre-headless).");
        HostPort = $"127.0.0.1:{port}";
        // Started from a process that is no group leader, setsid makes gcloud the leader of a new group in place.
        var setsid = FindOnPath("setsid");
        var start = new ProcessStartInfo(setsid ?? gcloud)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (setsid is not null) start.ArgumentList.Add(gcloud);
        foreach (var argument in new[] { "beta", "emulators", "pubsub", "start", $"--host-port={HostPort}", $"--project={ProjectId}", "--quiet" })
            start.ArgumentList.Add(argument);
        process = Process.Start(start) ?? throw new InvalidOperationException("gcloud did not start");
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        admin = new PubSubEmulatorAdmin(HostPort, ProjectId);
        using var timeout = new CancellationTokenSource(StartTimeout);
        var exited = process.WaitForExitAsync(timeout.Token);
        var ready = admin.WaitUntilReadyAsync(StartTimeout, timeout.Token);
        var first = await Task.WhenAny(ready, exited);
        if (first == exited || !ready.IsCompletedSuccessfully)
        {
            var why = process.HasExited ? $"gcloud exited with code {process.ExitCode}" : $"it did not answer within {StartTimeout.TotalSeconds:0} s";
            Dispose();
            throw new InvalidOperationException(
                $"The Pub/Sub emulator did not start on {HostPort} ({why}); is Java 11+ installed and the pubsub-emulator " +
                $"component present? Its output:\n{Output}", ready.Exception);
        }
    }

    /// <summary>
    /// SIGKILL to the emulator's whole process group (gcloud and Java), as when the machine or container running it
    /// dies: no shutdown, and everything it held in memory — topics, subscriptions, messages — is gone.
    /// </summary>
    public void KillProcessGroup()
    {
        if (process is not { HasExited: false }) return;
        using (var kill = Process.Start(new ProcessStartInfo("kill") { ArgumentList = { "-KILL", "--", $"-{process.Id}" }, UseShellExecute = false }))
            kill?.WaitForExit(10_000);
        Dispose();
    }

    public string Output
    {
        get
        {
            lock (output) return output.ToString();
        }
    }

    public Task DisposeAsync()
    {
        Dispose();
        return Task.CompletedTask;
    }

    /// <summary>Stops the emulator; safe to call more than once.</summary>
    public void Dispose()
    {
        admin?.Dispose();
        admin = null;
        if (process is { HasExited: false })
        {
            // gcloud runs the emulator as a Java child; killing gcloud alone would leave Java listening.
            process.Kill(entireProcessTree: true);
            process.WaitForExit(10_000);
        }
        process?.Dispose();
        process = null; // xunit disposes again after a failed start
    }

    /// <summary>Waits (up to 30 s) for one message on a pull subscription, and acknowledges it.</summary>
    public async Task<PipelineMessage> PullOneAsync(string subscription)
    {
        for (var attempt = 0; attempt < 300; attempt++)
        {
            var pulled = await Admin.PullAsync(subscription, 10, CancellationToken.None);
            if (pulled.Count > 0)
            {
                await Admin.AcknowledgeAsync(subscription, [.. pulled.Select(p => p.AckId)], CancellationToken.None);
                return Assert.Single(pulled).Message;
            }
            await Task.Delay(100);
        }
        throw new TimeoutException($"nothing arrived on {subscription}");
    }

    private void Append(string? line)
    {
        if (line is null) return;
        lock (output) output.AppendLine(line);
    }

    private static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(directory => Path.Combine(directory, name))
            .FirstOrDefault(File.Exists);
}

/// <summary>
/// One emulator (and one sample data set) for every test class that needs it; xunit runs the classes of a collection
/// one after another.
/// </summary>
[CollectionDefinition(Name)]
public sealed class EmulatorTests : ICollectionFixture<PubSubEmulator>, ICollectionFixture<SampleOrders>
{
    public const string Name = "Pub/Sub emulator";
}
