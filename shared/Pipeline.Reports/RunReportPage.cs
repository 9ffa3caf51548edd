using System.Text;
using Pipeline.Core;
using static Pipeline.Reports.Html;

namespace Pipeline.Reports;

/// <summary>
/// <c>report.html</c>: one run for the marketing team, in one self-contained page (inline CSS and SVG charts, no
/// script, nothing fetched), readable from a disk, a Cloud Storage URL or an e-mail attachment, and at a phone's width.
/// Every section is always there; one whose data does not exist says why.
/// </summary>
public static class RunReportPage
{
    /// <summary>The sections, by their element id, in page order.</summary>
    public static IReadOnlyList<string> Sections { get; } = ["headline", "segments", "scatter", "profiles", "personas", "movement", "model"];

    public static string Render(RunReport report)
    {
        var manifest = report.Manifest;
        var page = new StringBuilder(256 * 1024);
        Head(page, $"Customer segments — run {manifest.RunId}");
        page.Append("<main>\n");
        Headline(page, report);
        SegmentTable(page, report);
        ScatterCharts(page, report);
        Profiles(page, report);
        Personas(page, report);
        Movement(page, report);
        ModelQuality(page, report);
        page.Append("</main>\n<footer><p class=\"lead\">Written ").Append(Encode(Time(manifest.UpdatedAt)))
            .Append(" from the run's files in the bucket (manifest.json, model.json, campaign.json, predictions). ")
            .Append("<a href=\"../../index.html\">All runs</a></p></footer>\n");
        Tail(page);
        return page.ToString();
    }

    private static void Headline(StringBuilder page, RunReport report)
    {
        var manifest = report.Manifest;
        var parameters = manifest.Parameters;
        page.Append("<section id=\"headline\" aria-labelledby=\"headline-title\">\n<h1 id=\"headline-title\">Customer segments — run ")
            .Append(Encode(manifest.RunId)).Append("</h1>\n");
        page.Append("<p class=\"lead\">Customers grouped by how recently, how often and how much they buy. ")
            .Append("Each section below says what its numbers mean.</p>\n<dl class=\"stats\">\n");
        var status = manifest.Status.ToString().ToLowerInvariant();
        page.Append("<div class=\"stat\"><dt>Status</dt><dd><span class=\"value status-").Append(status).Append("\">").Append(status)
            .Append("</span><span class=\"means\">").Append(Encode(StatusMeaning(manifest))).Append("</span></dd></div>\n");
        if (parameters is not null)
        {
            Stat(page, "Order window", $"{Date(parameters.WindowStart)} to {Date(parameters.WindowEnd.AddDays(-1))}",
                "Orders placed in these days (UTC) are counted.");
            Stat(page, "As of", Date(parameters.AsOf), "Recency is measured in days before this date.");
        }
        else
        {
            Stat(page, "Order window", "–", "The run failed before its parameters were known.");
        }
        Stat(page, "Customers", Count(report.Customers), "Customers with at least one counted order in the window.");
        var k = report.Model?.K ?? (int)manifest.Metrics.GetValueOrDefault("k");
        Stat(page, "Segments (k)", k > 0 ? Count(k) : "–", report.KScores.Count > 0
            ? "Chosen automatically: the number of segments that separated held-out customers best."
            : "The number of segments asked for.");
        page.Append("</dl>\n");

        if (manifest.Error is { } error)
            page.Append("<p class=\"absent\" role=\"alert\">The run failed in <strong>").Append(Encode(error.Stage))
                .Append("</strong>: ").Append(Encode(error.Reason)).Append("</p>\n");

        QualityGateTable(page, manifest.QualityGate);
        page.Append("</section>\n");
    }

    private static void QualityGateTable(StringBuilder page, QualityGate? gate)
    {
        page.Append("<h2 id=\"quality-gate\">Quality gate</h2>\n");
        if (gate is null)
        {
            Absent(page, "This run records no quality-gate checks: it ended before the gate, or ran before the gate existed.");
            return;
        }
        page.Append("<p>").Append(gate.Passed
                ? "Passed: the checks below found nothing that should stop these segments from being used."
                : gate.Release is { } release
                    ? $"Did not pass, but was released by {Encode(release.By)} on {Encode(Time(release.At))}."
                    : "Did not pass: the run is held until someone looks at the failed checks and releases it.")
            .Append(gate.ComparedTo is { } previous ? $" Compared with run {Encode(previous)}." : " The first run: nothing to compare with.")
            .Append("</p>\n<div class=\"table-wrap\"><table>\n<caption>Quality checks</caption>\n<thead><tr><th scope=\"col\">Check</th>")
            .Append("<th scope=\"col\" class=\"text\">Result</th><th scope=\"col\">Measured</th><th scope=\"col\">Threshold</th><th scope=\"col\" class=\"text\">What it means</th></tr></thead>\n<tbody>\n");
        foreach (var check in gate.Checks)
        {
            var outcome = check.Outcome.ToString().ToLowerInvariant();
            page.Append("<tr><th scope=\"row\" class=\"text\">").Append(Encode(check.Name.Replace('_', ' '))).Append("</th>")
                .Append("<td class=\"text check-").Append(outcome).Append("\">").Append(outcome).Append("</td><td>")
                .Append(check.Value is { } value ? Decimal(value, "0.###") : "–").Append("</td><td>").Append(Decimal(check.Threshold, "0.###"))
                .Append("</td><td class=\"text\">").Append(Encode(check.Detail)).Append("</td></tr>\n");
        }
        page.Append("</tbody></table></div>\n");
    }

    private static string StatusMeaning(RunManifest manifest) => manifest.Status switch
    {
        RunStatus.Completed => "Every output was written; this run's segments are the ones to use.",
        RunStatus.Held => "Every output was written, but the quality gate stopped it: check it before using these segments.",
        RunStatus.Failed => "The run stopped before finishing; use the previous completed run.",
        _ => "The run has not finished yet.",
    };

    private static void SegmentTable(StringBuilder page, RunReport report)
    {
        var absent = report.Segments.Count > 0 ? null
            : "No segments: the run did not assign customers to segments" + (report.Manifest.Error is { } e ? $" (it failed in {e.Stage})." : ".");
        if (!Open(page, "segments", "Segments", absent)) return;
        var totalRevenue = report.Segments.Sum(s => s.Revenue);
        var spend = report.SpendIsOrderValue ? "Average order value" : "Average item price";
        page.Append("<div class=\"table-wrap\"><table>\n<caption>Customers, revenue and typical behaviour per segment</caption>\n<thead><tr>")
            .Append("<th scope=\"col\">Segment</th><th scope=\"col\">Customers</th><th scope=\"col\">Share</th>")
            .Append("<th scope=\"col\">Revenue</th><th scope=\"col\">Share of revenue</th><th scope=\"col\">").Append(spend).Append("</th>")
            .Append("<th scope=\"col\">Median days since last order</th><th scope=\"col\">Median orders</th><th scope=\"col\">Median average spend</th>")
            .Append("</tr></thead>\n<tbody>\n");
        foreach (var s in report.Segments)
        {
            page.Append("<tr><th scope=\"row\" class=\"text\">").Append(Swatch(s.CentroidId)).Append(s.CentroidId).Append(' ').Append(Encode(s.Segment)).Append("</th>")
                .Append("<td>").Append(Count(s.Customers)).Append("</td><td>").Append(Percent(s.Customers / (double)report.Customers)).Append("</td>")
                .Append("<td>").Append(Money(s.Revenue)).Append("</td><td>").Append(Percent(totalRevenue > 0 ? s.Revenue / totalRevenue : 0)).Append("</td>")
                .Append("<td>").Append(Money(s.AverageOrderValue)).Append("</td><td>").Append(Decimal(s.MedianDaysSinceLastOrder, "0")).Append("</td>")
                .Append("<td>").Append(Decimal(s.MedianCountOrders, "0.#")).Append("</td><td>").Append(Money(s.MedianAverageSpend)).Append("</td></tr>\n");
        }
        if (report.Population is { } all)
            page.Append("<tr><th scope=\"row\" class=\"text\">All customers</th><td>").Append(Count(all.Customers)).Append("</td><td>100.0%</td>")
                .Append("<td>").Append(Money(all.Revenue)).Append("</td><td>100.0%</td><td>").Append(Money(all.AverageOrderValue)).Append("</td>")
                .Append("<td>").Append(Decimal(all.MedianDaysSinceLastOrder, "0")).Append("</td><td>").Append(Decimal(all.MedianCountOrders, "0.#"))
                .Append("</td><td>").Append(Money(all.MedianAverageSpend)).Append("</td></tr>\n");
        page.Append("</tbody></table></div>\n<dl class=\"notes\">\n")
            .Append("<dt>Share</dt><dd>The segment's part of all customers.</dd>\n")
            .Append("<dt>Revenue, share of revenue</dt><dd>What the segment's customers spent in the window, and its part of everyone's spending: a small segment with a large share of revenue is worth the most attention.</dd>\n")
            .Append("<dt>").Append(spend).Append("</dt><dd>")
            .Append(report.SpendIsOrderValue ? "Revenue divided by orders: what one order brings in." : "Revenue divided by items (this run counts items as the lab did): what one item brings in.")
            .Append("</dd>\n<dt>Medians</dt><dd>The middle customer of the segment: half are above, half below. Fewer days since the last order is better.</dd>\n</dl>\n");
        Close(page);
    }

    private static void ScatterCharts(StringBuilder page, RunReport report)
    {
        if (!Open(page, "scatter", "Where the segments lie", report.Points.Count > 0 ? null : "No chart: the run has no predictions to draw.")) return;
        page.Append("<p>Each dot is a customer (a sample of ").Append(Count(report.Points.Count)).Append(" of ").Append(Count(report.Customers))
            .Append(", every segment shown); each numbered disc is a segment's centre. Three views, one per pair of measures.</p>\n<div class=\"charts\">\n");
        foreach (var (x, y) in ReportCharts.Pairs)
        {
            var title = $"{y.Label} against {x.Label.ToLowerInvariant()}, by segment";
            Figure(page, ReportCharts.Scatter(report, x, y, title, $"scatter-{x.Name}-{y.Name}"),
                $"{title}. Segments that stand apart here differ in {x.Label.ToLowerInvariant()} and {y.Label.ToLowerInvariant()}.");
        }
        page.Append("</div>\n");
        Close(page);
    }

    private static void Profiles(StringBuilder page, RunReport report)
    {
        Open(page, "profiles", "Each segment against all customers", null);
        if (report.Population is null || report.Segments.Count == 0)
        {
            Absent(page, "No profile: the run has no predictions to compare segments with.");
        }
        else
        {
            page.Append("<p>100 is the typical customer. Above 100 is more than usual (for days since the last order, that means less recent).</p>\n");
            Figure(page, ReportCharts.Profile(report, "Segment medians as an index against all customers", "profile"),
                "Bars above the dashed line: the segment is above the typical customer on that measure.");
            page.Append("<div class=\"table-wrap\"><table>\n<caption>Index against all customers (100 = the same)</caption>\n<thead><tr><th scope=\"col\">Segment</th>");
            foreach (var (name, _) in ReportCharts.ProfileMeasures(report.Population)) page.Append("<th scope=\"col\">").Append(Encode(name)).Append("</th>");
            page.Append("</tr></thead>\n<tbody>\n");
            var population = ReportCharts.ProfileMeasures(report.Population);
            foreach (var s in report.Segments)
            {
                page.Append("<tr><th scope=\"row\" class=\"text\">").Append(Swatch(s.CentroidId)).Append(s.CentroidId).Append(' ').Append(Encode(s.Segment)).Append("</th>");
                foreach (var (measure, i) in ReportCharts.ProfileMeasures(s).Select((m, i) => (m, i)))
                    page.Append("<td>").Append(Decimal(ReportCharts.Index(measure.Value, population[i].Value), "0")).Append("</td>");
                page.Append("</tr>\n");
            }
            page.Append("</tbody></table></div>\n");
        }
        page.Append("<h3>Who the customers are</h3>\n");
        if (report.Profiles is not { } profiles)
            Absent(page, "No demographic profile: this run wrote no profiles.json (no users or products table to describe segments by age, gender, country, channel or category).");
        else
            Demographics(page, profiles);
        Close(page);
    }

    /// <summary>
    /// Each breakdown of profiles.json as a table: its values (the population's largest) down, segments across, each
    /// cell the segment's share and its index against everyone; what the profiles lack is said, not hidden.
    /// </summary>
    private static void Demographics(StringBuilder page, ProfilesDocument profiles)
    {
        foreach (var lacking in profiles.Lacking) Absent(page, lacking.Length > 0 ? char.ToUpperInvariant(lacking[0]) + lacking[1..] : lacking);
        var coverage = profiles.Coverage;
        if (coverage.ItemsWithoutUser > 0 || coverage.ItemsWithoutProduct > 0)
            page.Append("<p class=\"lead\">").Append(Count(coverage.ItemsWithoutUser)).Append(" of ").Append(Count(coverage.ItemsCounted))
                .Append(" items had no matching user and ").Append(Count(coverage.ItemsWithoutProduct))
                .Append(" no matching product: they count in revenue, not in the breakdowns.</p>\n");
        page.Append("<p>Each cell: the segment's share, and in brackets its index against all customers (100 = as everyone; 150 = half as much again). ")
            .Append("Cells of fewer than ").Append(Count(profiles.MinimumCellCustomers)).Append(" customers are hidden (\u201chidden\u201d) so that no one can be singled out.</p>\n");
        var breakdowns = new (string Title, Func<SegmentProfile, ProfileBreakdown?> Of)[]
        {
            ("Gender", p => p.Gender), ("Age", p => p.AgeBands), ("Country", p => p.Countries), ("Channel", p => p.TrafficSources),
            ("Department", p => p.Departments), ("Category", p => p.Categories), ("Brand", p => p.Brands),
        };
        foreach (var (title, of) in breakdowns)
        {
            if (of(profiles.Population) is not { } everyone) continue;
            var measure = everyone.Measure == ProfileMeasure.Revenue ? "share of revenue" : "share of customers";
            page.Append("<div class=\"table-wrap\"><table>\n<caption>").Append(Encode(title)).Append(" (").Append(measure).Append(")</caption>\n<thead><tr><th scope=\"col\">")
                .Append(Encode(title)).Append("</th><th scope=\"col\">All customers</th>");
            foreach (var segment in profiles.Segments)
                page.Append("<th scope=\"col\">").Append(Swatch(segment.CentroidId ?? 0)).Append(segment.CentroidId).Append(' ').Append(Encode(segment.Segment)).Append("</th>");
            page.Append("</tr></thead>\n<tbody>\n");
            foreach (var cell in everyone.Cells)
            {
                page.Append("<tr><th scope=\"row\" class=\"text\">").Append(Encode(cell.Value)).Append("</th><td>").Append(CellText(cell, index: false)).Append("</td>");
                foreach (var segment in profiles.Segments)
                {
                    var mine = of(segment)?.Cells.FirstOrDefault(c => c.Value == cell.Value);
                    page.Append("<td>").Append(mine is null ? "–" : CellText(mine, index: true)).Append("</td>");
                }
                page.Append("</tr>\n");
            }
            page.Append("</tbody></table></div>\n");
        }
    }

    private static string CellText(ProfileCell cell, bool index) =>
        cell.Suppressed || cell.Share is not { } share ? "hidden"
        : index && cell.Index is { } i ? $"{Percent(share)} ({Decimal(100 * i, "0")})"
        : Percent(share);

    private static void Personas(StringBuilder page, RunReport report)
    {
        var campaign = report.Campaign;
        if (!Open(page, "personas", "Personas and next steps", campaign is not null ? null : "No personas: the campaign was not written for this run.") || campaign is null) return;
        page.Append("<p class=\"lead\">Written by the ").Append(Encode(campaign.Writer)).Append(" writer")
            .Append(campaign.Model is null ? "" : $" ({Encode(campaign.Model)})").Append(". A starting point for the team, not a decision.</p>\n");
        var names = report.Segments.ToDictionary(s => s.CentroidId, s => s.Segment);
        foreach (var segment in campaign.Segments)
        {
            page.Append("<article class=\"persona\" aria-labelledby=\"persona-").Append(segment.CentroidId).Append("\"><h3 id=\"persona-").Append(segment.CentroidId).Append("\">")
                .Append(Swatch(segment.CentroidId)).Append(segment.CentroidId).Append(' ').Append(Encode(segment.Title));
            if (names.TryGetValue(segment.CentroidId, out var name) && name != segment.Title) page.Append(" <small>(").Append(Encode(name)).Append(")</small>");
            page.Append("</h3><p><strong>Persona.</strong> ").Append(Encode(segment.Persona)).Append("</p><p><strong>Next marketing step.</strong> ")
                .Append(Encode(segment.NextMarketingStep)).Append("</p></article>\n");
        }
        Close(page);
    }

    private static void Movement(StringBuilder page, RunReport report)
    {
        Open(page, "movement", "Movement since the previous run", null);
        if (report.Migration is { PreviousRunId: { } previous } migration)
        {
            page.Append("<p>Compared with run ").Append(Encode(previous))
                .Append(migration.PreviousAsOf is { } then ? $" (as of {Date(then)})" : "").Append(".</p>\n<dl class=\"stats\">\n");
            Stat(page, "Stayed", Count(migration.Stayed), "Customers in the same segment as last time.");
            Stat(page, "Moved", Count(migration.Moved), "Customers now in another segment.");
            Stat(page, "Changed segment", migration.ChangedShare is { } changed ? Percent(changed) : "–",
                "Share of returning customers who changed segment: high values mean the segments shifted.");
            Stat(page, "New", Count(migration.New), "Customers not segmented last time (new, or back after a gap).");
            Stat(page, "Gone", Count(migration.Gone), "Customers segmented last time with no counted order in this window.");
            page.Append("</dl>\n");
            Figure(page, ReportCharts.Migration(migration, "Customers moving between segments since the previous run", "movement"),
                "Each row is a segment of the previous run (and new customers), each column one of this run (and customers gone); a cell counts the customers who went from one to the other. Brighter cells hold more of the row's customers; the diagonal is customers who stayed.");
        }
        else
        {
            Absent(page, report.Migration?.Note ?? "No movement to show: this is the first run with segments, or the previous run's segments were not recorded.");
        }

        page.Append("<h3>Segment sizes over the last runs</h3>\n");
        if (report.SizeHistory.Count >= 2)
            Figure(page, ReportCharts.SizesOverRuns(report.SizeHistory, $"Customers per segment over the last {report.SizeHistory.Count} runs", "sizes"),
                "A rising line is a segment gaining customers; segment numbers keep their meaning from run to run.");
        else
            Absent(page, "Only one run so far: sizes over time appear from the second completed run.");
        Close(page);
    }

    private static void ModelQuality(StringBuilder page, RunReport report)
    {
        var model = report.Model;
        if (!Open(page, "model", "Model quality", model is not null ? null : "No model: the run stopped before training.") || model is null) return;
        page.Append("<dl class=\"stats\">\n");
        Stat(page, "Davies–Bouldin index", Decimal(model.Metrics.DaviesBouldinIndex, "0.###"),
            "How well the segments separate on customers the model did not train on: lower is better; below 1 is clear separation.");
        Stat(page, "Mean squared distance", Decimal(model.Metrics.MeanSquaredDistance, "0.###"),
            "How far customers lie from their segment's centre, in standard units: lower means tighter segments.");
        Stat(page, "Customers trained on / held out", $"{Count(model.TrainingCustomers)} / {Count(model.TestCustomers)}",
            "The model learnt from the first group and was checked on the second.");
        Stat(page, "Iterations", Count(model.Iterations), "Rounds of K-means until the segments stopped moving (at most 20).");
        page.Append("</dl>\n<h3>Choice of k</h3>\n");
        if (report.KScores.Count > 0)
            Figure(page, ReportCharts.KSelection(report.KScores, model.K, "Davies–Bouldin index of each candidate number of segments", "k-selection"),
                $"k = {model.K} separated held-out customers best (the lowest bar); ties go to fewer segments.");
        else
            Absent(page, $"k = {model.K} was given, not chosen automatically, so there are no candidates to compare.");
        Close(page);
    }

    /// <summary>
    /// Opens a section with its heading. With <paramref name="absent"/> (why its data does not exist) the section
    /// says so and is closed at once, and the caller writes nothing more: returns false.
    /// </summary>
    private static bool Open(StringBuilder page, string id, string title, string? absent)
    {
        page.Append("<section id=\"").Append(id).Append("\" aria-labelledby=\"").Append(id).Append("-title\">\n<h2 id=\"").Append(id)
            .Append("-title\">").Append(Encode(title)).Append("</h2>\n");
        if (absent is null) return true;
        Absent(page, absent);
        Close(page);
        return false;
    }

    private static void Close(StringBuilder page) => page.Append("</section>\n");

    private static string Swatch(int centroidId) =>
        $"<span class=\"swatch\" aria-hidden=\"true\" style=\"background:{ReportCharts.SegmentColor(centroidId).ToHex()}\"></span>";
}
