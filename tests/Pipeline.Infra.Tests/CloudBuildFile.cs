using YamlDotNet.Serialization;
using YamlDotNet.Serialization.NamingConventions;

namespace Pipeline.Infra.Tests;

/// <summary>The parts of a cloudbuild.yaml that the checks read.</summary>
public sealed record CloudBuildFile
{
    public List<CloudBuildStep> Steps { get; init; } = [];

    public Dictionary<string, string> Substitutions { get; init; } = [];

    public static CloudBuildFile Parse(string yaml) =>
        new DeserializerBuilder()
            .WithNamingConvention(CamelCaseNamingConvention.Instance)
            .IgnoreUnmatchedProperties()
            .Build()
            .Deserialize<CloudBuildFile>(yaml);
}

/// <summary>One build step. Without <see cref="WaitFor"/> a step starts when every step before it has finished.</summary>
public sealed record CloudBuildStep
{
    public string? Id { get; init; }

    public string Name { get; init; } = "";

    public string? Entrypoint { get; init; }

    public List<string> Args { get; init; } = [];

    public List<string>? WaitFor { get; init; }

    public string? Script { get; init; }
}
