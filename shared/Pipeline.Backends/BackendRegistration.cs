using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Pipeline.Campaigns;
using Pipeline.Core;
using Pipeline.Embedded;
using Pipeline.Gcp;
using Pipeline.Reports;

namespace Pipeline.Backends;

/// <summary>
/// Registers what every function needs except the transport's <see cref="IMessagePublisher"/> (the host adds
/// that): the run ledger and stage protocol, and the backend chosen by <c>Pipeline:Backend</c>.
/// </summary>
public static class BackendRegistration
{
    public static IServiceCollection AddPipelineBackend(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<PipelineOptions>()
            .Bind(configuration.GetSection(PipelineOptions.SectionName))
            .ValidateDataAnnotations()
            .ValidateOnStart();
        services.AddOptions<ProfileOptions>()
            .Bind(configuration.GetSection(ProfileOptions.SectionName))
            .ValidateDataAnnotations()
            .ValidateOnStart();
        services.AddOptions<QualityGateOptions>()
            .Bind(configuration.GetSection(QualityGateOptions.SectionName))
            .ValidateDataAnnotations()
            .ValidateOnStart();
        services.AddOptions<AudienceOptions>()
            .Bind(configuration.GetSection(AudienceOptions.SectionName))
            .ValidateDataAnnotations()
            .ValidateOnStart();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<RunLedger>();
        services.TryAddSingleton<StageExecutor>();
        services.TryAddSingleton<SegmentModelStore>();
        // Every function can end a run (by completing it or by failing it), so every one writes the report and index.
        services.AddRunReports();

        var backend = configuration.GetSection(PipelineOptions.SectionName).Get<PipelineOptions>()?.Backend ?? BackendKind.Embedded;
        switch (backend)
        {
            case BackendKind.Embedded:
                services.AddEmbeddedBackend(configuration);
                // An embedded run may still use an LLM writer (e.g. a local OpenAI-compatible endpoint) when
                // Campaign:Writer says so; otherwise the offline writer below.
                services.AddCampaignWriter(configuration);
                break;
            case BackendKind.Gcp:
                services.AddGcpBackend(configuration);
                break;
            default:
                throw new NotSupportedException($"Pipeline:Backend {backend} is not known");
        }
        services.TryAddSingleton<ICampaignWriter, OfflineCampaignWriter>();
        return services;
    }
}
