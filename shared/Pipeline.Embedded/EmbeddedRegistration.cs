using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Pipeline.Core;

namespace Pipeline.Embedded;

/// <summary>Registers the embedded backend: DuckDB warehouse, in-process K-means, a local directory as the bucket.</summary>
public static class EmbeddedRegistration
{
    public static IServiceCollection AddEmbeddedBackend(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<EmbeddedOptions>()
            .Bind(configuration.GetSection(EmbeddedOptions.SectionName))
            .Validate(o => !string.IsNullOrWhiteSpace(o.BucketDirectory), "Embedded:BucketDirectory must name a directory")
            .ValidateOnStart();
        services.AddSingleton<IBucket, FileSystemBucket>();
        services.AddSingleton<ICustomerStatsBuilder, DuckDbStatsBuilder>();
        services.AddSingleton<ISegmentationEngine, EmbeddedSegmentationEngine>();
        services.AddSingleton<ISegmentProfiler, DuckDbSegmentProfiler>();
        return services;
    }
}
