namespace Pipeline.Infra.Tests;

/// <summary>The Dockerfile first, then what the check reports on copies changed back to the framework-dependent image.</summary>
public sealed class DockerfileTests
{
    private static readonly string Dockerfile = File.ReadAllText(RepositoryLayout.Dockerfile);

    private static IReadOnlyList<string> Gaps(string dockerfile) => DockerfileCheck.FindGaps(dockerfile);

    [Fact]
    public void EachFunctionIsPublishedSelfContainedCompositeAndStartedByItsApphost()
    {
        var gaps = Gaps(Dockerfile);

        Assert.True(gaps.Count == 0, "Dockerfile falls short:\n" + string.Join('\n', gaps));
    }

    [Fact]
    public void AFrameworkDependentPublishIsReported()
    {
        var dockerfile = Changed(Dockerfile, "--self-contained true", "--self-contained false");

        Assert.Equal(["dotnet publish lacks --self-contained true"], Gaps(dockerfile));
    }

    [Fact]
    public void APublishWithoutTheCompositeImageOrTheApphostIsReported()
    {
        var dockerfile = Changed(Dockerfile, "-p:PublishReadyToRunComposite=true", "-p:UseAppHost=false");

        Assert.Equal(
            ["dotnet publish lacks -p:PublishReadyToRunComposite=true", "dotnet publish leaves out the apphost the entrypoint starts"],
            Gaps(dockerfile));
    }

    [Fact]
    public void TheAspNetImageAndDotnetAsEntrypointAreReported()
    {
        var dockerfile = Changed(
            Changed(Dockerfile, "FROM mcr.microsoft.com/dotnet/runtime-deps:10.0 AS runtime", "FROM mcr.microsoft.com/dotnet/aspnet:10.0 AS runtime"),
            "exec \\\"/app/${FUNCTION}\\\"", "exec dotnet \\\"/app/${FUNCTION}.dll\\\"");

        Assert.Equal(
            [
                "the final stage is FROM mcr.microsoft.com/dotnet/aspnet:10.0 AS runtime, not FROM mcr.microsoft.com/dotnet/runtime-deps:10.0",
                """the entrypoint does not exec the apphost /app/${FUNCTION}: ENTRYPOINT ["/bin/sh", "-c", "export ASPNETCORE_HTTP_PORTS=\"${PORT:-8080}\"; exec dotnet \"/app/${FUNCTION}.dll\""]""",
            ],
            Gaps(dockerfile));
    }

    [Fact]
    public void AnImageThatWatchesItsConfigurationIsReported()
    {
        var dockerfile = Changed(Dockerfile, " \\\n    " + DockerfileCheck.NoConfigurationReload, "");

        Assert.Equal([$"no ENV sets {DockerfileCheck.NoConfigurationReload}"], Gaps(dockerfile));
    }

    private static string Changed(string dockerfile, string from, string to)
    {
        Assert.Contains(from, dockerfile, StringComparison.Ordinal);
        return dockerfile.Replace(from, to, StringComparison.Ordinal);
    }
}
