using Microsoft.Extensions.Configuration;

namespace Pipeline.Hosting.PubSub;

/// <summary>
/// Where Pub/Sub is, bound from the <c>PubSub</c> section (environment: <c>PubSub__ProjectId</c>, …) with the
/// variables Google's tools already use as fallbacks: <c>PUBSUB_EMULATOR_HOST</c>, and for the project
/// <c>PUBSUB_PROJECT_ID</c> then <c>GOOGLE_CLOUD_PROJECT</c> (then the GCP backend's <c>Gcp:ProjectId</c>).
/// </summary>
public sealed class PubSubOptions
{
    public const string SectionName = "PubSub";

    /// <summary>The project id used with the emulator when none is configured (the <c>serve</c> command's default).</summary>
    public const string LocalProjectId = "local-project";

    /// <summary>
    /// The project the topics live in. On GCP, when neither this nor <c>GOOGLE_CLOUD_PROJECT</c> is set, the
    /// metadata server is asked (Cloud Run does not set a project variable by itself).
    /// </summary>
    public string? ProjectId { get; set; }

    /// <summary>host:port of the Pub/Sub emulator; when set, requests go there over plain HTTP without credentials.</summary>
    public string? EmulatorHost { get; set; }

    /// <summary>The Pub/Sub REST endpoint on GCP.</summary>
    public Uri Endpoint { get; set; } = new("https://pubsub.googleapis.com/");

    public bool UsesEmulator => !string.IsNullOrWhiteSpace(EmulatorHost);

    /// <summary>Binds the section and applies the fallbacks; the one place these settings are read.</summary>
    public static PubSubOptions From(IConfiguration configuration)
    {
        var options = new PubSubOptions();
        Apply(options, configuration);
        return options;
    }

    internal static void Apply(PubSubOptions options, IConfiguration configuration)
    {
        configuration.GetSection(SectionName).Bind(options);
        options.EmulatorHost = NullIfBlank(options.EmulatorHost) ?? NullIfBlank(configuration["PUBSUB_EMULATOR_HOST"]);
        var (project, _) = ResolveProject(NullIfBlank(options.ProjectId), configuration, options.UsesEmulator);
        options.ProjectId = project;
    }

    /// <summary>
    /// The one rule for the topics' project, with where it came from (for people): an explicit value (a flag, or
    /// <c>PubSub:ProjectId</c>), then <c>PUBSUB_PROJECT_ID</c> (the emulator's own variable), then
    /// <c>GOOGLE_CLOUD_PROJECT</c>, then the GCP backend's <c>Gcp:ProjectId</c> (Terraform sets it), then
    /// <see cref="LocalProjectId"/> on the emulator. Null on GCP with none of them: the metadata server is asked.
    /// </summary>
    public static (string? ProjectId, string Source) ResolveProject(string? explicitValue, IConfiguration configuration, bool usesEmulator)
    {
        if (NullIfBlank(explicitValue) is { } given) return (given, "given");
        foreach (var variable in new[] { "PUBSUB_PROJECT_ID", "GOOGLE_CLOUD_PROJECT", "Gcp:ProjectId" })
            if (NullIfBlank(configuration[variable]) is { } value) return (value, variable.Replace(":", "__", StringComparison.Ordinal));
        return usesEmulator ? (LocalProjectId, "the emulator's default") : (null, "the metadata server");
    }

    private static string? NullIfBlank(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();
}
