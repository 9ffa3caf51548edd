using System.Text.Json.Nodes;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Pipeline.Backends;
using Pipeline.Core;
using Pipeline.Embedded;

namespace Pipeline.Runner;

/// <summary>
/// The whole chain in one process on the embedded backend: the five functions wired to an in-process bus that
/// carries the same JSON messages Pub/Sub would. What <c>run</c> uses, and what tests drive.
/// </summary>
public sealed class LocalPipeline : IAsyncDisposable
{
    private readonly ServiceProvider _services;

    private LocalPipeline(ServiceProvider services) => _services = services;

    public InProcessBus Bus => _services.GetRequiredService<InProcessBus>();
    public IBucket Bucket => _services.GetRequiredService<IBucket>();
    public RunLedger Ledger => _services.GetRequiredService<RunLedger>();

    /// <summary>Why the last message given up on failed, when one was: what to tell when the manifest cannot say.</summary>
    public string? LastDeliveryError { get; private set; }

    /// <summary>The five functions and the watchdog, as the bus delivers to them.</summary>
    public IReadOnlyList<IPipelineFunction> Functions =>
        FunctionCatalog.All.Select(t => (IPipelineFunction)_services.GetRequiredService(t)).ToList();

    /// <param name="settings">Configuration on top of the bucket and input, e.g. <c>Embedded:MemoryLimit</c>.</param>
    /// <param name="overrideServices">Replaces services after registration (fault tests: a bucket that fails).</param>
    public static LocalPipeline Create(string bucketDirectory, string? input, Action<ILoggingBuilder>? logging = null,
        IReadOnlyDictionary<string, string?>? settings = null, TimeProvider? clock = null, Action<IServiceCollection>? overrideServices = null)
    {
        var values = new Dictionary<string, string?>
        {
            [$"{EmbeddedOptions.SectionName}:{nameof(EmbeddedOptions.BucketDirectory)}"] = bucketDirectory,
            [$"{EmbeddedOptions.SectionName}:{nameof(EmbeddedOptions.Input)}"] = input,
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>()) values[key] = value;
        var configuration = new ConfigurationBuilder()
            .AddEnvironmentVariables()
            .AddInMemoryCollection(values)
            .Build();

        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(configuration);
        services.AddLogging(builder =>
        {
            if (logging is null) builder.ClearProviders();
            else logging(builder);
        });
        if (clock is not null) services.AddSingleton(clock);
        services.AddPipelineBackend(configuration);
        StagePause.Register(services, configuration);
        services.AddSingleton<InProcessBus>();
        services.AddSingleton<IMessagePublisher>(sp => sp.GetRequiredService<InProcessBus>());
        foreach (var type in FunctionCatalog.All) services.AddSingleton(type);
        overrideServices?.Invoke(services);
        return new LocalPipeline(services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true }));
    }

    /// <summary>
    /// Publishes the trigger, delivers every message until the chain stops, and returns the run's manifest. A
    /// message given up on after every retry goes to the dead-letter topic, as on Pub/Sub, where the watchdog fails
    /// the run with the stage, the attempts and the last error.
    /// </summary>
    public async Task<RunManifest> RunAsync(JsonObject trigger, CancellationToken cancellationToken)
    {
        var runId = trigger["run_id"]?.GetValue<string>() ?? throw new ArgumentException("the trigger must name its run_id", nameof(trigger));
        await Bus.PublishAsync(Topics.Trigger, System.Text.Encoding.UTF8.GetBytes(trigger.ToJsonString()),
            new Dictionary<string, string>(), cancellationToken);
        return await DeliverAllAsync(runId, cancellationToken);
    }

    /// <summary>
    /// Resumes an interrupted run from its manifest: delivers again the input of the first stage that did not
    /// complete (or, when it never started, what the stage before it published), then the rest of the chain.
    /// Stages that completed are not run again; the outputs end as an undisturbed run's.
    /// </summary>
    public async Task<RunManifest> ResumeAsync(RunManifest manifest, CancellationToken cancellationToken)
    {
        var next = RunResumption.NextDelivery(manifest);
        await Bus.PublishAsync(next.Topic, System.Text.Encoding.UTF8.GetBytes(next.Data),
            new Dictionary<string, string> { ["run_id"] = manifest.RunId, ["stage"] = next.Publisher, ["resumed"] = "true" }, cancellationToken);
        return await DeliverAllAsync(manifest.RunId, cancellationToken);
    }

    private async Task<RunManifest> DeliverAllAsync(string runId, CancellationToken cancellationToken)
    {
        var undelivered = await Bus.DrainAsync(Functions, cancellationToken);
        // Kept for a run that ends with nothing recorded (a bucket that cannot be written): the one clue left.
        LastDeliveryError = undelivered.Count > 0 ? undelivered[0].LastError.Message : LastDeliveryError;
        foreach (var message in undelivered.Where(m => m.Topic != Topics.DeadLetter))
        {
            // What Pub/Sub does after max_delivery_attempts: the message moves to the dead-letter topic with its
            // attributes and the count of attempts.
            var attributes = new Dictionary<string, string>(message.Message.Attributes)
            {
                [global::Pipeline.Functions.RunWatchdog.Function.DeliveryAttemptsAttribute] = Bus.MaxDeliveryAttempts.ToString(System.Globalization.CultureInfo.InvariantCulture),
            };
            await Bus.PublishAsync(Topics.DeadLetter, message.Message.Data, attributes, cancellationToken);
        }
        if (undelivered.Count > 0) await Bus.DrainAsync(Functions, cancellationToken);

        // A trigger with an invalid run id is recorded under the id derived from its message: the run's last
        // message says which.
        var recorded = Bus.Published
            .Where(p => p.Topic is Topics.RunCompleted or Topics.RunFailed)
            .Select(p => p.Message.Attributes.GetValueOrDefault("run_id"))
            .LastOrDefault(id => id is not null) ?? runId;
        return await Ledger.GetAsync(recorded, cancellationToken)
            ?? throw new CommandFailedException($"Run {runId} left no manifest: {LastDeliveryError ?? "no error recorded"} — " +
                $"fix the cause and run the same command again ({Bucket.Describe(BucketLayout.Manifest(runId))})");
    }

    public ValueTask DisposeAsync() => _services.DisposeAsync();
}
