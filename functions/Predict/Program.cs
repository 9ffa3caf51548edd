using Pipeline.Backends;
using Pipeline.Hosting;

await FunctionHost.RunAsync<Pipeline.Functions.Predict.Function>(args, (services, configuration) => services.AddPipelineBackend(configuration));
