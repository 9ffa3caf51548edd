using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Pipeline.Backends;

/// <summary>Chooses the backend from configuration (<c>Pipeline:Backend</c>: Embedded or Gcp) and registers it.</summary>
public static class BackendRegistration
{
    public static IServiceCollection AddPipelineBackend(this IServiceCollection services, IConfiguration configuration) =>
        throw new NotSupportedException("backend registration is not built yet");
}
