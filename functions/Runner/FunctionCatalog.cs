namespace Pipeline.Runner;

/// <summary>The five functions of the chain, in order (each declares its place with [PipelineFunction]).</summary>
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
}
