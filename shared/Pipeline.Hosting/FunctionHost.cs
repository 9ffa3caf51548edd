using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Pipeline.Core;

namespace Pipeline.Hosting;

/// <summary>Hosts one pipeline function as a Cloud Run service (Functions Framework conventions).</summary>
public static class FunctionHost
{
    /// <summary>
    /// Builds and runs the web host for <typeparamref name="TFunction"/>: <paramref name="configure"/> registers the
    /// backend the function's constructor needs.
    /// </summary>
    public static Task RunAsync<TFunction>(string[] args, Action<IServiceCollection, IConfiguration> configure)
        where TFunction : class, IPipelineFunction =>
        throw new NotSupportedException("HTTP hosting is not built yet");
}
