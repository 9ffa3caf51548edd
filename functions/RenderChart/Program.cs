using Pipeline.Backends;
using Pipeline.Hosting;

await FunctionHost.RunAsync<Pipeline.Functions.RenderChart.Function>(args, (services, configuration) => services.AddPipelineBackend(configuration));
