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

    /// <summary>The five functions, as the bus delivers to them.</summary>
    public IReadOnlyList<IPipelineFunction> Functions =>
        FunctionCatalog.Types.Select(t => (IPipelineFunction)_services.GetRequiredService(t)).ToList();

    /// <param name="settings">Configuration on top of the bucket and input, e.g. <c>Embedded:MemoryLimit</c>.</param>
    public static LocalPipeline Create(string bucketDirectory, string? input, Action<ILoggingBuilder>? logging = null,
        IReadOnlyDictionary<string, string?>? settings = null, TimeProvider? clock = null)
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
        services.AddSingleton<InProcessBus>();
        services.AddSingleton<IMessagePublisher>(sp => sp.GetRequiredService<InProcessBus>());
        foreach (var type in FunctionCatalog.Types) services.AddSingleton(type);
        return new LocalPipeline(services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true }));
    }

    /// <summary>
    /// Publishes the trigger, delivers every message until the chain stops, and returns the run's manifest. A
    /// message given up on after every retry fails the run with the last error as the reason.
    /// </summary>
    public async Task<RunManifest> RunAsync(JsonObject trigger, CancellationToken cancellationToken)
    {
        var runId = trigger["run_id"]?.GetValue<string>() ?? throw new ArgumentException("the trigger must name its run_id", nameof(trigger));
        await Bus.PublishAsync(Topics.Trigger, System.Text.Encoding.UTF8.GetBytes(trigger.ToJsonString()),
            new Dictionary<string, string>(), cancellationToken);
        var undelivered = await Bus.DrainAsync(Functions, cancellationToken);

        foreach (var message in undelivered)
        {
            var stage = FunctionCatalog.Types.Select(PipelineFunctionAttribute.Of).First(f => f.TriggeredBy == message.Topic).Stage;
            var reason = $"gave up after {Bus.MaxDeliveryAttempts} attempts: {message.LastError.Message}";
            var failed = await Ledger.UpdateAsync(runId, null, m => m.Status == RunStatus.Failed ? m : m.Failed(stage, reason, DateTimeOffset.UtcNow), cancellationToken);
            // The run ends here, not in a stage, so the stage protocol's run-end hook has not seen it.
            if (_services.GetService<IRunEndHook>() is { } runEnd)
            {
                try
                {
                    await runEnd.RunEndedAsync(failed, cancellationToken);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    // The run is recorded as failed already; a report that cannot be written must not hide why.
                    _services.GetRequiredService<ILogger<LocalPipeline>>().LogWarning(e, "The report of failed run {RunId} could not be written: {Reason}", runId, e.Message);
                }
            }
        }
        // A trigger with an invalid run id is recorded under the id derived from its message: the run's last
        // message says which.
        var recorded = Bus.Published
            .Where(p => p.Topic is Topics.RunCompleted or Topics.RunFailed)
            .Select(p => p.Message.Attributes.GetValueOrDefault("run_id"))
            .LastOrDefault(id => id is not null) ?? runId;
        return await Ledger.GetAsync(recorded, cancellationToken)
            ?? throw new InvalidOperationException($"run {runId} left no manifest");
    }

    public ValueTask DisposeAsync() => _services.DisposeAsync();
}
