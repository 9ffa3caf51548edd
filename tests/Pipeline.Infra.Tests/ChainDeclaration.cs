using System.Reflection;
using Pipeline.Core;

namespace Pipeline.Infra.Tests;

/// <summary>One function's place in the chain, as its <see cref="PipelineFunctionAttribute"/> declares it.</summary>
public sealed record FunctionDeclaration(string Stage, string TriggeredBy, string Publishes);

/// <summary>The chain as the code declares it: the single source of truth the deployment files are checked against.</summary>
/// <param name="Watchdog">The function on the dead-letter topic, deployed beside the chain.</param>
public sealed record ChainDeclaration(
    IReadOnlyList<string> Topics,
    string TriggerTopic,
    string FailureTopic,
    string DeadLetterTopic,
    IReadOnlyList<FunctionDeclaration> Functions,
    FunctionDeclaration Watchdog)
{
    /// <summary>Where Pub/Sub puts messages no function could take, and where the stalled-run sweep goes: the watchdog's topic.</summary>
    public const string DeadLetter = Pipeline.Core.Topics.DeadLetter;

    /// <summary>Every function deployed: the chain and the watchdog.</summary>
    public IEnumerable<FunctionDeclaration> Deployed => Functions.Append(Watchdog);

    /// <summary>
    /// Reads <see cref="Pipeline.Core.Topics.All"/> and the <see cref="PipelineFunctionAttribute"/> of each stage's function, from
    /// the assembly named after the stage (BuildStats.dll, …).
    /// </summary>
    public static ChainDeclaration FromCode()
    {
        var functions = Stages.All.Select(Declared).ToList();
        return new ChainDeclaration(Pipeline.Core.Topics.All, Pipeline.Core.Topics.Trigger, Pipeline.Core.Topics.RunFailed, DeadLetter, functions,
            Declared("RunWatchdog"));
    }

    /// <summary>The one [PipelineFunction] class of the assembly named <paramref name="name"/>, declared as <paramref name="name"/>.</summary>
    private static FunctionDeclaration Declared(string name)
    {
        var declared = Assembly.Load(new AssemblyName(name)).GetTypes()
            .Select(type => type.GetCustomAttribute<PipelineFunctionAttribute>())
            .OfType<PipelineFunctionAttribute>()
            .ToList();
        if (declared is not [var attribute] || attribute.Stage != name)
            throw new InvalidOperationException(
                $"assembly {name} should hold exactly one [PipelineFunction] class, for {name}; it holds {declared.Count}");
        return new FunctionDeclaration(attribute.Stage, attribute.TriggeredBy, attribute.Publishes);
    }
}
