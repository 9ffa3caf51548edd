using System.Globalization;
using Pipeline.Analytics;
using Pipeline.Core;

namespace Pipeline.Campaigns;

/// <summary>
/// The built-in writer used when no LLM is configured: per segment, the segment's name as title, a persona that
/// follows from its RFM scores and quotes its own numbers, and the next marketing step from an RFM playbook.
/// Deterministic, offline, and always available as the fallback for an LLM answer that fails validation.
/// </summary>
public sealed class OfflineCampaignWriter : ICampaignWriter
{
    public const string Name = "offline";

    public Task<CampaignDraft> WriteAsync(CampaignRequest request, CancellationToken cancellationToken) =>
        Task.FromResult(Write(request));

    /// <summary>
    /// Each persona says who the segment's customers are and what they buy (from the profile); with a previous run it
    /// ends with the segment's growth or shrinkage and where its newcomers came from, and a valuable segment that lost
    /// customers gets a step aimed at those who just moved.
    /// </summary>
    public static CampaignDraft Write(CampaignRequest request)
    {
        var movement = CampaignMovement.Facts(request.Migration).ToDictionary(f => f.CentroidId);
        var since = request.Migration?.PreviousAsOf;
        return new(Name, null, request.Centroids.Select(row => Segment(row, request.Profiles?.For(row.CentroidId),
            since is not null ? movement.GetValueOrDefault(row.CentroidId) : null, since)).ToList(), []);
    }

    private static CampaignSegment Segment(CentroidSummaryRow row, SegmentProfile? profile, SegmentMovementFacts? moved, DateOnly? since)
    {
        var s = row.Score;
        var persona = Format(
            $"{row.Customers:N0} customers ({row.Share:P0} of the base) who last ordered {row.DaysSinceLastOrder:0} days ago on average, placed {row.CountOrders:0.0} orders each and spend ${row.AverageSpend:N2} on average. Recency {s.Recency}/5, frequency {s.Frequency}/5, monetary {s.Monetary}/5: {Recency(s.Recency)}, {Frequency(s.Frequency, row.CountOrders)}, {Monetary(s.Monetary)}.");
        persona += Who(profile);
        var step = NextStep(row) + Focus(profile);
        if (moved is not null && since is { } date)
        {
            persona = $"{persona} {CampaignMovement.Describe(moved, date)}";
            if (CampaignMovement.StepForMovers(moved, date) is { } movers) step = $"{step} {movers}";
        }
        return new CampaignSegment(row.CentroidId, row.Segment, persona, step);
    }

    /// <summary>Who they are and what they buy, from the profile: " Mostly women aged 25–44 in China …".</summary>
    private static string Who(SegmentProfile? profile) =>
        profile is not null && ProfileText.WhoTheyAre(profile) is { } who ? $" {char.ToUpperInvariant(who[0])}{who[1..]}." : "";

    /// <summary>The next step made concrete: the segment's own top categories and the channel it arrived from.</summary>
    private static string Focus(SegmentProfile? profile)
    {
        if (profile is null) return "";
        var categories = ProfileText.TopCategories(profile);
        var channel = ProfileText.Channel(profile);
        var lead = categories.Count > 0 ? $"Lead with {string.Join(" and ", categories)}, their top categories" : null;
        var reach = channel is null ? null : $"reach them through {ProfileText.Reach(channel)}, where most of them came from ({channel})";
        return (lead, reach) switch
        {
            (null, null) => "",
            ({ } l, null) => $" {l}.",
            (null, { } r) => $" {char.ToUpperInvariant(r[0])}{r[1..]}.",
            ({ } l, { } r) => $" {l}, and {r}.",
        };
    }

    private static string Recency(int score) => score switch
    {
        >= 4 => "recently active",
        3 => "active a while ago",
        _ => "drifting away",
    };

    /// <summary>
    /// The score is relative to the population, so where almost everyone buys once a score of 3 can still mean about
    /// one order: below <see cref="RepeatOrders"/> orders each, a segment is called what it is.
    /// </summary>
    private static string Frequency(int score, double countOrders) => countOrders < RepeatOrders ? "mostly one-time buyers" : score switch
    {
        >= 4 => "frequent buyers",
        3 => "occasional repeat buyers",
        _ => "mostly one-time buyers",
    };

    /// <summary>Fewer orders a customer than this on average is not "repeat buying", whatever the relative score.</summary>
    private const double RepeatOrders = 1.5;

    private static string Monetary(int score) => score switch
    {
        >= 4 => "high spenders",
        3 => "mid-range spenders",
        _ => "budget-minded",
    };

    private static string NextStep(CentroidSummaryRow r) => SegmentCatalog.BaseName(r.Segment) switch
    {
        SegmentCatalog.Champions => Format(
            $"Reward, don't discount: invite these {r.Customers:N0} customers to a VIP tier with early access to new arrivals and a referral bonus; at ${r.AverageSpend:N2} a visit they already pay full price."),
        SegmentCatalog.LoyalCustomers => Format(
            $"Deepen the habit: a points multiplier on their next order and cross-sell bundles built from their usual categories to lift the ${r.AverageSpend:N2} average."),
        SegmentCatalog.BigSpenders => Format(
            $"Turn big baskets into repeat visits: a personal thank-you with a curated premium edit, and a reorder reminder timed before day {Math.Max(14, r.DaysSinceLastOrder):0}."),
        SegmentCatalog.PotentialLoyalists => Format(
            $"Convert to loyalty: enrol them in the loyalty programme now, with a second-order incentive that expires in 30 days while their last order ({r.DaysSinceLastOrder:0} days ago) is fresh."),
        SegmentCatalog.NewCustomers => Format(
            $"Onboard: a welcome series (brand story, size and care guides, best sellers) and a modest incentive on the second order to move them past {r.CountOrders:0.0} orders."),
        SegmentCatalog.Promising => Format(
            $"Build awareness: recommendations based on their first purchase and free shipping over ${Math.Ceiling(r.AverageSpend * 1.2):0} to grow basket size."),
        SegmentCatalog.BargainHunters => Format(
            $"Sell value, not discounts: bundle offers and a free-shipping threshold just above their ${r.AverageSpend:N2} average, plus clearance alerts for the categories they buy."),
        SegmentCatalog.NeedAttention => Format(
            $"Re-engage before they slip: a limited-time offer in the categories they bought from and a short survey on what would bring them back; measure response within 14 days."),
        SegmentCatalog.AboutToSleep => Format(
            $"Wake them up: a \"we miss you\" email with popular new arrivals and a small time-boxed discount; {r.DaysSinceLastOrder:0} days since the last order is the moment."),
        // At Risk is named for recency and value; customers of about one order each are no "regulars".
        SegmentCatalog.AtRisk when r.CountOrders < RepeatOrders => Format(
            $"Win back before they forget the store: a personalised reactivation offer built on what they bought, sent by email and paid social retargeting, before the {r.DaysSinceLastOrder:0}-day gap grows."),
        SegmentCatalog.AtRisk => Format(
            $"Win back valuable regulars: a personalised reactivation offer referencing past favourites, sent by email and paid social retargeting, before the {r.DaysSinceLastOrder:0}-day gap grows."),
        SegmentCatalog.CantLoseThem => Format(
            $"Act now on the most valuable lapsed customers: a generous, personal win-back offer and a service call or feedback request; each spent ${r.AverageSpend:N2} on average."),
        SegmentCatalog.LapsedBigSpenders => Format(
            $"Recover high-value baskets: show what's new in the premium range with a one-time incentive, and suppress low-margin promotions for them."),
        SegmentCatalog.Hibernating => Format(
            $"Reactivate cheaply: include them in seasonal sale campaigns only, with relevant product recommendations; don't spend paid media on {r.Customers:N0} low-engagement customers."),
        SegmentCatalog.Lost => Format(
            $"Last try, then let go: one final win-back email with the strongest offer; those who don't respond leave the active mailing list to protect deliverability."),
        _ => Format($"Test a targeted offer on a sample of these {r.Customers:N0} customers and measure the lift before rolling it out."),
    };

    private static string Format(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
