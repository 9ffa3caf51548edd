using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Pipeline.Core;
using Pipeline.Hosting.PubSub;

namespace Pipeline.Hosting;

/// <summary>What the chain needs to run against the Pub/Sub emulator on this machine.</summary>
/// <param name="EmulatorHost">host:port of the emulator (what <c>PUBSUB_EMULATOR_HOST</c> holds).</param>
/// <param name="BasePort">The first function's port, the next ones following in chain order; 0 picks free ports.</param>
/// <param name="Settings">Configuration every function gets (the bucket directory, the input file, …).</param>
public sealed record EmulatorChainSettings(
    string EmulatorHost,
    string ProjectId,
    string TopicPrefix,
    int BasePort,
    PushSubscriptionSettings Delivery,
    IReadOnlyDictionary<string, string?> Settings);

/// <summary>A function served on loopback, and the push subscription that feeds it.</summary>
public sealed record ServedFunction(FunctionDeclaration Declaration, Uri Url, string Subscription, WebApplication App);

/// <summary>
/// The chain as it runs on Cloud Run, on one machine: every function in its own web host (its own port and DI
/// container) on loopback, every topic created on the emulator, and a push subscription from each function's
/// trigger topic to its <c>POST /</c>. Used by the <c>serve</c> command and by the emulator tests.
/// </summary>
public sealed class EmulatorChain : IAsyncDisposable
{
    private readonly PubSubEmulatorAdmin admin;

    private EmulatorChain(PubSubEmulatorAdmin admin, IReadOnlyList<ServedFunction> functions, EmulatorChainSettings settings)
    {
        this.admin = admin;
        Functions = functions;
        Settings = settings;
    }

    public IReadOnlyList<ServedFunction> Functions { get; }

    public EmulatorChainSettings Settings { get; }

    /// <summary>The push subscription's name for a function: its trigger topic and its stage.</summary>
    public static string SubscriptionName(string topicPrefix, FunctionDeclaration function) =>
        $"{topicPrefix}{function.TriggeredBy}-{function.Stage.ToLowerInvariant()}";

    /// <summary>Starts the functions, then creates the topics and the push subscriptions.</summary>
    /// <param name="configure">Registers the backend, as each function's Program.cs does.</param>
    /// <param name="overrideServices">Per function, replaces services after registration (tests); may return null.</param>
    public static async Task<EmulatorChain> StartAsync(IReadOnlyList<Type> functionTypes,
        Action<IServiceCollection, IConfiguration> configure, EmulatorChainSettings settings,
        Func<FunctionDeclaration, Action<IServiceCollection>?>? overrideServices, CancellationToken cancellationToken)
    {
        var admin = new PubSubEmulatorAdmin(settings.EmulatorHost, settings.ProjectId);
        var served = new List<ServedFunction>();
        try
        {
            await admin.WaitUntilReadyAsync(TimeSpan.FromSeconds(10), cancellationToken);
            var declarations = functionTypes.Select(FunctionHost.Describe).ToList();
            for (var index = 0; index < functionTypes.Count; index++)
            {
                var declaration = declarations[index];
                var functionSettings = new Dictionary<string, string?>(settings.Settings)
                {
                    ["PORT"] = (settings.BasePort == 0 ? 0 : settings.BasePort + index).ToString(CultureInfo.InvariantCulture),
                    ["FunctionHost:ListenAddress"] = "127.0.0.1",
                    ["PubSub:EmulatorHost"] = settings.EmulatorHost,
                    ["PubSub:ProjectId"] = settings.ProjectId,
                    ["Pipeline:TopicPrefix"] = settings.TopicPrefix,
                    // The caller prints where each function listens; five hosts' start-up banners would bury it.
                    ["Logging:LogLevel:Microsoft.Hosting.Lifetime"] = "Warning",
                };
                var overrides = overrideServices?.Invoke(declaration);
                var app = FunctionHost.Build(declaration.FunctionType, [], configure, functionSettings, services =>
                {
                    // The process's owner (the serve command, a test) handles Ctrl+C and SIGTERM and stops the chain;
                    // a console lifetime in each host would race it for the signal.
                    services.AddSingleton<IHostLifetime, HostedByCaller>();
                    overrides?.Invoke(services);
                });
                await app.StartAsync(cancellationToken);
                served.Add(new ServedFunction(declaration, new Uri(app.Urls.First()), SubscriptionName(settings.TopicPrefix, declaration), app));
            }
            await WireAsync(admin, settings, served, cancellationToken);
            return new EmulatorChain(admin, served, settings);
        }
        catch
        {
            await StopAsync(served);
            admin.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Creates the topics and push subscriptions again if the emulator no longer has them — it keeps everything in
    /// memory, so a restarted emulator has forgotten the chain — and says whether it had to. Throws
    /// <see cref="HttpRequestException"/> while the emulator does not answer.
    /// </summary>
    public async Task<bool> EnsureWiredAsync(CancellationToken cancellationToken)
    {
        foreach (var function in Functions)
        {
            if (await admin.SubscriptionExistsAsync(function.Subscription, cancellationToken)) continue;
            await WireAsync(admin, Settings, Functions, cancellationToken);
            return true;
        }
        return false;
    }

    /// <summary>
    /// Every topic, then a push subscription from each function's trigger topic to its URL. With a function on the
    /// dead-letter topic (the watchdog), every other subscription dead-letters to it, as Terraform sets up Pub/Sub.
    /// </summary>
    private static async Task WireAsync(PubSubEmulatorAdmin admin, EmulatorChainSettings settings, IReadOnlyList<ServedFunction> functions,
        CancellationToken cancellationToken)
    {
        foreach (var topic in Topics.All.Concat(functions.Select(f => f.Declaration.TriggeredBy)).Distinct())
            await admin.CreateTopicAsync(settings.TopicPrefix + topic, cancellationToken);
        var deadLetter = functions.Any(f => f.Declaration.TriggeredBy == Topics.DeadLetter) ? settings.TopicPrefix + Topics.DeadLetter : null;
        foreach (var function in functions)
            await admin.CreatePushSubscriptionAsync(function.Subscription, settings.TopicPrefix + function.Declaration.TriggeredBy, function.Url,
                settings.Delivery, cancellationToken, function.Declaration.TriggeredBy == Topics.DeadLetter ? null : deadLetter);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(Functions);
        admin.Dispose();
    }

    private sealed class HostedByCaller : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }

    /// <summary>
    /// Stops the hosts. The subscriptions stay, as on Pub/Sub: what was published meanwhile is pushed once the chain is
    /// served again (a new <c>serve</c> points them at its ports).
    /// </summary>
    private static async Task StopAsync(IEnumerable<ServedFunction> functions)
    {
        foreach (var function in functions)
        {
            await function.App.StopAsync(CancellationToken.None);
            await function.App.DisposeAsync();
        }
    }
}
