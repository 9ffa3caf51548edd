using Pipeline.Backends;
using Pipeline.Hosting;

await FunctionHost.RunAsync<Pipeline.Functions.GenerateCampaign.Function>(args, (services, configuration) => services.AddPipelineBackend(configuration));
