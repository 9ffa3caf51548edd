using System.Globalization;
using System.Text.RegularExpressions;
using Pipeline.Campaigns;
using Pipeline.Core;

namespace Pipeline.Gcp;

/// <summary>
/// Judges an LLM's campaign against the centroid table: every segment exactly once, no field empty, and every
/// number it quotes one of the table's or the profiles' (rounded to as many decimals as quoted), and no country,
/// category or age band named for a segment that its profile does not list — a persona must not invent facts.
/// </summary>
public static partial class CampaignAnswerValidator
{
    // A number not glued to letters: "$1,234.56", "45%", "3.2 orders", "30-day"; not "B2B", "Q4" or "1st".
    [GeneratedRegex(@"(?<![\p{L}\d.,])\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![\p{L}\d])|(?<![\p{L}\d.,])\d+(?:\.\d+)?(?![\p{L}\d])")]
    private static partial Regex Number();

    /// <summary>What is wrong with the segments, or nothing.</summary>
    /// <param name="profiles">Who each segment's customers are: their numbers may be quoted, and a country, category or
    /// age band outside a segment's profile may not be named.</param>
    /// <param name="context">Numbers the writer was given besides the table (the movement), which it may quote too.</param>
    public static IReadOnlyList<string> Problems(IReadOnlyList<CampaignSegment> segments, IReadOnlyList<CentroidSummaryRow> table,
        ProfilesDocument? profiles = null, IReadOnlyList<double>? context = null)
    {
        var problems = new List<string>();
        var expected = table.Select(r => r.CentroidId).ToHashSet();
        foreach (var group in segments.GroupBy(s => s.CentroidId))
        {
            if (!expected.Contains(group.Key)) problems.Add($"segment {group.Key} is not in the centroid table");
            else if (group.Count() > 1) problems.Add($"segment {group.Key} appears {group.Count()} times");
        }
        var missing = expected.Except(segments.Select(s => s.CentroidId)).Order().ToList();
        if (missing.Count > 0) problems.Add($"segment{(missing.Count > 1 ? "s" : "")} {string.Join(", ", missing)} missing");

        var known = KnownNumbers(table);
        if (profiles is not null) known.AddRange(ProfileNumbers(profiles));
        known.AddRange(context ?? []);
        var vocabulary = profiles is null ? [] : Vocabulary(profiles);
        foreach (var segment in segments)
        {
            if (profiles?.For(segment.CentroidId) is { } profile)
                problems.AddRange(Unlisted(segment, profile, vocabulary));
            foreach (var (field, text) in new[] { ("title", segment.Title), ("persona", segment.Persona), ("next_marketing_step", segment.NextMarketingStep) })
            {
                if (string.IsNullOrWhiteSpace(text))
                {
                    problems.Add($"segment {segment.CentroidId} has an empty {field}");
                    continue;
                }
                foreach (Match match in Number().Matches(text))
                    if (!IsKnown(match.Value, known))
                        problems.Add($"segment {segment.CentroidId}'s {field} quotes {match.Value}, which is not in the centroid table");
            }
        }
        return problems;
    }

    /// <summary>The table's values as people quote them: ids, counts, centroid coordinates, shares as percentages.</summary>
    private static List<double> KnownNumbers(IReadOnlyList<CentroidSummaryRow> table)
    {
        var known = new List<double> { table.Count };
        foreach (var row in table)
            known.AddRange([row.CentroidId, row.AverageSpend, row.CountOrders, row.DaysSinceLastOrder, row.Customers, row.Share * 100,
                row.Score.Recency, row.Score.Frequency, row.Score.Monetary]);
        return known;
    }

    /// <summary>Every country, category and age band any profile lists: the names a persona may only use where listed.</summary>
    private static HashSet<string> Vocabulary(ProfilesDocument profiles) =>
        [.. profiles.Segments.Append(profiles.Population).SelectMany(Profiled).Select(c => c.Value), .. AgeBands.All.Select(a => a.Label)];

    private static IEnumerable<ProfileCell> Profiled(SegmentProfile p) =>
        new[] { p.Countries, p.Categories, p.AgeBands }.SelectMany(b => b?.Cells ?? []).Where(c => c.Value != ProfileSql.Unknown);

    /// <summary>Countries, categories and age bands the segment's texts name that its profile does not list (or suppressed).</summary>
    private static IEnumerable<string> Unlisted(CampaignSegment segment, SegmentProfile profile, HashSet<string> vocabulary)
    {
        var listed = Profiled(profile).Where(c => !c.Suppressed).Select(c => c.Value).ToHashSet(StringComparer.Ordinal);
        foreach (var (field, text) in new[] { ("title", segment.Title), ("persona", segment.Persona), ("next_marketing_step", segment.NextMarketingStep) })
        {
            var plain = Dashes().Replace(text, "–");
            foreach (var value in vocabulary.Where(v => !listed.Contains(v) && Names(plain, v)))
                yield return $"segment {segment.CentroidId}'s {field} names {value}, which its profile does not list";
        }
    }

    /// <summary>
    /// Whether the text names the value: whole words, as written (a category is a proper name there), and not
    /// merely as the first word of a sentence ("Active shoppers …" is not the category Active).
    /// </summary>
    private static bool Names(string text, string value)
    {
        for (var at = text.IndexOf(value, StringComparison.Ordinal); at >= 0; at = text.IndexOf(value, at + 1, StringComparison.Ordinal))
        {
            var end = at + value.Length;
            if (at > 0 && char.IsLetterOrDigit(text[at - 1])) continue;
            if (end < text.Length && char.IsLetterOrDigit(text[end])) continue;
            var before = text[..at].TrimEnd();
            if (char.IsLetter(value[0]) && (before.Length == 0 || before[^1] is '.' or '!' or '?' or ':' or '"')) continue;
            return true;
        }
        return false;
    }

    [GeneratedRegex(@"(?<=\d)\s*(?:-|—|to)\s*(?=\d)")]
    private static partial Regex Dashes();

    /// <summary>The profiles' numbers as people quote them: shares as percentages, indexes, counts, money.</summary>
    private static IEnumerable<double> ProfileNumbers(ProfilesDocument profiles)
    {
        foreach (var p in profiles.Segments.Append(profiles.Population))
        {
            yield return p.Customers;
            yield return p.Orders;
            yield return p.Revenue;
            yield return p.RevenueShare * 100;
            yield return p.RevenueIndex;
            yield return p.AverageOrderValue;
            foreach (var q in new[] { p.Rfm.DaysSinceLastOrder, p.Rfm.CountOrders, p.Rfm.AverageSpend })
            {
                yield return q.Q1;
                yield return q.Median;
                yield return q.Q3;
            }
            if (p.Margin is { } m)
            {
                yield return m.MarginPerCustomer;
                yield return m.MarginRate * 100;
                yield return m.Margin;
            }
            foreach (var cell in new[] { p.Gender, p.AgeBands, p.Countries, p.TrafficSources, p.Departments, p.Categories, p.Brands }
                         .SelectMany(b => b?.Cells ?? []).Where(c => !c.Suppressed))
            {
                if (cell.Share is { } share) yield return share * 100;
                if (cell.Index is { } index) yield return index;
                if (cell.Customers is { } customers) yield return customers;
                if (cell.Revenue is { } revenue) yield return revenue;
            }
        }
        // Age bands' bounds ("25–44") are numbers a persona may quote.
        foreach (var band in AgeBands.All)
        {
            yield return band.From;
            yield return band.From - 1;
        }
    }

    private static bool IsKnown(string quoted, List<double> known)
    {
        var plain = quoted.Replace(",", "", StringComparison.Ordinal);
        var value = double.Parse(plain, NumberStyles.Float, CultureInfo.InvariantCulture);
        var point = plain.IndexOf('.', StringComparison.Ordinal);
        var decimals = point < 0 ? 0 : plain.Length - point - 1;
        // "119.6" may be quoted as 120, 119.6 or 119.60: anything the value rounds to at the quoted precision.
        var tolerance = 0.5 * Math.Pow(10, -decimals) + 1e-9;
        if (known.Any(k => Math.Abs(k - value) <= tolerance)) return true;
        // A round figure for a large value ("about 2,000 customers" for 1,987) may keep one to three significant digits;
        // small numbers must match as they are, or "20%" would pass for a 15 % share.
        return decimals == 0 && value >= 100 && value % 10 == 0 &&
            known.Any(k => k >= 100 && Enumerable.Range(1, 3).Any(digits => Math.Abs(RoundToSignificant(k, digits) - value) < 1e-9));
    }

    private static double RoundToSignificant(double value, int digits)
    {
        if (value == 0) return 0;
        var scale = Math.Pow(10, Math.Floor(Math.Log10(Math.Abs(value))) + 1 - digits);
        return Math.Round(value / scale, MidpointRounding.AwayFromZero) * scale;
    }
}
