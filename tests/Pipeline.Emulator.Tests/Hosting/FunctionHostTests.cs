using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Console;
using Microsoft.Extensions.Options;
using Pipeline.Core;
using Pipeline.Hosting;
using Pipeline.Hosting.Logging;
using Pipeline.Hosting.PubSub;

namespace Pipeline.Emulator.Tests.Hosting;

/// <summary>The host's settings, read from the places Cloud Run and the Functions Framework put them.</summary>
public sealed class FunctionHostTests
{
    private static T Resolve<T>(IReadOnlyDictionary<string, string?> settings) where T : class
    {
        var recorder = new DeliveryRecorder();
        using var app = FunctionHost.Build<RecordingFunction>([], (services, _) => services.AddSingleton(recorder), settings);
        return app.Services.GetRequiredService<IOptions<T>>().Value;
    }

    [Fact]
    public void Listens_on_8080_on_every_interface_when_PORT_is_unset()
    {
        var options = Resolve<FunctionHostOptions>(new Dictionary<string, string?>());

        Assert.Equal(8080, options.Port);
        Assert.Null(options.ListenAddress);
    }

    [Fact]
    public void A_function_logs_its_stage_s_progress_throttled_as_it_would_on_Cloud_Run()
    {
        var recorder = new DeliveryRecorder();
        using var app = FunctionHost.Build<RecordingFunction>([], (services, _) => services.AddSingleton(recorder),
            new Dictionary<string, string?> { ["K_SERVICE"] = "build-stats" });

        Assert.IsType<LoggedStageProgress>(app.Services.GetRequiredService<IStageProgress>());
    }

    [Fact]
    public void Listens_on_PORT()
    {
        Assert.Equal(9123, Resolve<FunctionHostOptions>(new Dictionary<string, string?> { ["PORT"] = "9123" }).Port);
    }

    [Fact]
    public void Logs_JSON_for_Cloud_Logging_when_K_SERVICE_is_set_and_text_otherwise()
    {
        Assert.Equal(CloudLoggingFormatter.FormatterName,
            Resolve<ConsoleLoggerOptions>(new Dictionary<string, string?> { ["K_SERVICE"] = "build-stats" }).FormatterName);
        Assert.Equal(RunTextFormatter.FormatterName, Resolve<ConsoleLoggerOptions>(new Dictionary<string, string?>()).FormatterName);
        Assert.Equal(CloudLoggingFormatter.FormatterName,
            Resolve<ConsoleLoggerOptions>(new Dictionary<string, string?> { ["FunctionHost:LogFormat"] = "json" }).FormatterName);
    }

    [Fact]
    public void Pub_Sub_settings_come_from_the_variables_Google_tools_use()
    {
        var options = Resolve<PubSubOptions>(new Dictionary<string, string?>
        {
            ["PUBSUB_EMULATOR_HOST"] = "localhost:8681",
            ["GOOGLE_CLOUD_PROJECT"] = "cymbal-prod",
        });

        Assert.True(options.UsesEmulator);
        Assert.Equal("localhost:8681", options.EmulatorHost);
        Assert.Equal("cymbal-prod", options.ProjectId);
    }

    [Fact]
    public void On_GCP_the_topics_are_in_the_backend_project_Terraform_configures()
    {
        var options = Resolve<PubSubOptions>(new Dictionary<string, string?> { ["Gcp:ProjectId"] = "cymbal-prod" });

        Assert.False(options.UsesEmulator);
        Assert.Equal("cymbal-prod", options.ProjectId);
    }

    [Fact]
    public void The_emulator_gets_the_local_project_when_none_is_configured()
    {
        var options = PubSubOptions.From(new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["PUBSUB_EMULATOR_HOST"] = "localhost:8681" }).Build());

        Assert.Equal(PubSubOptions.LocalProjectId, options.ProjectId);
    }

    [Fact]
    public void A_class_without_its_declaration_is_refused()
    {
        Assert.Throws<ArgumentException>(() => FunctionHost.Describe(typeof(UndeclaredFunction)));
        Assert.Equal(new FunctionDeclaration("TestStage", Topics.Trigger, Topics.StatsReady, typeof(RecordingFunction)),
            FunctionHost.Describe(typeof(RecordingFunction)));
    }

    private sealed class UndeclaredFunction : IPipelineFunction
    {
        public Task HandleAsync(PipelineMessage message, CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
