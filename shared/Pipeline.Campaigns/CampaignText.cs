using System.Globalization;
using System.Text;
using Pipeline.Core;

namespace Pipeline.Campaigns;

/// <summary>The centroid summary: the model's centroids with each segment's size and share.</summary>
public static class CentroidSummary
{
    public static IReadOnlyList<CentroidSummaryRow> Build(SegmentModel model, IReadOnlyList<SegmentSize> sizes)
    {
        var total = sizes.Sum(s => s.Customers);
        return model.Centroids
            .OrderBy(c => c.CentroidId)
            .Select(c =>
            {
                var customers = sizes.FirstOrDefault(s => s.CentroidId == c.CentroidId)?.Customers ?? 0;
                return new CentroidSummaryRow(c.CentroidId, c.Segment, Math.Round(c.AverageSpend, 2), Math.Round(c.CountOrders, 2),
                    Math.Round(c.DaysSinceLastOrder, 1), customers, total > 0 ? Math.Round((double)customers / total, 4) : 0, c.Score);
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
/// The prompt the lab sent to its LLM (text-bison), built from the centroid table the same way: the creative
/// strategist instruction, then one line per cluster with its average spend, orders per person and recency.
/// </summary>
public static class CampaignPrompt
{
    public const string Instruction =
        "Pretend you're a creative strategist, given the following clusters come up with creative brand persona and title labels for each of these clusters, and explain step by step; what would be the next marketing step for these clusters";

    public static string Build(IReadOnlyList<CentroidSummaryRow> rows)
    {
        var clusters = string.Join("\n", rows.Select(r => string.Create(CultureInfo.InvariantCulture,
            $"Cluster {r.CentroidId}, Average Spend ${r.AverageSpend:0.00}, Count of orders per person {r.CountOrders:0.00}, Days since last order {r.DaysSinceLastOrder:0.0}")));
        return $"\n{Instruction}\n\n{clusters}\n";
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
        foreach (var note in document.Notes ?? [])
            md.Append(CultureInfo.InvariantCulture, $"> **Note.** {note}\n\n");
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
