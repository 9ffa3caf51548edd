using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Pipeline.Campaigns;
using Pipeline.Core;

namespace Pipeline.Gcp.Tests;

/// <summary>Configuration: the backend registers itself, and start-up names every missing setting.</summary>
public sealed class RegistrationTests
{
    private static ServiceProvider Build(Dictionary<string, string?> settings, bool gcp = true)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var services = new ServiceCollection().AddLogging();
        if (gcp) services.AddGcpBackend(configuration);
        else services.AddCampaignWriter(configuration);
        return services.BuildServiceProvider();
    }

    private static string StartupFailure(ServiceProvider provider) =>
        Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IStartupValidator>().Validate()).Message;

    [Fact]
    public void The_GCP_backend_registers_every_adapter()
    {
        using var provider = Build(new()
        {
            ["Gcp:ProjectId"] = "my-project", ["Gcp:Dataset"] = "segmentation", ["Gcp:Bucket"] = "my-bucket",
            ["Gcp:StorageEndpoint"] = "localhost:9", // no credentials on this machine; nothing is contacted
        });

        provider.GetRequiredService<IStartupValidator>().Validate();
        Assert.IsType<GcsBucket>(provider.GetRequiredService<IBucket>());
        Assert.IsType<BigQueryStatsBuilder>(provider.GetRequiredService<ICustomerStatsBuilder>());
        Assert.IsType<BigQuerySegmentationEngine>(provider.GetRequiredService<ISegmentationEngine>());
        Assert.IsType<OfflineCampaignWriter>(provider.GetRequiredService<ICampaignWriter>());
        Assert.IsType<BigQueryClient>(provider.GetRequiredService<IBigQueryClient>());
    }

    [Fact]
    public void Start_up_names_every_missing_GCP_setting()
    {
        using var provider = Build(new() { ["Gcp:SourceTable"] = "not a table" });

        var message = StartupFailure(provider);

        Assert.Contains("Gcp:ProjectId is not set (environment: Gcp__ProjectId", message, StringComparison.Ordinal);
        Assert.Contains("Gcp:Dataset is not set (environment: Gcp__Dataset", message, StringComparison.Ordinal);
        Assert.Contains("Gcp:Bucket is not set (environment: Gcp__Bucket", message, StringComparison.Ordinal);
        Assert.Contains("Gcp:SourceTable 'not a table' must be project.dataset.table", message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_OpenAI_writer_without_an_endpoint_is_named_at_start_up()
    {
        using var provider = Build(new() { ["Campaign:Writer"] = "OpenAI" }, gcp: false);

        Assert.Contains("Campaign:Endpoint is not set to an absolute URL (environment: Campaign__Endpoint", StartupFailure(provider), StringComparison.Ordinal);
    }

    [Fact]
    public void A_Vertex_writer_needs_the_project()
    {
        using var provider = Build(new() { ["Campaign:Writer"] = "Vertex" }, gcp: false);

        Assert.Contains("Campaign:Writer is Vertex but Gcp:ProjectId is not set", StartupFailure(provider), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("OpenAI")]
    [InlineData("Vertex")]
    public void An_LLM_writer_is_guarded_by_validation_with_the_offline_writer_as_fallback(string writer)
    {
        using var provider = Build(new()
        {
            ["Campaign:Writer"] = writer, ["Campaign:Endpoint"] = "http://localhost:11434/v1", ["Campaign:Model"] = "llama3.1",
            ["Gcp:ProjectId"] = "my-project",
        }, gcp: false);

        provider.GetRequiredService<IStartupValidator>().Validate();
        Assert.IsType<ValidatingCampaignWriter>(provider.GetRequiredService<ICampaignWriter>());
    }

    [Fact]
    public void The_embedded_backend_keeps_the_offline_writer_when_no_LLM_is_configured()
    {
        using var provider = Build([], gcp: false);

        provider.GetRequiredService<IStartupValidator>().Validate();
        Assert.IsType<OfflineCampaignWriter>(provider.GetRequiredService<ICampaignWriter>());
    }

    [Fact]
    public void The_Vertex_endpoint_is_regional_or_global()
    {
        // Global by default: current Gemini models are served there (some only there).
        Assert.Equal(new Uri("https://aiplatform.googleapis.com/"), new GcpOptions().VertexBaseUri());
        Assert.Equal(new Uri("https://us-central1-aiplatform.googleapis.com/"), new GcpOptions { VertexLocation = "us-central1" }.VertexBaseUri());
        Assert.Equal(new Uri("https://aiplatform.us.rep.googleapis.com/"), new GcpOptions { VertexLocation = "us" }.VertexBaseUri());
        Assert.Equal(new Uri("https://aiplatform.eu.rep.googleapis.com/"), new GcpOptions { VertexLocation = "eu" }.VertexBaseUri());
    }
}
