using System.Reflection;

namespace Pipeline.Core;

/// <summary>
/// The logical names of the chain's Pub/Sub topics (CONTRACT.md, "Topics"). Deployments may add a prefix;
/// the transport applies it, so code and messages always speak of these names.
/// </summary>
public static class Topics
{
    public const string Trigger = "segmentation-trigger";
    public const string StatsReady = "stats-ready";
    public const string ModelTrained = "model-trained";
    public const string PredictionsReady = "predictions-ready";
    public const string ChartRendered = "chart-rendered";
    public const string RunCompleted = "run-completed";
    public const string RunFailed = "run-failed";

    /// <summary>
    /// Where Pub/Sub moves a message after max_delivery_attempts, and where the schedule sends the stalled-run
    /// sweep; the watchdog handles both. Deployment plumbing rather than a topic of the chain, so not in <see cref="All"/>.
    /// </summary>
    public const string DeadLetter = "segmentation-dead-letter";

    /// <summary>Every topic of the contract, in chain order.</summary>
    public static IReadOnlyList<string> All { get; } =
        [Trigger, StatsReady, ModelTrained, PredictionsReady, ChartRendered, RunCompleted, RunFailed];
}

/// <summary>The names of the five stages, as they appear in manifests, logs and message attributes.</summary>
public static class Stages
{
    public const string BuildStats = "BuildStats";
    public const string TrainModel = "TrainModel";
    public const string Predict = "Predict";
    public const string RenderChart = "RenderChart";
    public const string GenerateCampaign = "GenerateCampaign";

    /// <summary>The stages in chain order.</summary>
    public static IReadOnlyList<string> All { get; } = [BuildStats, TrainModel, Predict, RenderChart, GenerateCampaign];
}

/// <summary>
/// Declares a function's place in the chain: its stage, the topic that triggers it and the topic it publishes,
/// the way an Azure Functions class declares its trigger and output binding. Hosts, the in-process bus and the
/// infrastructure wiring tests all read it.
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class PipelineFunctionAttribute(string stage) : Attribute
{
    public string Stage { get; } = stage;
    public required string TriggeredBy { get; init; }
    public required string Publishes { get; init; }

    /// <summary>The declaration on a function class; a class without one is a wiring mistake.</summary>
    public static PipelineFunctionAttribute Of(Type functionType) =>
        functionType.GetCustomAttribute<PipelineFunctionAttribute>()
        ?? throw new ArgumentException($"{functionType} has no [{nameof(PipelineFunctionAttribute)}]", nameof(functionType));
}
