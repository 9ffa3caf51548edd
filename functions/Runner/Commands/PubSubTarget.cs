using System.CommandLine;
using Microsoft.Extensions.Configuration;
using Pipeline.Hosting.PubSub;

namespace Pipeline.Runner.Commands;

/// <summary>
/// Which Pub/Sub the commands talk to: <c>--emulator-host</c> and <c>--project</c>, resolved the same way for
/// <c>serve</c> and <c>trigger</c> (<see cref="PubSubOptions.ResolveProject"/>), so that a trigger lands on the
/// topics a <c>serve</c> in the same shell created.
/// </summary>
public sealed class PubSubTarget
{
    public Option<string?> Project { get; } = new("--project")
    {
        Description = "Project of the topics. Default: $PUBSUB_PROJECT_ID, then $GOOGLE_CLOUD_PROJECT, then local-project on the emulator.",
    };

    public Option<string?> EmulatorHost { get; } = new("--emulator-host") { Description = "host:port of the Pub/Sub emulator. Default: $PUBSUB_EMULATOR_HOST." };

    public void AddTo(Command command)
    {
        command.Options.Add(Project);
        command.Options.Add(EmulatorHost);
    }

    /// <summary>The options for the flags given over the environment, and a phrase saying where the project came from.</summary>
    public (PubSubOptions Options, string ProjectSource) Resolve(ParseResult result, IConfiguration environment)
    {
        var options = PubSubOptions.From(environment);
        if (result.GetValue(EmulatorHost) is { } host) options.EmulatorHost = host;
        var (project, source) = PubSubOptions.ResolveProject(result.GetValue(Project), environment, options.UsesEmulator);
        options.ProjectId = project;
        return (options, source == "given" ? "--project" : source);
    }
}
