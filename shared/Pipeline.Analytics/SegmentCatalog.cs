namespace Pipeline.Analytics;

/// <summary>A named RFM segment and the recency, frequency and monetary scores (1–5) of its typical customer.</summary>
public sealed record RfmSegment(string Name, double Recency, double Frequency, double Monetary);

/// <summary>
/// The named RFM segments a centroid can be called, after the usual RFM segmentation grid. Each centroid gets the
/// segment whose typical scores are nearest its own, every name at most once in a run.
/// </summary>
public static class SegmentCatalog
{
    public const string Champions = "Champions";
    public const string LoyalCustomers = "Loyal Customers";
    public const string BigSpenders = "Big Spenders";
    public const string PotentialLoyalists = "Potential Loyalists";
    public const string NewCustomers = "New Customers";
    public const string Promising = "Promising";
    public const string BargainHunters = "Bargain Hunters";
    public const string NeedAttention = "Need Attention";
    public const string AboutToSleep = "About to Sleep";
    public const string AtRisk = "At Risk";
    public const string CantLoseThem = "Can't Lose Them";
    public const string LapsedBigSpenders = "Lapsed Big Spenders";
    public const string Hibernating = "Hibernating";
    public const string Lost = "Lost";

    public static IReadOnlyList<RfmSegment> All { get; } =
    [
        new(Champions, 5, 5, 5),
        new(LoyalCustomers, 4, 5, 3),
        new(BigSpenders, 4, 3, 5),
        new(PotentialLoyalists, 5, 3, 3),
        new(NewCustomers, 5, 1.5, 2.5),
        new(Promising, 3.5, 1.5, 1.5),
        new(BargainHunters, 4, 4, 1),
        new(NeedAttention, 3, 3, 3),
        new(AboutToSleep, 2.5, 2, 2.5),
        new(AtRisk, 2, 4, 4),
        new(CantLoseThem, 1, 5, 5),
        new(LapsedBigSpenders, 1.5, 2, 5),
        new(Hibernating, 2, 1.5, 2),
        new(Lost, 1, 1, 1),
    ];

    /// <summary>
    /// The names that say a customer has lapsed, is lost or is at risk. The naming rule: a centroid with one of
    /// these names is never more recent (fewer days since the last order) than a centroid with any other name
    /// (those still active, or about to sleep) — so "Lapsed Big Spenders" never sits beside a more recent
    /// "About to Sleep".
    /// </summary>
    public static IReadOnlySet<string> Lapsed { get; } = new HashSet<string>(StringComparer.Ordinal)
    {
        AtRisk, CantLoseThem, LapsedBigSpenders, Hibernating, Lost,
    };

    /// <summary>Whether a (possibly numbered) segment name says lapsed, lost or at risk.</summary>
    public static bool IsLapsed(string segment) => Lapsed.Contains(BaseName(segment));

    /// <summary>The catalog name a (possibly numbered, e.g. "Lost 2") segment name was made from.</summary>
    public static string BaseName(string segment)
    {
        var space = segment.LastIndexOf(' ');
        return space > 0 && int.TryParse(segment.AsSpan(space + 1), out _) && All.All(s => s.Name != segment)
            ? segment[..space]
            : segment;
    }
}
