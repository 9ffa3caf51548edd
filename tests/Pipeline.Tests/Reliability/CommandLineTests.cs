namespace Pipeline.Tests.Reliability;

/// <summary>Every Runner command ends a failure with one line saying what failed and what to do, and a non-zero exit.</summary>
public sealed class CommandLineTests : IDisposable
{
    private readonly TempDirectory _scratch = new();

    public void Dispose() => _scratch.Dispose();

    private static void AssertOneLineWithoutTrace(RunnerResult result, string expected)
    {
        Assert.NotEqual(0, result.ExitCode);
        var line = Assert.Single(result.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains(expected, line, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", result.Output + result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", result.Output + result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Trigger_with_no_emulator_listening_says_so_and_how_to_start_it()
    {
        var result = await RunnerProcess.RunAsync(["trigger", "--k", "4"], new Dictionary<string, string> { ["PUBSUB_EMULATOR_HOST"] = "127.0.0.1:9" });

        AssertOneLineWithoutTrace(result, "Not published: the emulator at 127.0.0.1:9 does not answer");
        Assert.Contains("gcloud beta emulators pubsub start --host-port=127.0.0.1:9", result.Error, StringComparison.Ordinal);
        Assert.Contains("Project local-project (from the emulator's default)", result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Trigger_and_serve_name_the_project_they_resolve_the_same_way()
    {
        var environment = new Dictionary<string, string>
        {
            ["PUBSUB_EMULATOR_HOST"] = "127.0.0.1:9",
            ["GOOGLE_CLOUD_PROJECT"] = "from-google",
            ["PUBSUB_PROJECT_ID"] = "from-pubsub",
        };

        var trigger = await RunnerProcess.RunAsync(["trigger"], environment);
        var serve = await RunnerProcess.RunAsync(["serve", "--input", _scratch.Write("items.csv", "order_id\n"), "--out", _scratch.Path], environment);
        var flagged = await RunnerProcess.RunAsync(["trigger", "--project", "from-flag"], environment);

        Assert.Contains("Project from-pubsub (from PUBSUB_PROJECT_ID)", trigger.Output, StringComparison.Ordinal);
        AssertOneLineWithoutTrace(serve, "The Pub/Sub emulator at 127.0.0.1:9 is not usable");
        Assert.Contains("Project from-flag (from --project)", flagged.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_with_a_missing_input_fails_the_run_in_one_line_naming_the_file()
    {
        var result = await RunnerProcess.RunAsync(["run", "--input", _scratch.File("nope.csv"), "--out", _scratch.Path, "--run-id", "no-input"]);

        AssertOneLineWithoutTrace(result, "Run no-input FAILED in BuildStats: the input file");
        Assert.Contains(_scratch.File("nope.csv"), result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_without_an_emulator_says_how_to_start_one()
    {
        var result = await RunnerProcess.RunAsync(["serve", "--out", _scratch.Path]);

        AssertOneLineWithoutTrace(result, "serve needs the Pub/Sub emulator");
    }

    [Fact]
    public async Task Verbose_adds_the_stack_trace()
    {
        var result = await RunnerProcess.RunAsync(["trigger", "--verbose"], new Dictionary<string, string> { ["PUBSUB_EMULATOR_HOST"] = "127.0.0.1:9" });

        Assert.Equal(1, result.ExitCode);
        Assert.StartsWith("Not published: the emulator at 127.0.0.1:9 does not answer", result.Error, StringComparison.Ordinal);
        Assert.Contains("   at ", result.Error, StringComparison.Ordinal);
    }
}
