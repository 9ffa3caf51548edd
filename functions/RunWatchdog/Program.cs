using Pipeline.Backends;
using Pipeline.Hosting;

await FunctionHost.RunAsync<Pipeline.Functions.RunWatchdog.Function>(args, (services, configuration) => services.AddPipelineBackend(configuration));
