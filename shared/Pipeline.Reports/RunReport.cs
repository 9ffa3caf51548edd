using Pipeline.Campaigns;
using Pipeline.Core;

namespace Pipeline.Reports;

/// <summary>
/// Everything <c>report.html</c> shows about one run, read from the bucket's files. Each part is null (or empty)
/// when its file does not exist, and the page then says so instead of leaving the section out.
/// </summary>
public sealed record RunReport(
    RunManifest Manifest,
    SegmentModel? Model,
    CampaignDocument? Campaign,
    SegmentFigures? Population,
    IReadOnlyList<SegmentFigures> Segments,
    IReadOnlyList<CustomerPoint> Points,
    IReadOnlyList<KScore> KScores,
    SegmentMigration? Migration,
    IReadOnlyList<RunSizes> SizeHistory,
    ProfilesDocument? Profiles)
{
    /// <summary>Customers in the run: the segments' sum, else what BuildStats counted.</summary>
    public long Customers => Segments.Count > 0
        ? Segments.Sum(s => s.Customers)
        : (long)Manifest.Metrics.GetValueOrDefault("customers");

    /// <summary>Whether <c>average_spend</c> is the average order value (<c>rfm</c>) or the lab's average item price.</summary>
    public bool SpendIsOrderValue => Manifest.Parameters?.Metrics != StatsPreset.Lab;
}

/// <summary>
/// One segment's figures from the predictions (or the whole population's, with <see cref="CentroidId"/> 0):
/// customers, revenue (orders × average spend, summed: what the customers spent in the window), and the RFM medians.
/// </summary>
public sealed record SegmentFigures(
    int CentroidId,
    string Segment,
    long Customers,
    double Revenue,
    double Orders,
    double MedianDaysSinceLastOrder,
    double MedianCountOrders,
    double MedianAverageSpend)
{
    /// <summary>Revenue per order: the average order value under <c>rfm</c>, the average item price under <c>lab</c>.</summary>
    public double AverageOrderValue => Orders > 0 ? Revenue / Orders : 0;
}

/// <summary>A customer drawn for the scatter charts: the three features and the segment.</summary>
public readonly record struct CustomerPoint(int CentroidId, double DaysSinceLastOrder, double CountOrders, double AverageSpend);

/// <summary>One candidate k of an automatic choice and its held-out Davies–Bouldin index (lower is better).</summary>
public sealed record KScore(int K, double DaviesBouldinIndex);

/// <summary>A run's segment sizes at its as-of date: one step of the chart of sizes over the last runs.</summary>
public sealed record RunSizes(string RunId, DateOnly AsOf, IReadOnlyList<SegmentSize> Segments);

/// <summary>A run as the index lists it: its manifest and its segment sizes (empty when it made none).</summary>
public sealed record RunSummary(RunManifest Manifest, IReadOnlyList<SegmentSize> Segments)
{
    public string RunId => Manifest.RunId;
    public DateOnly? AsOf => Manifest.Parameters?.AsOf;
    public long Customers => Segments.Count > 0 ? Segments.Sum(s => s.Customers) : (long)Manifest.Metrics.GetValueOrDefault("customers");
}
