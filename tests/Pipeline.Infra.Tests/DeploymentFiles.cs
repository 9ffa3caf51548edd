using System.Text.Json.Nodes;

namespace Pipeline.Infra.Tests;

/// <summary>
/// The repository's infra/*.tf (parsed once, with Node) and cloudbuild.yaml, and the chain the code declares.
/// Tests that show what the checks report change copies, never these.
/// </summary>
public sealed class DeploymentFiles
{
    public ChainDeclaration Code { get; } = ChainDeclaration.FromCode();

    public TerraformConfiguration Terraform { get; } = TerraformConfiguration.Load(RepositoryLayout.Infra);

    public CloudBuildFile CloudBuild { get; } = CloudBuildFile.Parse(File.ReadAllText(RepositoryLayout.CloudBuild));

    /// <summary>A copy of the Terraform that <paramref name="change"/> may edit.</summary>
    public TerraformConfiguration ChangedTerraform(Action<JsonObject> change)
    {
        var copy = Terraform.Root.DeepClone().AsObject();
        change(copy);
        return new TerraformConfiguration(copy);
    }
}
