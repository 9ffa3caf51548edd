using System.Globalization;
using System.Text;
using Pipeline.Core;

namespace Pipeline.Campaigns;

/// <summary>The centroid summary: the model's centroids with each segment's size and share.</summary>
public static class CentroidSummary
{
    /// <summary>The centroid table as the lab has it (each value rounded to 2 decimals, as <c>ROUND(x, 2)</c>), with sizes.</summary>
    public static IReadOnlyList<CentroidSummaryRow> Build(SegmentModel model, IReadOnlyList<SegmentSize> sizes)
    {
        var total = sizes.Sum(s => s.Customers);
        return model.Centroids
            .OrderBy(c => c.CentroidId)
            .Select(c =>
            {
                var customers = sizes.FirstOrDefault(s => s.CentroidId == c.CentroidId)?.Customers ?? 0;
                return new CentroidSummaryRow(c.CentroidId, c.Segment, CampaignPrompt.Round(c.AverageSpend), CampaignPrompt.Round(c.CountOrders),
                    CampaignPrompt.Round(c.DaysSinceLastOrder), customers, total > 0 ? Math.Round((double)customers / total, 4) : 0, c.Score);
            })
            .ToList();
    }

    /// <summary><c>centroids.csv</c>: centroid, average_spend, count_orders, days_since_last_order, customers, share, segment.</summary>
    public static byte[] ToCsv(IReadOnlyList<CentroidSummaryRow> rows)
    {
        var csv = new StringBuilder("centroid,average_spend,count_orders,days_since_last_order,customers,share,segment\n");
        foreach (var r in rows)
            csv.Append(CultureInfo.InvariantCulture,
                $"{r.CentroidId},{r.AverageSpend:0.00},{r.CountOrders:0.00},{r.DaysSinceLastOrder:0.0},{r.Customers},{r.Share:0.0000},{Quote(r.Segment)}\n");
        return Encoding.UTF8.GetBytes(csv.ToString());
    }

    private static string Quote(string value) =>
        value.IndexOfAny([',', '"', '\n']) >= 0 ? $"\"{value.Replace("\"", "\"\"", StringComparison.Ordinal)}\"" : value;
}

/// <summary>
/// The prompt the lab sent to its LLM (text-bison), byte for byte (CONTRACT.md, "The lab's centroid table and
/// prompt"): a leading newline, the creative brand strategist instruction, "Clusters:", one line per cluster of the
/// centroid table (rounded to 2 decimals, values written as Python's <c>str()</c> writes a float), the "For each
/// Cluster" tail and a trailing newline. What a writer adds is saved beside it, never mixed in.
/// </summary>
public static class CampaignPrompt
{
    public const string Instruction =
        "You're a creative brand strategist, given the following clusters, come up with creative brand persona, a catchy title, and next marketing action, explained step by step.";

    private const string Tail = "For each Cluster:\n* Title:\n* Persona:\n* Next marketing step:";

    /// <param name="rows">The centroid table, already rounded to 2 decimals (<see cref="CentroidSummary.Build"/>).</param>
    public static string Build(IReadOnlyList<CentroidSummaryRow> rows)
    {
        var clusters = string.Join("\n", rows.OrderBy(r => r.CentroidId).Select(r =>
            $"cluster {r.CentroidId.ToString(CultureInfo.InvariantCulture)}, average spend ${PythonFloat(r.AverageSpend)}, " +
            $"count of orders per person {PythonFloat(r.CountOrders)}, days since last order {PythonFloat(r.DaysSinceLastOrder)}"));
        return $"\n{Instruction}\n\nClusters:\n{clusters}\n\n{Tail}\n";
    }

    /// <summary>BigQuery's <c>ROUND(x, 2)</c>: halves away from zero.</summary>
    public static double Round(double value) => Math.Round(value, 2, MidpointRounding.AwayFromZero);

    /// <summary>
    /// A double as Python's <c>str()</c> (<c>repr</c>) writes it: the shortest digits that read back the same, always
    /// with a decimal point (2.0), in scientific notation (1e+16, 1e-05) only below 1e-4 or from 1e16.
    /// </summary>
    public static string PythonFloat(double value)
    {
        if (double.IsNaN(value)) return "nan";
        if (double.IsInfinity(value)) return value > 0 ? "inf" : "-inf";
        var sign = value < 0 || (value == 0 && double.IsNegative(value)) ? "-" : "";
        var text = Math.Abs(value).ToString("R", CultureInfo.InvariantCulture);
        var exponent = 0;
        var e = text.IndexOf('E', StringComparison.Ordinal);
        if (e >= 0)
        {
            exponent = int.Parse(text[(e + 1)..], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
            text = text[..e];
        }
        var point = text.IndexOf('.', StringComparison.Ordinal);
        var integerDigits = point < 0 ? text.Length : point;
        var all = text.Replace(".", "", StringComparison.Ordinal);
        var significant = all.TrimStart('0');
        // The power of ten of the first significant digit.
        var magnitude = integerDigits + exponent - (all.Length - significant.Length) - 1;
        significant = significant.TrimEnd('0');
        if (significant.Length == 0) return sign + "0.0";

        if (magnitude < -4 || magnitude >= 16)
        {
            var mantissa = significant.Length == 1 ? significant : $"{significant[0]}.{significant[1..]}";
            return string.Create(CultureInfo.InvariantCulture, $"{sign}{mantissa}e{(magnitude < 0 ? '-' : '+')}{Math.Abs(magnitude):00}");
        }
        if (magnitude < 0) return $"{sign}0.{new string('0', -magnitude - 1)}{significant}";
        var digits = significant.PadRight(magnitude + 1, '0');
        var fraction = digits[(magnitude + 1)..];
        return $"{sign}{digits[..(magnitude + 1)]}.{(fraction.Length == 0 ? "0" : fraction)}";
    }
}

/// <summary><c>campaign.md</c>: the campaign for people to read.</summary>
public static class CampaignMarkdown
{
    public static byte[] Render(CampaignDocument document)
    {
        var md = new StringBuilder();
        md.Append(CultureInfo.InvariantCulture, $"# Customer segments and next marketing steps — run {document.RunId}\n\n");
        md.Append(CultureInfo.InvariantCulture, $"Written by the {document.Writer} writer{(document.Model is null ? "" : $" ({document.Model})")}.\n\n");
        md.Append("| segment | name | customers | share | avg spend | orders | days since last order |\n");
        md.Append("|---:|---|---:|---:|---:|---:|---:|\n");
        foreach (var c in document.Centroids)
            md.Append(CultureInfo.InvariantCulture,
                $"| {c.CentroidId} | {c.Segment} | {c.Customers:N0} | {c.Share:P1} | ${c.AverageSpend:N2} | {c.CountOrders:0.00} | {c.DaysSinceLastOrder:0} |\n");
        foreach (var s in document.Segments.OrderBy(s => s.CentroidId))
        {
            md.Append(CultureInfo.InvariantCulture, $"\n## {s.CentroidId}. {s.Title}\n\n");
            md.Append(CultureInfo.InvariantCulture, $"**Persona.** {s.Persona}\n\n");
            md.Append(CultureInfo.InvariantCulture, $"**Next marketing step.** {s.NextMarketingStep}\n");
        }
        return Encoding.UTF8.GetBytes(md.ToString());
    }
}
