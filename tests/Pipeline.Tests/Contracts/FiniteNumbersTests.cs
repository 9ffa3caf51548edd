using Microsoft.Extensions.Logging.Abstractions;
using Pipeline.Core;
using Pipeline.Embedded;

namespace Pipeline.Tests.Contracts;

/// <summary>
/// The last line of defence: a stage about to write a non-finite number fails permanently, naming the stage, the
/// object and the field, and writes nothing. The engine here stands for a backend (BigQuery ML) whose answer holds
/// a NaN; input validation keeps the embedded engine from ever producing one.
/// </summary>
public sealed class FiniteNumbersTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    private static readonly RunParameters Parameters = new("r1", new(2025, 1, 1), new(2026, 1, 1), new(2026, 1, 1), 2, StatsPreset.Rfm, 42, 0.2);

    private static SegmentModel Model(double spend) => new("r1", "bigquery-ml", 2, "fixed", Features.All,
        new Standardization([100, 1.5, 80], [50, 0.5, 40]),
        [new Centroid(1, "Champions", 20, 2, 120, new RfmScore(5, 5, 5)), new Centroid(2, "Lost", 300, 1, spend, new RfmScore(1, 1, 1))],
        new ModelMetrics(1.1, 0.9, 0.8), 7, 80, 20, 42, null);

    /// <summary>A backend that answers with the given model.</summary>
    private sealed class AnsweringEngine(SegmentModel model) : ISegmentationEngine
    {
        public Task<SegmentModel> TrainAsync(RunParameters parameters, SegmentModel? previous, CancellationToken cancellationToken) => Task.FromResult(model);
        public Task<IReadOnlyList<SegmentSize>> PredictAsync(RunParameters parameters, SegmentModel m, CancellationToken cancellationToken) => throw new NotSupportedException();
        public Task<IReadOnlyList<ChartPoint>> SampleForChartAsync(RunParameters parameters, int maxPoints, CancellationToken cancellationToken) => throw new NotSupportedException();
        public Task<SegmentMovement> MovementAsync(RunParameters parameters, SegmentModel m, IReadOnlyList<SegmentSize> sizes, CancellationToken cancellationToken) => throw new NotSupportedException();
        public Task<IReadOnlyList<AudienceFile>> WriteAudiencesAsync(RunParameters parameters, SegmentModel m, CancellationToken cancellationToken) => throw new NotSupportedException();
    }

    [Theory]
    [InlineData(double.NaN, "NaN")]
    [InlineData(double.PositiveInfinity, "Infinity")]
    public async Task TrainModel_refuses_to_write_a_model_with_a_non_finite_centroid(double spend, string shown)
    {
        var bucket = new FileSystemBucket(_directory.Path);
        var ledger = new RunLedger(bucket, TimeProvider.System);
        var bus = new InProcessBus(NullLogger<InProcessBus>.Instance);
        var executor = new StageExecutor(ledger, bus, TimeProvider.System, NullLogger<StageExecutor>.Instance);
        var function = new Functions.TrainModel.Function(executor, new AnsweringEngine(Model(spend)), new SegmentModelStore(bucket, ledger));

        await function.HandleAsync(new PipelineMessage(PipelineJson.Serialize(new StatsReady("r1", Parameters, BucketLayout.CustomerStats("r1"), 100)),
            new Dictionary<string, string> { ["run_id"] = "r1" }, "m1", DateTimeOffset.UtcNow), CancellationToken.None);

        var manifest = await ledger.GetAsync("r1", CancellationToken.None);
        Assert.Equal(RunStatus.Failed, manifest!.Status);
        Assert.Equal(Stages.TrainModel, manifest.Error!.Stage);
        Assert.Equal($"TrainModel refused to write runs/r1/model.json: centroid 2 average_spend is not a finite number in 1 place(s), e.g. {shown}; " +
                     "check the input for NaN, infinite or absurdly large values", manifest.Error.Reason);
        Assert.Single(bus.Published, p => p.Topic == Topics.RunFailed);
        Assert.DoesNotContain(bus.Published, p => p.Topic == Topics.ModelTrained);
        Assert.False(File.Exists(Path.Combine(_directory.Path, BucketLayout.Model("r1"))));
    }

    [Fact]
    public void Every_number_of_a_model_is_checked_and_named()
    {
        var model = Model(120) with { Metrics = new ModelMetrics(double.NaN, 0.9, 0.8) };
        var error = Assert.Throws<PermanentPipelineException>(() => FiniteNumbers.Require(Stages.TrainModel, "model.json", model));
        Assert.Contains("metrics.davies_bouldin_index is not a finite number", error.Message, StringComparison.Ordinal);

        FiniteNumbers.Require(Stages.TrainModel, "model.json", Model(120)); // a finite model passes
    }
}
