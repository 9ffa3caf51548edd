using Pipeline.Backends;
using Pipeline.Hosting;

await FunctionHost.RunAsync<Pipeline.Functions.BuildStats.Function>(args, (services, configuration) => services.AddPipelineBackend(configuration));
