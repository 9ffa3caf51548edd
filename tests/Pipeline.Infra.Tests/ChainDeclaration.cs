using System.Reflection;
using Pipeline.Core;

namespace Pipeline.Infra.Tests;

/// <summary>One function's place in the chain, as its <see cref="PipelineFunctionAttribute"/> declares it.</summary>
public sealed record FunctionDeclaration(string Stage, string TriggeredBy, string Publishes);

/// <summary>The chain as the code declares it: the single source of truth the deployment files are checked against.</summary>
public sealed record ChainDeclaration(
    IReadOnlyList<string> Topics,
    string TriggerTopic,
    string FailureTopic,
    string DeadLetterTopic,
    IReadOnlyList<FunctionDeclaration> Functions)
{
    /// <summary>
    /// Where Pub/Sub puts messages no function could take. Only the deployment uses it, so the code does not
    /// name it; the deployment must still have it.
    /// </summary>
    public const string DeadLetter = "segmentation-dead-letter";

    /// <summary>
    /// Reads <see cref="Pipeline.Core.Topics.All"/> and the <see cref="PipelineFunctionAttribute"/> of each stage's function, from
    /// the assembly named after the stage (BuildStats.dll, …).
    /// </summary>
    public static ChainDeclaration FromCode()
    {
        var functions = Stages.All.Select(stage =>
        {
            var declared = Assembly.Load(new AssemblyName(stage)).GetTypes()
                .Select(type => type.GetCustomAttribute<PipelineFunctionAttribute>())
                .OfType<PipelineFunctionAttribute>()
                .ToList();
            if (declared is not [var attribute] || attribute.Stage != stage)
                throw new InvalidOperationException(
                    $"assembly {stage} should hold exactly one [PipelineFunction] class, for stage {stage}; it holds {declared.Count}");
            return new FunctionDeclaration(attribute.Stage, attribute.TriggeredBy, attribute.Publishes);
        }).ToList();

        return new ChainDeclaration(Pipeline.Core.Topics.All, Pipeline.Core.Topics.Trigger, Pipeline.Core.Topics.RunFailed, DeadLetter, functions);
    }
}
