using System.Collections.Concurrent;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Pipeline.Backends;
using Pipeline.Core;
using Pipeline.Embedded;
using Pipeline.Hosting;
using Pipeline.Hosting.PubSub;
using Pipeline.Runner;

namespace Pipeline.Emulator.Tests.Support;

/// <summary>How one delivery to a function ended: returned (acknowledged) or threw (answered 5xx).</summary>
public sealed record DeliveryOutcome(string Stage, string MessageId, string? RunIdAttribute, Exception? Error);

/// <summary>
/// The five functions served on loopback and wired to the emulator exactly as <c>serve</c> does it, with their own
/// topic prefix and bucket directory, plus a pull subscription on every topic so a test sees every message published.
/// Every delivery's outcome is recorded, to tell "acknowledged once" from "retried".
/// </summary>
public sealed class ServedChain : IAsyncDisposable
{
    private static readonly CancellationToken None = CancellationToken.None;
    private readonly PubSubEmulator emulator;
    private readonly EmulatorChain chain;
    private readonly PubSubRestPublisher publisher;
    private readonly ConcurrentDictionary<string, ConcurrentQueue<PipelineMessage>> published = new();
    private readonly CancellationTokenSource stopWatching = new();
    private readonly Task watching;

    private ServedChain(PubSubEmulator emulator, EmulatorChain chain, string prefix, string bucket)
    {
        this.emulator = emulator;
        this.chain = chain;
        Prefix = prefix;
        Bucket = bucket;
        publisher = new PubSubRestPublisher(new PubSubOptions { EmulatorHost = emulator.HostPort, ProjectId = PubSubEmulator.ProjectId }, prefix);
        watching = WatchAsync(stopWatching.Token);
    }

    public string Prefix { get; }

    /// <summary>The bucket directory.</summary>
    public string Bucket { get; }

    public ConcurrentQueue<DeliveryOutcome> Deliveries { get; } = new();

    public IReadOnlyList<ServedFunction> Functions => chain.Functions;

    /// <param name="overrideServices">Per stage, replaces services of that function (a flaky publisher, say).</param>
    /// <param name="withWatchdog">Serves the watchdog too, and dead-letters every chain subscription to it, as <c>serve</c> does.</param>
    public static async Task<ServedChain> StartAsync(PubSubEmulator emulator, SampleOrders sample,
        Func<string, Action<IServiceCollection>?>? overrideServices = null, bool withWatchdog = false)
    {
        var prefix = $"t{Guid.NewGuid():N}"[..9] + "-";
        var bucket = Path.Combine(Path.GetTempPath(), "pipeline-emulator-bucket-" + prefix.TrimEnd('-'));
        Directory.CreateDirectory(bucket);
        var settings = new EmulatorChainSettings(emulator.HostPort, PubSubEmulator.ProjectId, prefix, BasePort: 0,
            // Short backoff keeps the retry test quick; the deadline leaves room for a slow stage on a busy machine.
            new PushSubscriptionSettings(120, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(5)),
            new Dictionary<string, string?>
            {
                [$"{EmbeddedOptions.SectionName}:{nameof(EmbeddedOptions.BucketDirectory)}"] = bucket,
                [$"{EmbeddedOptions.SectionName}:{nameof(EmbeddedOptions.Input)}"] = sample.Parquet,
                ["Logging:LogLevel:Default"] = "Warning",
            });

        // Watch every topic before anything is published, so nothing goes by unseen.
        foreach (var topic in Topics.All)
        {
            await emulator.Admin.CreateTopicAsync(prefix + topic, None);
            await emulator.Admin.CreatePullSubscriptionAsync(prefix + topic + "-watch", prefix + topic, None);
        }

        ServedChain? served = null;
        var chain = await EmulatorChain.StartAsync(withWatchdog ? FunctionCatalog.All : FunctionCatalog.Types,
            (services, configuration) => services.AddPipelineBackend(configuration), settings,
            declaration => services =>
            {
                overrideServices?.Invoke(declaration.Stage)?.Invoke(services);
                // Records each delivery's outcome around the real function.
                services.AddScoped<IPipelineFunction>(sp => new RecordedFunction(
                    (IPipelineFunction)ActivatorUtilities.CreateInstance(sp, declaration.FunctionType), declaration.Stage,
                    outcome => served!.Deliveries.Enqueue(outcome)));
            }, None);
        served = new ServedChain(emulator, chain, prefix, bucket);
        return served;
    }

    /// <summary>Publishes to a topic of this chain (a trigger, or anything a test wants a function to receive).</summary>
    public Task<string> PublishAsync(string topic, string body, IReadOnlyDictionary<string, string>? attributes = null) =>
        publisher.PublishAsync(topic, Encoding.UTF8.GetBytes(body), attributes ?? new Dictionary<string, string> { ["stage"] = "trigger" }, None);

    /// <summary>Every message published on <paramref name="topic"/> so far whose run_id attribute matches.</summary>
    public IReadOnlyList<PipelineMessage> Published(string topic, Func<string, bool> runId) =>
        [.. published.GetOrAdd(topic, _ => new()).Where(m => m.Attributes.TryGetValue("run_id", out var id) && runId(id))];

    public IReadOnlyList<PipelineMessage> Published(string topic, string runId) => Published(topic, id => id == runId);

    /// <summary>Waits for the first message on <paramref name="topic"/> for a run the predicate picks.</summary>
    public async Task<PipelineMessage> WaitForAsync(string topic, Func<string, bool> runId, TimeSpan? timeout = null)
    {
        var deadline = DateTimeOffset.UtcNow + (timeout ?? TimeSpan.FromSeconds(90));
        while (DateTimeOffset.UtcNow < deadline)
        {
            if (Published(topic, runId) is [var first, ..]) return first;
            await Task.Delay(100);
        }
        throw new TimeoutException($"nothing for the run arrived on {Prefix}{topic}; deliveries so far:\n" +
            string.Join("\n", Deliveries.Select(d => $"  {d.Stage} {d.MessageId} run={d.RunIdAttribute} {d.Error?.Message ?? "ok"}")));
    }

    public Task<PipelineMessage> WaitForAsync(string topic, string runId, TimeSpan? timeout = null) =>
        WaitForAsync(topic, id => id == runId, timeout);

    /// <summary>Waits until the emulator has nothing left in flight for this chain: no delivery for a while.</summary>
    public async Task SettleAsync(TimeSpan quiet)
    {
        var count = -1;
        while (count != Deliveries.Count)
        {
            count = Deliveries.Count;
            await Task.Delay(quiet);
        }
    }

    public string PathOf(string objectName) => Path.Combine(Bucket, objectName);

    public RunManifest Manifest(string runId) => PipelineJson.Deserialize<RunManifest>(File.ReadAllBytes(PathOf(BucketLayout.Manifest(runId))));

    public async ValueTask DisposeAsync()
    {
        await stopWatching.CancelAsync();
        try
        {
            await watching;
        }
        catch (OperationCanceledException)
        {
            // Stopped on purpose.
        }
        await chain.DisposeAsync();
        publisher.Dispose();
        stopWatching.Dispose();
        Directory.Delete(Bucket, recursive: true);
    }

    private async Task WatchAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            var any = false;
            foreach (var topic in Topics.All)
            {
                var subscription = Prefix + topic + "-watch";
                var pulled = await emulator.Admin.PullAsync(subscription, 100, cancellationToken);
                if (pulled.Count == 0) continue;
                any = true;
                foreach (var received in pulled) published.GetOrAdd(topic, _ => new()).Enqueue(received.Message);
                await emulator.Admin.AcknowledgeAsync(subscription, [.. pulled.Select(p => p.AckId)], cancellationToken);
            }
            if (!any) await Task.Delay(50, cancellationToken);
        }
    }

    private sealed class RecordedFunction(IPipelineFunction inner, string stage, Action<DeliveryOutcome> record) : IPipelineFunction
    {
        public async Task HandleAsync(PipelineMessage message, CancellationToken cancellationToken)
        {
            var runId = message.Attributes.GetValueOrDefault("run_id");
            try
            {
                await inner.HandleAsync(message, cancellationToken);
                record(new DeliveryOutcome(stage, message.MessageId, runId, null));
            }
            catch (Exception e)
            {
                record(new DeliveryOutcome(stage, message.MessageId, runId, e));
                throw;
            }
        }
    }
}
