using Pipeline.Backends;
using Pipeline.Hosting;

await FunctionHost.RunAsync<Pipeline.Functions.TrainModel.Function>(args, (services, configuration) => services.AddPipelineBackend(configuration));
