using System.Globalization;
using System.Text.RegularExpressions;
using Pipeline.Core;
using ScottPlot;

namespace Pipeline.Reports;

/// <summary>
/// The report's charts, drawn by ScottPlot and written as inline SVG: no image file, no script, nothing fetched.
/// Colours follow a segment's id (Okabe–Ito's colour-blind-safe palette for ids 1–8), so a segment keeps its colour
/// in every chart and every run.
/// </summary>
public static partial class ReportCharts
{
    /// <summary>A segment's colour, the same as in chart.png (<see cref="SegmentColors"/>).</summary>
    public static Color SegmentColor(int centroidId) => Color.FromHex(SegmentColors.Hex(centroidId));

    /// <summary>One of the three features: how it is read from a point and a centroid, and its axis title.</summary>
    public sealed record Feature(string Name, string Label, Func<CustomerPoint, double> OfPoint, Func<Centroid, double> OfCentroid);

    public static Feature Recency { get; } = new(Features.DaysSinceLastOrder, "Days since last order", p => p.DaysSinceLastOrder, c => c.DaysSinceLastOrder);
    public static Feature Frequency { get; } = new(Features.CountOrders, "Orders", p => p.CountOrders, c => c.CountOrders);
    public static Feature Monetary { get; } = new(Features.AverageSpend, "Average spend", p => p.AverageSpend, c => c.AverageSpend);

    /// <summary>The three pairs of features the scatter charts show.</summary>
    public static IReadOnlyList<(Feature X, Feature Y)> Pairs { get; } = [(Recency, Monetary), (Recency, Frequency), (Frequency, Monetary)];

    /// <summary>
    /// Customers of the sample as dots coloured by segment, each centroid as a ringed disc with its id, written
    /// straight as SVG (<see cref="ScatterSvg"/>): these are the report's largest charts, and the cheapest to write by hand.
    /// </summary>
    public static string Scatter(RunReport report, Feature x, Feature y, string title, string chartId)
    {
        var names = report.Segments.ToDictionary(s => s.CentroidId, s => s.Segment);
        var centroids = report.Model?.Centroids ?? [];
        // The biggest segments are drawn first so that small ones stay visible on top; the legend lists them by id.
        var groups = report.Points.GroupBy(p => p.CentroidId).ToList();
        var chart = new ScatterSvg.Chart(
            [.. groups.OrderByDescending(g => g.Count()).Select(g => new ScatterSvg.Series(
                SegmentColors.Hex(g.Key), [.. g.Select(x.OfPoint)], [.. g.Select(y.OfPoint)]))],
            [.. centroids.Select(c => new ScatterSvg.Marker(c.CentroidId.ToString(CultureInfo.InvariantCulture), x.OfCentroid(c), y.OfCentroid(c)))],
            [.. groups.Select(g => g.Key).Order().Select(id => new ScatterSvg.LegendEntry(
                SegmentColors.Hex(id), $"{id} {names.GetValueOrDefault(id, "")}".TrimEnd()))],
            x.Label, Limit(report.Points.Select(x.OfPoint), centroids.Select(x.OfCentroid)),
            y.Label, Limit(report.Points.Select(y.OfPoint), centroids.Select(y.OfCentroid)));
        return ScatterSvg.Render(chart, title, chartId);
    }

    /// <summary>
    /// Each segment's medians and revenue per customer as an index against the whole population (100 = the same
    /// as everyone): grouped bars, one group per measure.
    /// </summary>
    public static string Profile(RunReport report, string title, string chartId)
    {
        var plot = NewPlot();
        var population = report.Population!;
        var measures = ProfileMeasures(population);
        var k = report.Segments.Count;
        for (var s = 0; s < k; s++)
        {
            var segment = report.Segments[s];
            var values = ProfileMeasures(segment);
            var bars = values.Select((v, m) => new Bar
            {
                Position = m * (k + 1) + s,
                Value = Index(v.Value, measures[m].Value),
                FillColor = SegmentColor(segment.CentroidId),
                LineWidth = 0,
            }).ToList();
            var plotted = plot.Add.Bars(bars);
            plotted.LegendText = $"{segment.CentroidId} {segment.Segment}";
        }
        var line = plot.Add.HorizontalLine(100, 1.5f, Colors.Black, LinePattern.Dashed);
        line.LegendText = "All customers = 100";
        plot.Axes.Bottom.SetTicks(
            [.. measures.Select((_, m) => m * (k + 1) + (k - 1) / 2.0)],
            [.. measures.Select(m => m.Name)]);
        plot.Axes.Bottom.MajorTickStyle.Length = 0;
        plot.YLabel("Index (all customers = 100)");
        plot.Axes.Margins(bottom: 0);
        plot.ShowLegend(Edge.Bottom);
        return Svg(plot, 720, 460, title, chartId);
    }

    /// <summary>The measures of <see cref="Profile"/>, in its order.</summary>
    public static IReadOnlyList<(string Name, double Value)> ProfileMeasures(SegmentFigures figures) =>
    [
        ("Days since last order", figures.MedianDaysSinceLastOrder),
        ("Orders", figures.MedianCountOrders),
        ("Average spend", figures.MedianAverageSpend),
        ("Revenue per customer", figures.Customers > 0 ? figures.Revenue / figures.Customers : 0),
    ];

    /// <summary>A value against the population's, where 100 is the same.</summary>
    public static double Index(double value, double population) => population > 0 ? Math.Round(100 * value / population, 1) : 0;

    /// <summary>Customers per segment in each of the last runs, one line per segment id.</summary>
    public static string SizesOverRuns(IReadOnlyList<RunSizes> runs, string title, string chartId)
    {
        var plot = NewPlot();
        var ids = runs.SelectMany(r => r.Segments.Select(s => s.CentroidId)).Distinct().Order().ToList();
        foreach (var id in ids)
        {
            var xs = new List<double>();
            var ys = new List<double>();
            for (var i = 0; i < runs.Count; i++)
            {
                if (runs[i].Segments.FirstOrDefault(s => s.CentroidId == id) is not { } size) continue;
                xs.Add(i);
                ys.Add(size.Customers);
            }
            var line = plot.Add.Scatter(xs.ToArray(), ys.ToArray(), SegmentColor(id));
            line.LineWidth = 2;
            line.MarkerSize = 7;
            line.LegendText = $"{id} {runs[^1].Segments.FirstOrDefault(s => s.CentroidId == id)?.Segment ?? ""}".TrimEnd();
        }
        plot.Axes.Bottom.SetTicks([.. runs.Select((_, i) => (double)i)], [.. runs.Select(RunLabel)]);
        plot.Axes.Bottom.TickLabelStyle.Rotation = runs.Count > 4 ? -30 : 0;
        plot.Axes.Bottom.TickLabelStyle.Alignment = runs.Count > 4 ? Alignment.MiddleRight : Alignment.UpperCenter;
        plot.YLabel("Customers");
        plot.Axes.SetLimitsY(0, Math.Max(1, runs.SelectMany(r => r.Segments).Select(s => s.Customers).DefaultIfEmpty(0).Max()) * 1.1);
        plot.Axes.SetLimitsX(-0.5, runs.Count - 0.5);
        plot.ShowLegend(Edge.Bottom);
        return Svg(plot, 720, 440, title, chartId);
    }

    private static string RunLabel(RunSizes run) => run.AsOf.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

    /// <summary>
    /// The from → to matrix as a heat map: one cell per pair (rows: last run's segments and new customers; columns:
    /// this run's segments and customers gone), shaded by its share of the row (where the "from" segment's customers
    /// went) in the colour-blind-safe viridis scale, each cell labelled with its count.
    /// </summary>
    public static string Migration(SegmentMigration migration, string title, string chartId)
    {
        var plot = NewPlot();
        var colormap = new ScottPlot.Colormaps.Viridis();
        IReadOnlyList<int?> from = [.. migration.PreviousSegments.Select(s => (int?)s.CentroidId), null];
        IReadOnlyList<int?> to = [.. migration.Segments.Select(s => (int?)s.CentroidId), null];
        for (var r = 0; r < from.Count; r++)
        {
            var rowTotal = to.Sum(t => migration.Count(from[r], t));
            for (var c = 0; c < to.Count; c++)
            {
                var count = migration.Count(from[r], to[c]);
                var share = rowTotal > 0 ? count / (double)rowTotal : 0;
                var y = from.Count - 1 - r;
                var cell = plot.Add.Rectangle(c, c + 1, y, y + 1);
                cell.FillColor = from[r] is null && to[c] is null ? Colors.White : colormap.GetColor(share);
                cell.LineColor = Colors.White;
                cell.LineWidth = 1;
                if (from[r] is null && to[c] is null) continue;
                var text = plot.Add.Text(count.ToString("N0", CultureInfo.InvariantCulture), c + 0.5, y + 0.5);
                text.LabelAlignment = Alignment.MiddleCenter;
                text.LabelFontSize = 12;
                text.LabelFontColor = share > 0.55 ? Colors.Black : Colors.White;
            }
        }
        plot.Axes.Bottom.SetTicks([.. to.Select((_, c) => c + 0.5)], [.. to.Select(t => t?.ToString(CultureInfo.InvariantCulture) ?? SegmentMigration.GoneColumn)]);
        plot.Axes.Left.SetTicks([.. from.Select((_, r) => from.Count - 1 - r + 0.5)], [.. from.Select(f => f?.ToString(CultureInfo.InvariantCulture) ?? SegmentMigration.NewRow)]);
        plot.Axes.SetLimits(0, to.Count, 0, from.Count);
        plot.XLabel("To: this run's segment");
        plot.YLabel("From: previous run's segment");
        plot.Grid.IsVisible = false;
        return Svg(plot, 600, 520, title, chartId);
    }

    /// <summary>The Davies–Bouldin index of each candidate k (lower is better), the chosen k marked.</summary>
    public static string KSelection(IReadOnlyList<KScore> scores, int chosen, string title, string chartId)
    {
        var plot = NewPlot();
        var bars = scores.Select(s => new Bar
        {
            Position = s.K,
            Value = s.DaviesBouldinIndex,
            FillColor = s.K == chosen ? Color.FromHex(SegmentColors.OkabeIto[3]) : Color.FromHex("#BBBBBB"),
            LineWidth = 0,
            Label = s.DaviesBouldinIndex.ToString("0.###", CultureInfo.InvariantCulture),
        }).ToList();
        var plotted = plot.Add.Bars(bars);
        plotted.ValueLabelStyle.FontSize = 11;
        plot.Axes.Bottom.SetTicks([.. scores.Select(s => (double)s.K)], [.. scores.Select(s => s.K == chosen ? $"k={s.K} (chosen)" : $"k={s.K}")]);
        plot.YLabel("Davies–Bouldin index (lower is better)");
        plot.Axes.Margins(bottom: 0, top: 0.15);
        return Svg(plot, 640, 360, title, chartId);
    }

    /// <summary>A run's segment sizes as tiny bars in the segments' colours, for the index: no axes, no text.</summary>
    public static string Sparkline(IReadOnlyList<SegmentSize> sizes, string title, string chartId)
    {
        var plot = new Plot();
        var bars = sizes.OrderBy(s => s.CentroidId).Select((s, i) => new Bar
        {
            Position = i,
            Value = s.Customers,
            FillColor = SegmentColor(s.CentroidId),
            LineWidth = 0,
            Size = 0.8,
        }).ToList();
        plot.Add.Bars(bars);
        plot.Axes.Frameless();
        plot.HideGrid();
        plot.Axes.Margins(0.02, 0, 0.02, 0.05);
        plot.Axes.Margins(bottom: 0);
        return Svg(plot, 120, 32, title, chartId);
    }

    private static Plot NewPlot()
    {
        var plot = new Plot();
        plot.Grid.MajorLineColor = Colors.Black.WithAlpha(0.08);
        return plot;
    }

    /// <summary>Past the 99th percentile, so that a few outliers do not squash the rest, but never short of a centroid.</summary>
    private static double Limit(IEnumerable<double> values, IEnumerable<double>? centroids)
    {
        var sorted = values.Where(double.IsFinite).Order().ToArray();
        var high = sorted.Length == 0 ? 1 : sorted[(int)Math.Floor(0.99 * (sorted.Length - 1))];
        high = Math.Max(high, (centroids ?? []).Where(double.IsFinite).DefaultIfEmpty(0).Max());
        return high <= 0 ? 1 : high * 1.08;
    }

    /// <summary>
    /// The plot as an inline <c>&lt;svg&gt;</c>: with a <c>&lt;title&gt;</c> (its accessible name), <c>role="img"</c>,
    /// a viewBox so that CSS can scale it to a phone's width, and ids unique on the page (several charts share one
    /// document, and Skia names every chart's clip paths alike): "chart-", <paramref name="chartId"/> (unique on the page), then the
    /// number of each of Skia's ids in order of appearance, so that the same chart is the same text in any process
    /// (Skia's own names count up across a process).
    /// </summary>
    internal static string Svg(Plot plot, int width, int height, string title, string chartId)
    {
        var svg = plot.GetSvgHtml(width, height);
        var names = new Dictionary<string, string>(StringComparer.Ordinal);
        string Renamed(string skia)
        {
            if (!names.TryGetValue(skia, out var name))
                names[skia] = name = string.Create(CultureInfo.InvariantCulture, $"chart-{chartId}-{names.Count + 1}");
            return name;
        }
        svg = IdAttribute().Replace(svg, m => $"{m.Groups[1].Value}=\"{Renamed(m.Groups[2].Value)}\"");
        svg = IdReference().Replace(svg, m => $"url(#{Renamed(m.Groups[1].Value)})");
        svg = HrefReference().Replace(svg, m => $"href=\"#{Renamed(m.Groups[1].Value)}\"");
        var open = svg.IndexOf("<svg", StringComparison.Ordinal);
        var end = svg.IndexOf('>', open);
        var attributes = svg[(open + 4)..end];
        if (!attributes.Contains("viewBox", StringComparison.Ordinal))
            attributes += string.Create(CultureInfo.InvariantCulture, $" viewBox=\"0 0 {width} {height}\"");
        attributes = WidthHeight().Replace(attributes, "");
        return $"<svg{attributes} role=\"img\" preserveAspectRatio=\"xMidYMid meet\"><title>{Html.Encode(title)}</title>{svg[(end + 1)..]}";
    }

    [GeneratedRegex("\\b(id)=\"([^\"]+)\"")]
    private static partial Regex IdAttribute();

    [GeneratedRegex("url\\(#([^)]+)\\)")]
    private static partial Regex IdReference();

    [GeneratedRegex("href=\"#([^\"]+)\"")]
    private static partial Regex HrefReference();

    [GeneratedRegex("\\s(width|height)=\"[^\"]*\"")]
    private static partial Regex WidthHeight();
}
