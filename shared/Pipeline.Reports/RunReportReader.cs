using System.Globalization;
using System.Text.RegularExpressions;
using DuckDB.NET.Data;
using Pipeline.Campaigns;
using Pipeline.Core;
using Pipeline.Embedded;

namespace Pipeline.Reports;

/// <summary>
/// Reads what a run's report shows from the bucket: the manifest, <c>model.json</c>, <c>campaign.json</c>, the
/// predictions' Parquet parts (segment figures and a sample of customers, through DuckDB), and the sizes of the
/// runs before it. A file that does not exist leaves its part empty; a file that exists but cannot be read is an error.
/// </summary>
public sealed partial class RunReportReader(IBucket bucket, RunLedger ledger)
{
    /// <summary>About how many customers the scatter charts draw: enough for each segment's shape, small enough for a page.</summary>
    public const int ScatterPoints = 2_400;

    /// <summary>The fewest customers drawn for a segment, so that a small segment still shows.</summary>
    public const int MinPointsPerSegment = 60;

    /// <summary>How many runs the chart of segment sizes over time goes back.</summary>
    public const int HistoryRuns = 12;

    public async Task<RunReport> ReadAsync(string runId, CancellationToken cancellationToken)
    {
        var manifest = await ledger.GetAsync(runId, cancellationToken)
            ?? throw new PermanentPipelineException($"run {runId} has no manifest ({bucket.Describe(BucketLayout.Manifest(runId))})");
        var model = await ReadJsonAsync<SegmentModel>(BucketLayout.Model(runId), cancellationToken);
        var campaign = await ReadJsonAsync<CampaignDocument>(BucketLayout.CampaignJson(runId), cancellationToken);

        SegmentFigures? population = null;
        IReadOnlyList<SegmentFigures> segments = [];
        IReadOnlyList<CustomerPoint> points = [];
        if (await HasPartsAsync(BucketLayout.Predictions(runId), cancellationToken))
        {
            using var parts = await bucket.OpenLocalPartsAsync(BucketLayout.Predictions(runId), cancellationToken);
            using var connection = DuckDb.Open(new EmbeddedOptions());
            var table = DuckDb.ReadParquet(parts);
            (population, segments) = ReadFigures(connection, table);
            points = ReadPoints(connection, table, segments);
        }

        return new RunReport(manifest, model, campaign, population, segments, points,
            model is null ? [] : KScores(model.KSelection),
            await ReadJsonAsync<SegmentMigration>(BucketLayout.MigrationJson(runId), cancellationToken),
            await ReadSizeHistoryAsync(manifest, segments, cancellationToken),
            await ReadJsonAsync<ProfilesDocument>(BucketLayout.Profiles(runId), cancellationToken));
    }

    /// <summary>
    /// The last <see cref="HistoryRuns"/> completed runs up to this one, from <c>history.json</c>, oldest first, and
    /// this run at the end when history does not hold it (a held run, or one whose history is not written yet).
    /// </summary>
    private async Task<IReadOnlyList<RunSizes>> ReadSizeHistoryAsync(RunManifest manifest, IReadOnlyList<SegmentFigures> segments,
        CancellationToken cancellationToken)
    {
        var history = await ReadJsonAsync<RunHistory>(BucketLayout.History, cancellationToken) ?? RunHistory.Empty;
        var asOf = manifest.Parameters?.AsOf;
        var runs = history.Runs
            .Where(r => r.RunId != manifest.RunId && (asOf is null || r.AsOf <= asOf))
            .Select(r => new RunSizes(r.RunId, r.AsOf, [.. r.Segments.Select(s => new SegmentSize(s.CentroidId, s.Segment, s.Customers))]))
            .ToList();
        if (asOf is { } date && segments.Count > 0)
            runs.Add(new RunSizes(manifest.RunId, date, [.. segments.Select(s => new SegmentSize(s.CentroidId, s.Segment, s.Customers))]));
        return runs.TakeLast(HistoryRuns).ToList();
    }

    /// <summary>
    /// The candidates of an automatic choice of k, from <c>model.json</c>'s <c>k_selection</c>
    /// (<c>auto: … (k=2: 0.91, k=3: 0.84, …)</c>); empty when k was given.
    /// </summary>
    public static IReadOnlyList<KScore> KScores(string selection) =>
        !selection.StartsWith("auto", StringComparison.Ordinal)
            ? []
            : [.. KScorePattern().Matches(selection).Select(m => new KScore(
                int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture),
                double.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture)))];

    [GeneratedRegex(@"k=(\d+): ([0-9.eE+-]+)")]
    private static partial Regex KScorePattern();

    private async Task<bool> HasPartsAsync(string prefix, CancellationToken cancellationToken) =>
        (await bucket.ListAsync(prefix, cancellationToken)).Any(n => BucketLayout.IsPart(prefix, n));

    private async Task<T?> ReadJsonAsync<T>(string objectName, CancellationToken cancellationToken) where T : class
    {
        var stored = await bucket.TryReadAsync(objectName, cancellationToken);
        if (stored is null) return null;
        try
        {
            return PipelineJson.Deserialize<T>(stored.Content);
        }
        catch (System.Text.Json.JsonException e)
        {
            throw new InvalidDataException($"{bucket.Describe(objectName)} is not a readable {typeof(T).Name}: {e.Message}", e);
        }
    }

    /// <summary>
    /// The whole population's figures (<see cref="SegmentFigures.CentroidId"/> 0; null when there is no customer) and
    /// each segment's, by id: the counts, sums and medians from one read of the predictions' features into arrays
    /// (<see cref="SegmentQuantiles.ReadColumns"/>), the segments' names from a second scan of two small columns.
    /// </summary>
    internal static (SegmentFigures? Population, List<SegmentFigures> Segments) ReadFigures(DuckDBConnection connection, string table)
    {
        var columns = SegmentQuantiles.ReadColumns(connection, table, Features.All);
        var medians = columns.Quantiles([0.5]);
        var names = new Dictionary<long, string>();
        using (var command = DuckDb.Command(connection, $"SELECT CAST(centroid_id AS BIGINT), any_value(segment) FROM {table} GROUP BY centroid_id"))
        using (var reader = command.ExecuteReader())
            while (reader.Read()) names[reader.GetInt64(0)] = reader.GetString(1);

        // Revenue is orders × average spend summed, orders summed: as SQL's SUM, a null (NaN) is left out, and a sum of nothing is null (NaN).
        var (orders, spend) = (columns.Values[1], columns.Values[2]); // Features.All: days, orders, spend
        var ids = columns.CentroidIds;
        // By id: the medians above already refused an id outside 1 to GroupQuantiles.MaxGroup.
        var totals = new Totals[ids.Length == 0 ? 0 : ids.Max() + 1];
        var everyone = new Totals();
        for (var i = 0; i < ids.Length; i++)
        {
            totals[ids[i]].Add(orders[i], spend[i]);
            everyone.Add(orders[i], spend[i]);
        }

        SegmentFigures Figures(int id, string name, Totals sums)
        {
            var median = medians.GetValueOrDefault(id);
            double Median(int feature) => median is null ? double.NaN : median[feature][0];
            return new SegmentFigures(id, name, sums.Customers, sums.Revenue, sums.Orders, Median(0), Median(1), Median(2));
        }
        var population = everyone.Customers > 0 ? Figures(0, "All customers", everyone) : null;
        var segments = Enumerable.Range(0, totals.Length)
            .Where(id => totals[id].Customers > 0)
            .Select(id => Figures(id, names[id], totals[id]))
            .ToList();
        return (population, segments);
    }

    /// <summary>A group's customers and its sums, each NaN while nothing is added to it (SQL's SUM of nothing is null).</summary>
    private struct Totals
    {
        private double _revenue, _orders;
        private bool _anyRevenue, _anyOrders;

        public long Customers { get; private set; }
        public readonly double Revenue => _anyRevenue ? _revenue : double.NaN;
        public readonly double Orders => _anyOrders ? _orders : double.NaN;

        public void Add(double orders, double spend)
        {
            Customers++;
            if (double.IsNaN(orders)) return;
            (_orders, _anyOrders) = (_orders + orders, true);
            if (double.IsNaN(spend)) return;
            (_revenue, _anyRevenue) = (_revenue + orders * spend, true);
        }
    }

    /// <summary>
    /// A deterministic sample (each segment's first customers in hash order): each segment in proportion to its size,
    /// but at least <see cref="MinPointsPerSegment"/> customers, so that a small segment is still seen.
    /// </summary>
    private static List<CustomerPoint> ReadPoints(DuckDBConnection connection, string table, IReadOnlyList<SegmentFigures> segments)
    {
        var everyone = segments.Sum(s => s.Customers);
        var sizes = segments.ToDictionary(s => s.CentroidId, s => s.Customers);
        var quotas = segments.ToDictionary(s => s.CentroidId,
            s => Math.Min(s.Customers, Math.Max(MinPointsPerSegment, (long)Math.Ceiling((double)(ScatterPoints * s.Customers) / everyone))));
        return HashOrderSample.Read(connection, table,
            "days_since_last_order::DOUBLE, count_orders::DOUBLE, average_spend::DOUBLE, centroid_id", sizes, quotas,
            reader => new CustomerPoint(Convert.ToInt32(reader.GetValue(3), CultureInfo.InvariantCulture),
                Number(reader, 0), Number(reader, 1), Number(reader, 2)),
            point => point.CentroidId);
    }

    private static double Number(System.Data.Common.DbDataReader reader, int column) =>
        reader.IsDBNull(column) ? double.NaN : Convert.ToDouble(reader.GetValue(column), CultureInfo.InvariantCulture);
}
