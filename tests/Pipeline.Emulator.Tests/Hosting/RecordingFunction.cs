using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Pipeline.Core;
using Pipeline.Hosting;

namespace Pipeline.Emulator.Tests.Hosting;

/// <summary>What the test function received, and what it does with the next delivery.</summary>
public sealed class DeliveryRecorder
{
    public ConcurrentQueue<PipelineMessage> Received { get; } = new();

    /// <summary>Runs for every delivery; throwing makes the function fail the way a stage would.</summary>
    public Func<PipelineMessage, Task> Behaviour { get; set; } = _ => Task.CompletedTask;
}

/// <summary>A stand-in pipeline function for host tests: records each delivery, then does what the test says.</summary>
[PipelineFunction("TestStage", TriggeredBy = Topics.Trigger, Publishes = Topics.StatsReady)]
public sealed class RecordingFunction(DeliveryRecorder recorder) : IPipelineFunction
{
    public Task HandleAsync(PipelineMessage message, CancellationToken cancellationToken)
    {
        recorder.Received.Enqueue(message);
        return recorder.Behaviour(message);
    }
}

/// <summary>The test function in a real host on a free loopback port.</summary>
public sealed class RecordingHost : IAsyncDisposable
{
    private RecordingHost(WebApplication app, DeliveryRecorder recorder)
    {
        App = app;
        Recorder = recorder;
        Client = new HttpClient { BaseAddress = new Uri(app.Urls.First()) };
    }

    public WebApplication App { get; }
    public DeliveryRecorder Recorder { get; }
    public HttpClient Client { get; }

    public static async Task<RecordingHost> StartAsync(IReadOnlyDictionary<string, string?>? settings = null)
    {
        var recorder = new DeliveryRecorder();
        var all = new Dictionary<string, string?>
        {
            ["PORT"] = "0",
            ["FunctionHost:ListenAddress"] = "127.0.0.1",
            // Nothing is published here; the emulator setting keeps credentials out of it.
            ["PubSub:EmulatorHost"] = "127.0.0.1:9",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>()) all[key] = value;
        var app = FunctionHost.Build<RecordingFunction>([], (services, _) => services.AddSingleton(recorder), all);
        await app.StartAsync();
        return new RecordingHost(app, recorder);
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await App.StopAsync();
        await App.DisposeAsync();
    }
}
