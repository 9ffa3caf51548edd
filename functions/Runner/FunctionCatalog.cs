namespace Pipeline.Runner;

/// <summary>The functions the Runner hosts, each declaring its place with [PipelineFunction].</summary>
public static class FunctionCatalog
{
    /// <summary>The five functions of the chain, in order.</summary>
    public static IReadOnlyList<Type> Types { get; } =
    [
        typeof(Functions.BuildStats.Function),
        typeof(Functions.TrainModel.Function),
        typeof(Functions.Predict.Function),
        typeof(Functions.RenderChart.Function),
        typeof(Functions.GenerateCampaign.Function),
    ];

    /// <summary>The watchdog, on the dead-letter topic: fails runs Pub/Sub gave up on or that stalled.</summary>
    public static Type Watchdog { get; } = typeof(Functions.RunWatchdog.Function);

    /// <summary>Everything deployed: the chain and its watchdog.</summary>
    public static IReadOnlyList<Type> All { get; } = [.. Types, Watchdog];

    /// <summary>The topic that triggers a stage of the chain.</summary>
    public static string TopicOf(string stage) =>
        Types.Select(Core.PipelineFunctionAttribute.Of).First(f => f.Stage == stage).TriggeredBy;
}
