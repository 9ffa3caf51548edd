using System.Text;
using Pipeline.Core;
using static Pipeline.Reports.Html;

namespace Pipeline.Reports;

/// <summary>
/// <c>index.html</c> at the bucket root: every run, newest first, with its status, date, customers, a sparkline of
/// its segment sizes and a link to its report (relative, so it works from a disk and from a bucket URL alike).
/// </summary>
public static class RunIndexPage
{
    public static string Render(IReadOnlyList<RunSummary> runs, DateTimeOffset now)
    {
        var page = new StringBuilder(64 * 1024);
        Head(page, "Customer segmentation runs");
        page.Append("<main>\n<h1>Customer segmentation runs</h1>\n<p class=\"lead\">Every run, newest first. ")
            .Append("Open a run's report for its segments, personas and next steps. Updated ").Append(Encode(Time(now))).Append(".</p>\n");
        if (runs.Count == 0)
        {
            Absent(page, "No runs yet.");
        }
        else
        {
            page.Append("<div class=\"table-wrap\"><table class=\"runs\">\n<caption>")
                .Append(Count(runs.Count)).Append(runs.Count == 1 ? " run" : " runs").Append("</caption>\n<thead><tr>")
                .Append("<th scope=\"col\">Run</th><th scope=\"col\" class=\"text\">Status</th><th scope=\"col\" class=\"text\">Date</th>")
                .Append("<th scope=\"col\">Customers</th><th scope=\"col\" class=\"text optional\">Segment sizes</th></tr></thead>\n<tbody>\n");
            foreach (var (run, row) in runs.Select((r, i) => (r, i + 1)))
            {
                var status = run.Manifest.Status.ToString().ToLowerInvariant();
                page.Append("<tr><th scope=\"row\" class=\"text\"><a href=\"").Append(Encode(BucketLayout.Report(run.RunId))).Append("\">")
                    .Append(Encode(run.RunId)).Append("</a></th><td class=\"text status-").Append(status).Append("\">").Append(status);
                if (run.Manifest.Error is { } error) page.Append("<br><small>in ").Append(Encode(error.Stage)).Append("</small>");
                page.Append("</td><td class=\"text\">").Append(Encode(Time(run.Manifest.CreatedAt)));
                if (run.AsOf is { } asOf) page.Append("<br><small>as of ").Append(Date(asOf)).Append("</small>");
                page.Append("</td><td>").Append(run.Customers > 0 ? Count(run.Customers) : "–").Append("</td><td class=\"text optional spark\">");
                if (run.Segments.Count > 0)
                {
                    var sizes = string.Join(", ", run.Segments.OrderBy(s => s.CentroidId).Select(s => $"{s.CentroidId} {s.Segment}: {Count(s.Customers)}"));
                    page.Append(ReportCharts.Sparkline(run.Segments, $"Segment sizes: {sizes}", $"spark-{row}"));
                }
                else
                {
                    page.Append("no segments");
                }
                page.Append("</td></tr>\n");
            }
            page.Append("</tbody></table></div>\n");
        }
        page.Append("<p class=\"lead\">Status: <strong>completed</strong> runs are the ones to use; a <strong>held</strong> run wrote everything but failed its quality gate and waits for a person; a <strong>failed</strong> run stopped before finishing.</p>\n</main>\n");
        Tail(page);
        return page.ToString();
    }
}
