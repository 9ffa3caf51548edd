namespace Pipeline.Infra.Tests;

/// <summary>cloudbuild.yaml tests first, then builds, pushes and deploys every function to what Terraform creates.</summary>
public sealed class CloudBuildTests(DeploymentFiles files) : IClassFixture<DeploymentFiles>
{
    private IReadOnlyList<string> Gaps(CloudBuildFile build) =>
        CloudBuildCheck.FindGaps(build, files.Code, TerraformWiring.Read(files.Terraform), files.Terraform);

    [Fact]
    public void EveryFunctionIsBuiltPushedAfterTheTestsAndDeployed()
    {
        var gaps = Gaps(files.CloudBuild);

        Assert.True(gaps.Count == 0, "cloudbuild.yaml falls short:\n" + string.Join('\n', gaps));
    }

    [Fact]
    public void APushThatDoesNotWaitForTheTestsIsReported()
    {
        var build = WithStep(files.CloudBuild, "push-render-chart", step => step with { WaitFor = ["build-render-chart"] });

        Assert.Equal(["push-render-chart pushes an image without waiting for the tests (test)"], Gaps(build));
    }

    [Fact]
    public void APushThatWaitsForNothingIsReportedEvenWhenItComesLast()
    {
        var push = files.CloudBuild.Steps.Single(step => step.Id == "push-predict") with { WaitFor = ["-"] };
        var build = files.CloudBuild with { Steps = [.. files.CloudBuild.Steps.Where(step => step.Id != "push-predict"), push] };

        var gaps = Gaps(build);

        Assert.Contains("push-predict pushes an image without waiting for the tests (test)", gaps);
        Assert.Contains("push-predict pushes Predict's image without waiting for build-predict, which builds it", gaps);
    }

    [Fact]
    public void AFunctionThatIsNeverDeployedIsReported()
    {
        var build = files.CloudBuild with { Steps = [.. files.CloudBuild.Steps.Where(step => step.Id != "deploy-train-model")] };

        Assert.Equal(["TrainModel is never deployed: no step runs gcloud run deploy segmentation-train-model"], Gaps(build));
    }

    [Fact]
    public void AFunctionThatIsNeverBuiltIsReported()
    {
        var build = files.CloudBuild with
        {
            Steps = [.. files.CloudBuild.Steps.Where(step => step.Id is not ("build-generate-campaign" or "push-generate-campaign" or "deploy-generate-campaign"))],
        };

        Assert.Equal(["GenerateCampaign: 0 docker build steps pass --build-arg FUNCTION=GenerateCampaign; there must be one"], Gaps(build));
    }

    [Fact]
    public void ADeploymentUnderAnotherServiceAccountIsReported()
    {
        var build = WithStep(files.CloudBuild, "deploy-predict", step => step with
        {
            Args = [.. step.Args.Select(arg => arg.StartsWith("--service-account=", StringComparison.Ordinal) ? "--service-account=seg-train-model@${PROJECT_ID}.iam.gserviceaccount.com" : arg)],
        });

        Assert.Equal(
            ["deploy-predict deploys Predict with --service-account=seg-train-model@${PROJECT_ID}.iam.gserviceaccount.com, but Terraform runs it as seg-predict"],
            Gaps(build));
    }

    [Fact]
    public void ARegionDefaultThatDiffersFromTerraformIsReported()
    {
        var build = files.CloudBuild with { Substitutions = new(files.CloudBuild.Substitutions) { ["_REGION"] = "europe-west1" } };

        Assert.Equal(["substitution _REGION defaults to europe-west1, Terraform's region to us-central1"], Gaps(build));
    }

    private static CloudBuildFile WithStep(CloudBuildFile build, string id, Func<CloudBuildStep, CloudBuildStep> change) =>
        build with { Steps = [.. build.Steps.Select(step => step.Id == id ? change(step) : step)] };
}
