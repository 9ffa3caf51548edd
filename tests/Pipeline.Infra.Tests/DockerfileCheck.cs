using System.Text.RegularExpressions;

namespace Pipeline.Infra.Tests;

/// <summary>
/// Checks that the Dockerfile ships each function as its cold start was measured fastest (BENCHMARKS.md): published for
/// Cloud Run's platform, self-contained, with the framework and the function in one composite ReadyToRun image; run on
/// an image with no second .NET; started by the function's apphost (named, as its assembly, after its stage), with
/// configuration reload off.
/// </summary>
public static partial class DockerfileCheck
{
    /// <summary>The options of <c>dotnet publish</c> that make the image's start-up what was measured.</summary>
    public static readonly IReadOnlyList<string> PublishOptions =
        ["--runtime linux-x64", "--self-contained true", "-p:PublishReadyToRun=true", "-p:PublishReadyToRunComposite=true"];

    /// <summary>A self-contained app needs only .NET's native dependencies, not an image with the shared framework.</summary>
    public const string RuntimeImage = "mcr.microsoft.com/dotnet/runtime-deps:10.0";

    /// <summary>The apphost of the function the image is built for.</summary>
    public const string Apphost = "/app/${FUNCTION}";

    /// <summary>Turns off the host's watcher on configuration files, which a container's never change.</summary>
    public const string NoConfigurationReload = "DOTNET_hostBuilder__reloadConfigOnChange=false";

    public static IReadOnlyList<string> FindGaps(string dockerfile)
    {
        var gaps = new List<string>();
        var instructions = Instructions(dockerfile);

        var publish = instructions.Where(line => line.StartsWith("RUN ", StringComparison.Ordinal) && line.Contains("dotnet publish", StringComparison.Ordinal)).ToList();
        if (publish is not [var command])
            gaps.Add($"{publish.Count} RUN instructions run dotnet publish; there must be one");
        else
        {
            gaps.AddRange(PublishOptions.Where(option => !command.Contains(option, StringComparison.Ordinal))
                .Select(option => $"dotnet publish lacks {option}"));
            if (command.Contains("UseAppHost=false", StringComparison.Ordinal))
                gaps.Add("dotnet publish leaves out the apphost the entrypoint starts");
        }

        var runtime = instructions.LastOrDefault(line => line.StartsWith("FROM ", StringComparison.Ordinal));
        if (runtime is null || runtime.Split(' ')[1] != RuntimeImage)
            gaps.Add($"the final stage is {runtime ?? "missing"}, not FROM {RuntimeImage}");

        var entrypoint = instructions.LastOrDefault(line => line.StartsWith("ENTRYPOINT ", StringComparison.Ordinal)) ?? "";
        if (!entrypoint.Contains($"exec \\\"{Apphost}\\\"", StringComparison.Ordinal))
            gaps.Add($"the entrypoint does not exec the apphost {Apphost}: {entrypoint}");

        if (!instructions.Any(line => line.StartsWith("ENV ", StringComparison.Ordinal) && line.Contains(NoConfigurationReload, StringComparison.Ordinal)))
            gaps.Add($"no ENV sets {NoConfigurationReload}");

        return gaps;
    }

    /// <summary>The Dockerfile's instructions, one a line: comments dropped, continuation lines joined, spaces collapsed.</summary>
    private static List<string> Instructions(string dockerfile)
    {
        var lines = dockerfile.ReplaceLineEndings("\n").Split('\n').Where(line => !line.TrimStart().StartsWith('#'));
        var joined = string.Join('\n', lines).Replace("\\\n", " ", StringComparison.Ordinal);
        return joined.Split('\n').Select(line => Spaces().Replace(line.Trim(), " ")).Where(line => line.Length > 0).ToList();
    }

    [GeneratedRegex(@"\s+")]
    private static partial Regex Spaces();
}
