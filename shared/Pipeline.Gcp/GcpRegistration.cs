using System.ClientModel;
using Google.Cloud.Storage.V1;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OpenAI;
using Pipeline.Campaigns;
using Pipeline.Core;

namespace Pipeline.Gcp;

/// <summary>Registers the GCP backend, and the campaign writer both backends share.</summary>
public static class GcpRegistration
{
    /// <summary>The HTTP client names, for tests that replace a handler.</summary>
    public const string BigQueryHttpClient = "bigquery";
    public const string VertexHttpClient = "vertex-ai";

    /// <summary>
    /// BigQuery (stats and BigQuery ML), Cloud Storage as the bucket, and the campaign writer of the <c>Campaign</c>
    /// section; settings from the <c>Gcp</c> section, checked at start-up.
    /// </summary>
    public static IServiceCollection AddGcpBackend(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<GcpOptions>()
            .Bind(configuration.GetSection(GcpOptions.SectionName))
            .PostConfigure(o => o.StorageEndpoint ??= NullIfEmpty(configuration["STORAGE_EMULATOR_HOST"]))
            .ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<GcpOptions>, GcpOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<IAccessTokenSource, ApplicationDefaultCredentials>();
        services.TryAddSingleton(new BigQueryClientSettings());

        services.AddHttpClient(BigQueryHttpClient, (provider, http) =>
        {
            http.BaseAddress = new Uri(provider.GetRequiredService<IOptions<GcpOptions>>().Value.BigQueryEndpoint);
            http.Timeout = TimeSpan.FromMinutes(2);
        });
        services.TryAddSingleton<IBigQueryClient>(provider => ActivatorUtilities.CreateInstance<BigQueryClient>(provider,
            provider.GetRequiredService<IHttpClientFactory>().CreateClient(BigQueryHttpClient)));

        services.TryAddSingleton<IBucket>(provider => CreateBucket(provider.GetRequiredService<IOptions<GcpOptions>>().Value));
        services.TryAddSingleton<ICustomerStatsBuilder, BigQueryStatsBuilder>();
        services.TryAddSingleton<RunLedger>(); // the engine finds the previous run's as_of in its manifest
        services.TryAddSingleton<ISegmentationEngine, BigQuerySegmentationEngine>();
        services.TryAddSingleton<ISegmentProfiler, BigQuerySegmentProfiler>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IRunCompletionSink, BigQueryCompletedRuns>());
        return services.AddCampaignWriter(configuration);
    }

    /// <summary>
    /// The campaign writer of the <c>Campaign</c> section: the offline writer by default; Vertex AI Gemini or an
    /// OpenAI-compatible endpoint, guarded by <see cref="ValidatingCampaignWriter"/> with the offline writer as the
    /// fallback. The embedded backend uses it too, so a run without any cloud can use a local Ollama.
    /// </summary>
    public static IServiceCollection AddCampaignWriter(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<GcpOptions>().Bind(configuration.GetSection(GcpOptions.SectionName));
        services.AddOptions<CampaignOptions>().Bind(configuration.GetSection(CampaignOptions.SectionName)).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<CampaignOptions>, CampaignOptionsValidator>());
        services.TryAddSingleton<IAccessTokenSource, ApplicationDefaultCredentials>();
        services.TryAddSingleton<OfflineCampaignWriter>();

        var writer = configuration.GetSection(CampaignOptions.SectionName).Get<CampaignOptions>()?.Writer ?? CampaignWriterKind.Offline;
        switch (writer)
        {
            case CampaignWriterKind.Offline:
                services.TryAddSingleton<ICampaignWriter>(provider => provider.GetRequiredService<OfflineCampaignWriter>());
                break;
            case CampaignWriterKind.Vertex:
                services.AddHttpClient(VertexHttpClient, (provider, http) =>
                {
                    var gcp = provider.GetRequiredService<IOptions<GcpOptions>>().Value;
                    var campaign = provider.GetRequiredService<IOptions<CampaignOptions>>().Value;
                    http.BaseAddress = campaign.Endpoint is { Length: > 0 } endpoint ? new Uri(endpoint) : gcp.VertexBaseUri();
                    http.Timeout = Timeout.InfiniteTimeSpan; // the writer's own timeout applies
                });
                services.TryAddSingleton<ICampaignWriter>(provider =>
                {
                    var gcp = provider.GetRequiredService<IOptions<GcpOptions>>().Value;
                    var campaign = provider.GetRequiredService<IOptions<CampaignOptions>>().Value;
                    var chat = new VertexGeminiChatClient(
                        provider.GetRequiredService<IHttpClientFactory>().CreateClient(VertexHttpClient),
                        provider.GetRequiredService<IAccessTokenSource>(), gcp.ProjectId, gcp.VertexLocation, campaign.Model);
                    return Guarded(provider, chat, "vertex", campaign);
                });
                break;
            case CampaignWriterKind.OpenAI:
                services.TryAddSingleton<ICampaignWriter>(provider =>
                {
                    var campaign = provider.GetRequiredService<IOptions<CampaignOptions>>().Value;
                    return Guarded(provider, CreateOpenAIChatClient(campaign), "openai", campaign);
                });
                break;
        }
        return services;
    }

    /// <summary>An OpenAI-compatible chat client for <see cref="CampaignOptions.Endpoint"/> (Ollama, vLLM, LM Studio, OpenAI).</summary>
    public static IChatClient CreateOpenAIChatClient(CampaignOptions campaign)
    {
        var client = new OpenAIClient(
            new ApiKeyCredential(string.IsNullOrEmpty(campaign.ApiKey) ? "unused" : campaign.ApiKey),
            new OpenAIClientOptions { Endpoint = new Uri(campaign.Endpoint!), NetworkTimeout = TimeSpan.FromSeconds(campaign.TimeoutSeconds + 5) });
        return client.GetChatClient(campaign.Model).AsIChatClient();
    }

    /// <summary>The Cloud Storage bucket, or an emulator's (<c>STORAGE_EMULATOR_HOST</c>) without credentials.</summary>
    public static GcsBucket CreateBucket(GcpOptions options)
    {
        var builder = new StorageClientBuilder();
        if (options.StorageEndpoint is { Length: > 0 } endpoint)
        {
            var root = endpoint.Contains("://", StringComparison.Ordinal) ? endpoint : $"http://{endpoint}";
            builder.BaseUri = $"{root.TrimEnd('/')}/storage/v1/";
            builder.UnauthenticatedAccess = true;
        }
        return new GcsBucket(builder.Build(), options.Bucket);
    }

    private static ValidatingCampaignWriter Guarded(IServiceProvider provider, IChatClient chat, string writer, CampaignOptions campaign) =>
        new(new ChatCampaignWriter(chat, writer, campaign.Model, campaign),
            provider.GetRequiredService<OfflineCampaignWriter>(),
            provider.GetRequiredService<ILogger<ValidatingCampaignWriter>>());

    private static string? NullIfEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;
}
