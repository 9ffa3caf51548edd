using System.Globalization;
using System.Text.RegularExpressions;
using Pipeline.Campaigns;

namespace Pipeline.Gcp;

/// <summary>
/// Judges an LLM's campaign against the centroid table: every segment exactly once, no field empty, and every
/// number it quotes one of the table's (rounded to as many decimals as quoted) — a persona must not invent facts.
/// </summary>
public static partial class CampaignAnswerValidator
{
    // A number not glued to letters: "$1,234.56", "45%", "3.2 orders", "30-day"; not "B2B", "Q4" or "1st".
    [GeneratedRegex(@"(?<![\p{L}\d.,])\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![\p{L}\d])|(?<![\p{L}\d.,])\d+(?:\.\d+)?(?![\p{L}\d])")]
    private static partial Regex Number();

    /// <summary>What is wrong with the segments, or nothing.</summary>
    /// <param name="context">Numbers the writer was given besides the table (the movement), which it may quote too.</param>
    public static IReadOnlyList<string> Problems(IReadOnlyList<CampaignSegment> segments, IReadOnlyList<CentroidSummaryRow> table,
        IReadOnlyList<double>? context = null)
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
        known.AddRange(context ?? []);
        foreach (var segment in segments)
        {
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
