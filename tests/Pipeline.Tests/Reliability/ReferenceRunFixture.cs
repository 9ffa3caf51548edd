using System.Text.Json.Nodes;
using Pipeline.Core;
using Pipeline.Embedded.SampleData;
using Pipeline.Runner;

namespace Pipeline.Tests.Reliability;

/// <summary>
/// Sample order items and one undisturbed run of them: what every disturbed run (killed, resumed, short of disk)
/// is compared with.
/// </summary>
public sealed class ReferenceRunFixture : IAsyncLifetime, IDisposable
{
    public const string RunId = "fault";
    private readonly TempDirectory _directory = new();

    public string Input => _directory.File("order_items.parquet");

    public string Bucket => _directory.File("reference");

    /// <summary>The <c>run</c> options of the run, without <c>--out</c>.</summary>
    public IReadOnlyList<string> RunArguments =>
        ["run", "--input", Input, "--run-id", RunId, "--window-start", "2025-01-01", "--window-end", "2026-01-01", "--k", "4", "--seed", "42"];

    public static JsonObject Trigger(string runId) => new()
    {
        ["run_id"] = runId,
        ["window_start"] = "2025-01-01",
        ["window_end"] = "2026-01-01",
        ["k"] = 4,
        ["seed"] = 42,
    };

    public async Task InitializeAsync()
    {
        await OrderItemsSample.WriteAsync(Input, new SampleOptions(Users: 2_000, Items: null, Seed: 11, EndDate: new DateOnly(2026, 1, 1)), null,
            CancellationToken.None);
        await using var pipeline = LocalPipeline.Create(Bucket, Input);
        var manifest = await pipeline.RunAsync(Trigger(RunId), CancellationToken.None);
        if (manifest.Status != RunStatus.Completed) throw new InvalidOperationException($"the reference run failed: {manifest.Error}");
    }

    public Task DisposeAsync() => Task.CompletedTask;

    public void Dispose() => _directory.Dispose();
}
