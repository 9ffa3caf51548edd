using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Pipeline.Core;
using Pipeline.Hosting.Logging;
using Pipeline.Hosting.PubSub;

namespace Pipeline.Hosting;

/// <summary>
/// Where a function listens, bound from the <c>FunctionHost</c> section; the port follows the Functions Framework
/// and Cloud Run: <c>PORT</c>, 8080 when unset.
/// </summary>
public sealed class FunctionHostOptions
{
    public const string SectionName = "FunctionHost";

    /// <summary>The port; 0 picks a free one (the <c>serve</c> command and tests read it back after start).</summary>
    public int Port { get; set; } = 8080;

    /// <summary>The address to listen on: every interface (as Cloud Run needs) unless set, e.g. to 127.0.0.1.</summary>
    public string? ListenAddress { get; set; }

    /// <summary><c>json</c> or <c>text</c>; unset means JSON on Cloud Run (<c>K_SERVICE</c> set) and text elsewhere.</summary>
    public string? LogFormat { get; set; }
}

/// <summary>
/// Hosts one pipeline function as a Cloud Run service, with the Functions Framework's conventions: it listens on
/// <c>PORT</c>, takes Pub/Sub push deliveries and Pub/Sub CloudEvents at <c>POST /</c>, answers <c>GET /health</c>,
/// and logs JSON for Cloud Logging on Cloud Run. It registers the Pub/Sub REST publisher (the emulator when
/// <c>PUBSUB_EMULATOR_HOST</c> is set); the backend comes from the caller's <c>configure</c>.
/// </summary>
public static class FunctionHost
{
    /// <summary>
    /// Builds and runs the web host for <typeparamref name="TFunction"/>: <paramref name="configure"/> registers the
    /// backend the function's constructor needs.
    /// </summary>
    public static Task RunAsync<TFunction>(string[] args, Action<IServiceCollection, IConfiguration> configure)
        where TFunction : class, IPipelineFunction =>
        Build<TFunction>(args, configure).RunAsync();

    /// <summary>
    /// Builds the web host for <typeparamref name="TFunction"/> without starting it, so that several functions can run
    /// in one process, each with its own port and DI container.
    /// </summary>
    public static WebApplication Build<TFunction>(string[] args, Action<IServiceCollection, IConfiguration> configure,
        IReadOnlyDictionary<string, string?>? settings = null, Action<IServiceCollection>? overrideServices = null)
        where TFunction : class, IPipelineFunction =>
        Build(typeof(TFunction), args, configure, settings, overrideServices);

    /// <summary>
    /// Builds the web host for the function class <paramref name="functionType"/> (an <see cref="IPipelineFunction"/>
    /// carrying <see cref="PipelineFunctionAttribute"/>) without starting it.
    /// </summary>
    /// <param name="configure">Registers the backend (in every function's Program.cs: <c>AddPipelineBackend</c>).</param>
    /// <param name="settings">
    /// Configuration that wins over the environment and <paramref name="args"/>: what one function of several in a
    /// process needs for itself (<c>PORT</c>, <c>FunctionHost:ListenAddress</c>, a bucket directory).
    /// </param>
    /// <param name="overrideServices">Runs after every registration, to replace a service (tests).</param>
    public static WebApplication Build(Type functionType, string[] args, Action<IServiceCollection, IConfiguration> configure,
        IReadOnlyDictionary<string, string?>? settings = null, Action<IServiceCollection>? overrideServices = null)
    {
        var declaration = Describe(functionType);
        var builder = WebApplication.CreateSlimBuilder(args);
        if (settings is not null) builder.Configuration.AddInMemoryCollection(settings);

        var configuration = builder.Configuration;
        var services = builder.Services;
        services.AddOptions<FunctionHostOptions>()
            .BindConfiguration(FunctionHostOptions.SectionName)
            .Configure<IConfiguration>((options, config) =>
            {
                if (config["PORT"] is { Length: > 0 } port) options.Port = int.Parse(port, System.Globalization.CultureInfo.InvariantCulture);
            })
            .Validate(o => o.Port is >= 0 and <= 65535, "PORT must be from 0 to 65535")
            .Validate(o => o.ListenAddress is null || IPAddress.TryParse(o.ListenAddress, out _), "FunctionHost:ListenAddress must be an IP address")
            .ValidateOnStart();
        builder.Logging.AddPipelineConsole(configuration);
        builder.WebHost.ConfigureKestrel((context, kestrel) =>
        {
            var options = kestrel.ApplicationServices.GetRequiredService<IOptions<FunctionHostOptions>>().Value;
            if (options.ListenAddress is null) kestrel.ListenAnyIP(options.Port);
            else kestrel.Listen(IPAddress.Parse(options.ListenAddress), options.Port);
        });
        // Cloud Run gives a container 10 s after SIGTERM; finish what is in flight within that.
        services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(8));
        // A wiring mistake (a missing backend service) stops the container at start-up, not at the first message.
        builder.Host.UseDefaultServiceProvider(o => { o.ValidateOnBuild = true; o.ValidateScopes = true; });

        configure(services, configuration);
        services.AddPubSubPublisher(configuration);
        services.TryAddSingleton(TimeProvider.System);
        // A stage's progress as throttled log lines (structured on Cloud Run); the Runner's serve draws it instead.
        services.TryAddSingleton<IStageProgress, LoggedStageProgress>();
        services.AddSingleton(declaration);
        services.AddScoped(typeof(IPipelineFunction), functionType);

        overrideServices?.Invoke(services);

        var app = builder.Build();
        app.MapPushEndpoint();
        return app;
    }

    /// <summary>The function's declared place in the chain.</summary>
    public static FunctionDeclaration Describe(Type functionType)
    {
        if (!typeof(IPipelineFunction).IsAssignableFrom(functionType))
            throw new ArgumentException($"{functionType} does not implement {nameof(IPipelineFunction)}", nameof(functionType));
        var attribute = PipelineFunctionAttribute.Of(functionType);
        return new FunctionDeclaration(attribute.Stage, attribute.TriggeredBy, attribute.Publishes, functionType);
    }

    /// <summary>
    /// Registers <see cref="IMessagePublisher"/> as the Pub/Sub REST publisher, with the topic prefix of
    /// <c>Pipeline:TopicPrefix</c> and the project and emulator of <see cref="PubSubOptions"/>.
    /// </summary>
    public static IServiceCollection AddPubSubPublisher(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<PubSubOptions>().Configure(options => PubSubOptions.Apply(options, configuration));
        services.AddOptions<PipelineOptions>().BindConfiguration(PipelineOptions.SectionName);
        services.AddSingleton(sp => new PubSubRestPublisher(
            sp.GetRequiredService<IOptions<PubSubOptions>>().Value,
            sp.GetRequiredService<IOptions<PipelineOptions>>().Value.TopicPrefix));
        services.AddSingleton<IMessagePublisher>(sp => sp.GetRequiredService<PubSubRestPublisher>());
        return services;
    }
}

/// <summary>A function's stage, the topic that triggers it, the topic it publishes, and its class.</summary>
public sealed record FunctionDeclaration(string Stage, string TriggeredBy, string Publishes, Type FunctionType);
