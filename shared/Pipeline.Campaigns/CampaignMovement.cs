using System.Globalization;
using System.Text;
using Pipeline.Analytics;
using Pipeline.Core;

namespace Pipeline.Campaigns;

/// <summary>
/// How a segment moved since the previous completed run, as the campaign writers use it: its growth or shrinkage,
/// where its newcomers came from, and, for a valuable segment, the customers who just left it for a less valuable one.
/// </summary>
/// <param name="PreviousCustomers">Its size last run; null when the segment is new this run.</param>
/// <param name="CameFrom">Newcomers by origin: another segment's name, or "new" (not segmented last time), largest first.</param>
/// <param name="LostTo">For a valuable segment: customers who moved to a segment that is not valuable, largest first.</param>
public sealed record SegmentMovementFacts(
    int CentroidId,
    string Segment,
    long Customers,
    long? PreviousCustomers,
    IReadOnlyList<(string From, long Customers)> CameFrom,
    IReadOnlyList<(string To, long Customers)> LostTo);

/// <summary>Turns a run's <see cref="SegmentMigration"/> into per-segment facts and into the context an LLM receives beside the lab's prompt.</summary>
public static class CampaignMovement
{
    /// <summary>Segments whose customers are worth a step of their own when they slip: high value or high frequency.</summary>
    public static IReadOnlySet<string> Valuable { get; } = new HashSet<string>(StringComparer.Ordinal)
    {
        SegmentCatalog.Champions, SegmentCatalog.LoyalCustomers, SegmentCatalog.BigSpenders, SegmentCatalog.PotentialLoyalists,
        SegmentCatalog.CantLoseThem,
    };

    public static bool IsValuable(string segment) => Valuable.Contains(SegmentCatalog.BaseName(segment));

    /// <summary>The facts of every current segment; empty for the first run (nothing to compare with).</summary>
    public static IReadOnlyList<SegmentMovementFacts> Facts(SegmentMigration? migration)
    {
        if (migration?.PreviousRunId is null) return [];
        var previousNames = migration.PreviousSegments.ToDictionary(s => s.CentroidId, s => s.Segment);
        var currentNames = migration.Segments.ToDictionary(s => s.CentroidId, s => s.Segment);
        return migration.Segments.Select(segment =>
        {
            var previous = migration.PreviousSegments.FirstOrDefault(p => p.CentroidId == segment.CentroidId);
            var cameFrom = migration.Flows
                .Where(f => f.To == segment.CentroidId && f.From != segment.CentroidId)
                .Select(f => (From: f.From is { } from ? previousNames.GetValueOrDefault(from, $"segment {from}") : SegmentMigration.NewRow, f.Customers))
                .OrderByDescending(f => f.Customers).ThenBy(f => f.From, StringComparer.Ordinal).ToList();
            var lostTo = IsValuable(previous?.Segment ?? segment.Segment)
                ? migration.Flows
                    .Where(f => f.From == segment.CentroidId && f.To is { } to && to != segment.CentroidId && !IsValuable(currentNames.GetValueOrDefault(to, "")))
                    .Select(f => (To: currentNames[f.To!.Value], f.Customers))
                    .OrderByDescending(f => f.Customers).ThenBy(f => f.To, StringComparer.Ordinal).ToList()
                : [];
            return new SegmentMovementFacts(segment.CentroidId, segment.Segment, segment.Customers, previous?.Customers, cameFrom, lostTo);
        }).ToList();
    }

    /// <summary>One sentence on a segment's size and newcomers since the previous run.</summary>
    public static string Describe(SegmentMovementFacts facts, DateOnly since)
    {
        var text = new StringBuilder();
        if (facts.PreviousCustomers is not { } before)
            text.Append(F($"New segment since {since:yyyy-MM-dd}: {facts.Customers:N0} customers."));
        else if (before == facts.Customers)
            text.Append(F($"Unchanged in size since {since:yyyy-MM-dd} ({facts.Customers:N0} customers)."));
        else
            text.Append(F($"{(facts.Customers > before ? "Grew" : "Shrank")} from {before:N0} to {facts.Customers:N0} customers since {since:yyyy-MM-dd} ({(double)(facts.Customers - before) / Math.Max(1, before):+0.0%;-0.0%})."));
        var newcomers = facts.CameFrom.Sum(c => c.Customers);
        if (newcomers > 0)
            text.Append(F($" {newcomers:N0} newcomers: ")).Append(string.Join(", ", facts.CameFrom.Take(3).Select(c =>
                c.From == SegmentMigration.NewRow ? F($"{c.Customers:N0} new to the segmentation") : F($"{c.Customers:N0} from {c.From}")))).Append('.');
        return text.ToString();
    }

    /// <summary>The step for the customers who just left a valuable segment, or null when none did.</summary>
    public static string? StepForMovers(SegmentMovementFacts facts, DateOnly since)
    {
        if (facts.LostTo.Count == 0) return null;
        var (to, customers) = facts.LostTo[0];
        return F($"Act on the {customers:N0} customers who moved from {facts.Segment} to {to} since {since:yyyy-MM-dd}: a personal \"we noticed you've been away\" message with their usual categories, sent now while the habit is recent (their ids: audiences/{BucketLayout.SegmentSlug(to)}.csv, previous_segment_id {facts.CentroidId} in predictions).");
    }

    /// <summary>
    /// The movement as context an LLM receives beside the lab's prompt (never inside it): one line per segment, and
    /// what to do with it. Null for the first run.
    /// </summary>
    public static string? Context(SegmentMigration? migration)
    {
        var facts = Facts(migration);
        if (facts.Count == 0 || migration?.PreviousAsOf is not { } since) return null;
        var text = new StringBuilder();
        text.Append(F($"Movement since the previous run ({since:yyyy-MM-dd}), by cluster number:\n"));
        foreach (var f in facts)
        {
            text.Append(F($"cluster {f.CentroidId} ({f.Segment}): ")).Append(Describe(f, since));
            foreach (var (to, customers) in f.LostTo)
                text.Append(F($" {customers:N0} customers moved from {f.Segment} to {to}."));
            text.Append('\n');
        }
        text.Append("Mention a segment's growth or shrinkage and where its newcomers came from in its persona; for a segment that lost valuable customers, add a next marketing step aimed at the customers who just moved, quoting their number.");
        return text.ToString();
    }

    /// <summary>The numbers the movement context quotes, which an LLM's answer may therefore quote too.</summary>
    public static IReadOnlyList<double> Numbers(SegmentMigration? migration)
    {
        var numbers = new List<double>();
        foreach (var f in Facts(migration))
        {
            numbers.Add(f.Customers);
            if (f.PreviousCustomers is { } before)
            {
                numbers.Add(before);
                numbers.Add(Math.Abs(f.Customers - before));
                numbers.Add(Math.Round(Math.Abs((double)(f.Customers - before)) / Math.Max(1, before) * 100, 1));
            }
            numbers.Add(f.CameFrom.Sum(c => c.Customers));
            numbers.AddRange(f.CameFrom.Select(c => (double)c.Customers));
            numbers.AddRange(f.LostTo.Select(c => (double)c.Customers));
        }
        if (migration?.PreviousAsOf is { } since) numbers.AddRange([since.Year, since.Month, since.Day]);
        return numbers;
    }

    private static string F(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
