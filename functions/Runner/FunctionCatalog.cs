using System.Reflection;
using Pipeline.Core;

namespace Pipeline.Runner;

/// <summary>The five functions of the chain, in order, with what each declares.</summary>
public static class FunctionCatalog
{
    public static IReadOnlyList<Type> Types { get; } =
    [
        typeof(Functions.BuildStats.Function),
        typeof(Functions.TrainModel.Function),
        typeof(Functions.Predict.Function),
        typeof(Functions.RenderChart.Function),
        typeof(Functions.GenerateCampaign.Function),
    ];

    public static PipelineFunctionAttribute Describe(Type functionType) =>
        functionType.GetCustomAttribute<PipelineFunctionAttribute>()
        ?? throw new InvalidOperationException($"{functionType.FullName} has no [PipelineFunction]");
}
