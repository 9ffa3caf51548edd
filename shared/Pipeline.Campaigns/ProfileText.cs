using System.Globalization;
using System.Text;
using Pipeline.Core;

namespace Pipeline.Campaigns;

/// <summary>
/// A segment's profile in words: who its customers are and what they buy ("mostly women aged 25–44 in China and the
/// United States, buying Jeans and Intimates, arriving from Search"), its channel, and the profile as context for
/// an LLM. Only cells that were not suppressed are ever named.
/// </summary>
public static class ProfileText
{
    /// <summary>Above this share, one gender is "mostly" the segment's.</summary>
    public const double MostlyShare = 0.55;

    /// <summary>The values of a breakdown that may be named: its published cells, largest first.</summary>
    public static IReadOnlyList<ProfileCell> Named(ProfileBreakdown? breakdown) =>
        breakdown?.Cells.Where(c => !c.Suppressed && c.Value != ProfileSql.Unknown).ToList() ?? [];

    /// <summary>"mostly women aged 25–44 in China and the United States, buying Jeans and Intimates, arriving from Search"; null with nothing to say.</summary>
    public static string? WhoTheyAre(SegmentProfile profile)
    {
        var parts = new List<string>();
        var genders = Named(profile.Gender);
        var gender = genders.Count > 0 ? genders[0] : null;
        var people = gender is null ? "customers"
            : gender.Share >= MostlyShare ? $"mostly {GenderWord(gender.Value)}"
            : "both women and men";
        var ages = AgeRange(Named(profile.AgeBands));
        var countries = Named(profile.Countries).Take(2).Select(c => Country(c.Value)).ToList();
        var who = new StringBuilder(people);
        if (ages is not null) who.Append(" aged ").Append(ages);
        if (countries.Count > 0) who.Append(" in ").Append(string.Join(" and ", countries));
        if (gender is not null || ages is not null || countries.Count > 0) parts.Add(who.ToString());

        var categories = TopCategories(profile);
        if (categories.Count > 0) parts.Add($"buying {string.Join(" and ", categories)}");
        if (Channel(profile) is { } channel) parts.Add($"arriving from {channel}");
        return parts.Count == 0 ? null : string.Join(", ", parts);
    }

    /// <summary>The segment's two largest categories by revenue.</summary>
    public static IReadOnlyList<string> TopCategories(SegmentProfile profile) => Named(profile.Categories).Take(2).Select(c => c.Value).ToList();

    /// <summary>The traffic source most of the segment arrived from.</summary>
    public static string? Channel(SegmentProfile profile) => Named(profile.TrafficSources) is [var first, ..] ? first.Value : null;

    /// <summary>How to reach customers who arrived from a traffic source.</summary>
    public static string Reach(string channel) => channel switch
    {
        "Search" => "search ads on their category terms",
        "Email" => "email",
        "Facebook" => "Facebook and Instagram ads",
        "Organic" => "organic content and social posts",
        "Display" => "display retargeting",
        _ => channel,
    };

    /// <summary>
    /// The profiles as context for an LLM, beside the lab's prompt: per cluster, its published shares with their index
    /// against all customers, and the rule that only these countries, categories and age bands may be named.
    /// </summary>
    public static string Context(ProfilesDocument profiles)
    {
        var text = new StringBuilder();
        text.Append("Who each cluster's customers are (share of the cluster; index = share ÷ share among all customers). ")
            .Append("Name no country, category or age band for a cluster unless it is listed for that cluster.\n");
        foreach (var p in profiles.Segments)
        {
            text.Append(CultureInfo.InvariantCulture,
                $"\nCluster {p.CentroidId} ({p.Segment}): {p.Customers} customers, {Percent(p.RevenueShare)} of revenue, average order value ${p.AverageOrderValue:0.00}");
            if (p.Margin is { } margin) text.Append(CultureInfo.InvariantCulture, $", margin per customer ${margin.MarginPerCustomer:0.00}");
            text.Append('\n');
            foreach (var (name, breakdown) in new[] { ("gender", p.Gender), ("age bands", p.AgeBands), ("countries", p.Countries),
                         ("traffic sources", p.TrafficSources), ("departments", p.Departments), ("categories", p.Categories), ("brands", p.Brands) })
            {
                var cells = Named(breakdown);
                if (cells.Count == 0) continue;
                text.Append(CultureInfo.InvariantCulture, $"- {name}: ")
                    .AppendJoin(", ", cells.Select(c => string.Create(CultureInfo.InvariantCulture,
                        $"{c.Value} {Percent(c.Share ?? 0)} (index {c.Index:0.00})")))
                    .Append('\n');
            }
        }
        foreach (var lacking in profiles.Lacking) text.Append(CultureInfo.InvariantCulture, $"\nNot known: {lacking}.");
        return text.ToString().TrimEnd() + "\n";
    }

    private static string Percent(double share) => string.Create(CultureInfo.InvariantCulture, $"{share * 100:0.#}%");

    private static string GenderWord(string value) => value switch
    {
        "F" => "women",
        "M" => "men",
        _ => value,
    };

    private static string Country(string value) => value == "United States" || value == "United Kingdom" ? $"the {value}" : value;

    /// <summary>
    /// The two largest age bands, as one range when they are neighbours ("25–44") or both named ("18–24 and 45–54").
    /// </summary>
    private static string? AgeRange(IReadOnlyList<ProfileCell> bands)
    {
        var top = bands.Take(2).Select(b => AgeBands.All.Select(a => a.Label).ToList().IndexOf(b.Value)).Where(i => i >= 0).Order().ToList();
        if (top.Count == 0) return null;
        if (top.Count == 1) return AgeBands.All[top[0]].Label;
        if (top[1] != top[0] + 1) return $"{AgeBands.All[top[0]].Label} and {AgeBands.All[top[1]].Label}";
        var from = AgeBands.All[top[0]].From;
        if (from == 0) return $"under {AgeBands.All[top[1] + 1].From.ToString(CultureInfo.InvariantCulture)}";
        return top[1] == AgeBands.All.Count - 1
            ? $"{from.ToString(CultureInfo.InvariantCulture)}+"
            : $"{from.ToString(CultureInfo.InvariantCulture)}–{(AgeBands.All[top[1] + 1].From - 1).ToString(CultureInfo.InvariantCulture)}";
    }
}
