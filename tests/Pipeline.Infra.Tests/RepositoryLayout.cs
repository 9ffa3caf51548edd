namespace Pipeline.Infra.Tests;

/// <summary>Where the checked files live: the repository root is the nearest directory above the tests that holds Pipeline.sln.</summary>
internal static class RepositoryLayout
{
    public static string Root { get; } = FindRoot();

    public static string Infra => Path.Combine(Root, "infra");

    /// <summary>The Node tool that turns HCL into JSON, with its package.json and package-lock.json.</summary>
    public static string InfraTools => Path.Combine(Infra, "tools");

    public static string CloudBuild => Path.Combine(Root, "cloudbuild.yaml");

    public static string Dockerfile => Path.Combine(Root, "Dockerfile");

    private static string FindRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Pipeline.sln")))
                return directory.FullName;
        }

        throw new InvalidOperationException($"no directory above {AppContext.BaseDirectory} holds Pipeline.sln");
    }
}
