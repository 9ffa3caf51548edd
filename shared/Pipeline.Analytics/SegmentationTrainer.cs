using System.Globalization;
using Pipeline.Core;

namespace Pipeline.Analytics;

/// <summary>
/// Trains a run's segmentation in process with BigQuery ML's semantics: the deterministic hold-out split,
/// standardization from the training rows, K-means (k-means++, at most 20 iterations, 1 % early stop, best of
/// several starts), and ML.EVALUATE's metrics on the held-out customers.
/// </summary>
public static class SegmentationTrainer
{
    public const string Engine = "embedded-kmeans";

    /// <summary>The candidates for <c>"k": "auto"</c>.</summary>
    public static IReadOnlyList<int> AutoCandidates { get; } = [2, 3, 4, 5, 6, 7, 8];

    /// <summary>How many training rows auto-k fits each candidate on; the chosen k is then fitted on all rows.</summary>
    public const int AutoSampleRows = 100_000;

    /// <param name="progress">Told each K-means iteration and loss, per start (and per candidate k for "auto").</param>
    public static SegmentModel Train(CustomerFeatures customers, RunParameters parameters, SegmentModel? previous,
        KMeansOptions? options = null, IStageProgress? progress = null)
    {
        const int d = CustomerFeatures.Dimensions;
        customers = customers.OrderedByUserId();
        // Row indexes, not copies: the preparation below reads each side's rows where they are.
        var (test, training) = RowChunks.Partition(HoldOutSplit.HeldOut(customers.UserIds, parameters.Seed, parameters.TestFraction));

        var minimum = parameters.K ?? AutoCandidates[0];
        if (training.Length < minimum)
            throw new PermanentPipelineException(
                $"too few customers for k = {minimum}: {customers.Count} customers in the window, {training.Length} of them in the training split");

        // k segments need k different customers: with fewer, K-means would return duplicate centroids, named
        // and drawn as if they were different segments.
        var values = customers.Values;
        var distinct = training
            .Select(i => (values[i * d], values[i * d + 1], values[i * d + 2]))
            .Distinct().Take(RunParameters.MaxK + 1).Count();
        if (distinct < minimum)
            throw new PermanentPipelineException(
                $"too few distinct customers for k = {minimum}: the {training.Length} training customers have only {distinct} different " +
                $"combination(s) of {Features.DaysSinceLastOrder}, {Features.CountOrders} and {Features.AverageSpend}, e.g. " +
                string.Create(CultureInfo.InvariantCulture, $"({values[training[0] * d]}, {values[training[0] * d + 1]}, {values[training[0] * d + 2]})"));

        var standardization = StandardScaler.Fit(customers, training);
        var trainingColumns = StandardScaler.TransformToColumns(customers, standardization, training);
        // With very few customers the held-out split can be empty; then the metrics describe the training rows.
        var evaluationPoints = StandardScaler.Transform(customers, standardization, test.Length > 0 ? test : training);

        var (k, selection) = parameters.K is { } fixedK
            ? (fixedK, "fixed")
            : ChooseK(trainingColumns, evaluationPoints, parameters, options, distinct, progress);

        var fit = KMeans.Fit(trainingColumns, k, parameters.Seed, options, Reporter(progress, parameters.RunId,
            string.Create(CultureInfo.InvariantCulture, $"k-means k = {k},"), training.Length));
        var (daviesBouldin, meanSquaredDistance) = ClusterMetrics.Evaluate(evaluationPoints, fit.Centroids, d);
        var metrics = new ModelMetrics(Math.Round(daviesBouldin, 6), Math.Round(meanSquaredDistance, 6), Math.Round(fit.Loss, 6));
        var centroids = Enumerable.Range(0, k)
            .Select(c => StandardScaler.Inverse(fit.Centroids.AsSpan(c * d, d), standardization))
            .ToList();

        var draft = new ModelDraft(parameters.RunId, Engine, selection, standardization, centroids, metrics,
            fit.Iterations, training.Length, test.Length, parameters.Seed);
        return SegmentModelBuilder.Build(draft, PopulationProfile.FromFeatures(customers), previous);
    }

    /// <summary>Reports each K-means iteration as "{what} start s of n": iterations of the most allowed, and the loss.</summary>
    private static Action<KMeansIteration>? Reporter(IStageProgress? progress, string runId, string what, int rows) =>
        progress is not { Listening: true }
            ? null
            : i => progress.Report(new StageProgress(runId, Stages.TrainModel,
                string.Create(CultureInfo.InvariantCulture, $"{what} start {i.Start + 1} of {i.Starts} on {rows:N0} customers"),
                i.Iteration, i.MaxIterations, "iterations", string.Create(CultureInfo.InvariantCulture, $"loss {i.Loss:0.000000}"), i.Last));

    /// <summary>
    /// The model-selection rule for "auto": fit each candidate k on (a sample of) the training rows and keep the
    /// one with the lowest Davies–Bouldin index on the held-out rows; ties go to the smaller k.
    /// </summary>
    private static (int K, string Selection) ChooseK(double[][] training, double[] evaluation, RunParameters parameters, KMeansOptions? options,
        int distinct, IStageProgress? progress)
    {
        const int d = CustomerFeatures.Dimensions;
        var rows = training[0].Length;
        var sample = training;
        if (rows > AutoSampleRows)
        {
            // Every n-th row: deterministic, and the rows are already in no particular order.
            var step = (double)rows / AutoSampleRows;
            sample = new double[d][];
            for (var f = 0; f < d; f++)
            {
                sample[f] = new double[AutoSampleRows];
                for (var i = 0; i < AutoSampleRows; i++) sample[f][i] = training[f][(int)(i * step)];
            }
        }

        var scores = new List<(int K, double Index)>();
        var sampleRows = sample[0].Length;
        foreach (var k in AutoCandidates.Where(k => k <= sampleRows && k <= distinct))
        {
            var fit = KMeans.Fit(sample, k, parameters.Seed, options, Reporter(progress, parameters.RunId,
                string.Create(CultureInfo.InvariantCulture, $"choosing k: k = {k},"), sampleRows));
            scores.Add((k, ClusterMetrics.DaviesBouldin(evaluation, fit.Centroids, d)));
        }
        var best = scores.OrderBy(s => Math.Round(s.Index, 9)).ThenBy(s => s.K).First();
        var table = string.Join(", ", scores.Select(s => string.Create(CultureInfo.InvariantCulture, $"k={s.K}: {s.Index:0.###}")));
        return (best.K, $"auto: lowest Davies-Bouldin index on held-out customers ({table})");
    }
}
