using System.Globalization;
using System.Text;

namespace Pipeline.Reports;

/// <summary>
/// The report's scatter charts written straight as SVG text: a frame with round-number ticks and a light grid, the
/// customers as see-through dots by segment, each centroid as a ringed disc with its id, and a legend below. A plot
/// library would lay the same chart out through a drawing canvas and its SVG backend, which costs more than the rest
/// of the report together at the lab's size; these few shapes need no layout engine. Text takes the page's font.
/// </summary>
internal static class ScatterSvg
{
    /// <summary>One segment's customers: their values on the two axes, drawn in one colour.</summary>
    public sealed record Series(string Color, IReadOnlyList<double> Xs, IReadOnlyList<double> Ys);

    /// <summary>A centroid: where its disc goes and the id written in it.</summary>
    public sealed record Marker(string Label, double X, double Y);

    /// <summary>A legend entry: the segment's colour and its "id name".</summary>
    public sealed record LegendEntry(string Color, string Label);

    /// <summary>What one chart shows; both axes start at 0 and end at their limit.</summary>
    public sealed record Chart(
        IReadOnlyList<Series> Dots, IReadOnlyList<Marker> Centroids, IReadOnlyList<LegendEntry> Legend,
        string XLabel, double XLimit, string YLabel, double YLimit);

    private const int Width = 640;
    private const double Left = 64, Right = 625, Top = 15, Bottom = 388;
    private const double DotRadius = 2, DotOpacity = 0.55, CentroidRadius = 9;
    private const int LegendFontSize = 12, LegendRowHeight = 20;

    /// <summary>
    /// The chart as an inline <c>&lt;svg&gt;</c> with a <c>&lt;title&gt;</c> (its accessible name), <c>role="img"</c>
    /// and a viewBox (CSS scales it to a phone's width); its one id, the clip path's, is "chart-" + <paramref name="chartId"/>
    /// + "-clip", unique on the page when <paramref name="chartId"/> is.
    /// </summary>
    public static string Render(Chart chart, string title, string chartId)
    {
        var legendTop = Bottom + 50;
        var (legend, legendHeight) = Legend(chart.Legend, legendTop);
        var height = (int)Math.Ceiling(Math.Max(520, legendTop + legendHeight + 10));
        var svg = new StringBuilder(64 * 1024);
        svg.Append(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {Width} {height}\" role=\"img\" preserveAspectRatio=\"xMidYMid meet\">")
            .Append("<title>").Append(Html.Encode(title)).Append("</title>\n")
            .Append(CultureInfo.InvariantCulture, $"<rect fill=\"white\" width=\"{Width}\" height=\"{height}\"/>\n");
        Axes(svg, chart);
        var clip = $"chart-{chartId}-clip";
        svg.Append(CultureInfo.InvariantCulture, $"<clipPath id=\"{clip}\"><rect x=\"{Left}\" y=\"{Top}\" width=\"{Right - Left}\" height=\"{Bottom - Top}\"/></clipPath>\n")
            .Append("<g clip-path=\"url(#").Append(clip).Append(")\">\n");
        foreach (var series in chart.Dots) Dots(svg, series, chart);
        foreach (var centroid in chart.Centroids) Centroid(svg, centroid, chart);
        svg.Append("</g>\n").Append(legend).Append("</svg>");
        return svg.ToString();
    }

    /// <summary>Round ticks from 0 to <paramref name="limit"/>: a step of 1, 2 or 5 times a power of ten, about <paramref name="target"/> of them.</summary>
    internal static IReadOnlyList<double> Ticks(double limit, int target)
    {
        var step = NiceStep(limit / target);
        var count = (int)Math.Floor(limit / step + 1e-9);
        return [.. Enumerable.Range(0, count + 1).Select(i => Math.Round(i * step, 12))];
    }

    internal static double NiceStep(double rough)
    {
        var power = Math.Pow(10, Math.Floor(Math.Log10(rough)));
        var fraction = rough / power;
        return (fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10) * power;
    }

    /// <summary>A tick's label: thousands separated, as many decimals as the step needs (0.2, 1.5, 1,000).</summary>
    internal static string TickLabel(double value, double step) =>
        value.ToString("N" + Math.Max(0, (int)Math.Ceiling(-Math.Log10(step) - 1e-9)), CultureInfo.InvariantCulture);

    private static double PixelX(Chart chart, double x) => Left + x / chart.XLimit * (Right - Left);
    private static double PixelY(Chart chart, double y) => Bottom - y / chart.YLimit * (Bottom - Top);

    /// <summary>The grid, the frame, the ticks with their labels and the two axis titles.</summary>
    private static void Axes(StringBuilder svg, Chart chart)
    {
        var xTicks = Ticks(chart.XLimit, 8);
        var yTicks = Ticks(chart.YLimit, 10);
        var grid = new StringBuilder();
        var marks = new StringBuilder();
        foreach (var x in xTicks.Select(t => PixelX(chart, t)))
        {
            grid.Append(CultureInfo.InvariantCulture, $"M{x:0.#} {Top}V{Bottom}");
            marks.Append(CultureInfo.InvariantCulture, $"M{x:0.#} {Bottom}v4");
        }
        foreach (var y in yTicks.Select(t => PixelY(chart, t)))
        {
            grid.Append(CultureInfo.InvariantCulture, $"M{Left} {y:0.#}H{Right}");
            marks.Append(CultureInfo.InvariantCulture, $"M{Left} {y:0.#}h-4");
        }
        svg.Append("<path fill=\"none\" stroke=\"black\" stroke-opacity=\"0.08\" d=\"").Append(grid).Append("\"/>\n")
            .Append(CultureInfo.InvariantCulture, $"<rect fill=\"none\" stroke=\"black\" x=\"{Left}\" y=\"{Top}\" width=\"{Right - Left}\" height=\"{Bottom - Top}\"/>\n")
            .Append("<path fill=\"none\" stroke=\"black\" d=\"").Append(marks).Append("\"/>\n")
            .Append("<g font-size=\"11\" text-anchor=\"middle\">");
        var xStep = xTicks.Count > 1 ? xTicks[1] : chart.XLimit;
        foreach (var t in xTicks)
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{PixelX(chart, t):0.#}\" y=\"{Bottom + 16}\">{TickLabel(t, xStep)}</text>");
        svg.Append("</g>\n<g font-size=\"11\" text-anchor=\"end\" dominant-baseline=\"central\">");
        var yStep = yTicks.Count > 1 ? yTicks[1] : chart.YLimit;
        foreach (var t in yTicks)
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{Left - 6}\" y=\"{PixelY(chart, t):0.#}\">{TickLabel(t, yStep)}</text>");
        svg.Append("</g>\n")
            .Append(CultureInfo.InvariantCulture, $"<text x=\"{(Left + Right) / 2:0.#}\" y=\"{Bottom + 36}\" font-size=\"14\" font-weight=\"bold\" text-anchor=\"middle\">")
            .Append(Html.Encode(chart.XLabel)).Append("</text>\n")
            .Append(CultureInfo.InvariantCulture, $"<text transform=\"translate(16 {(Top + Bottom) / 2:0.#}) rotate(-90)\" font-size=\"14\" font-weight=\"bold\" text-anchor=\"middle\">")
            .Append(Html.Encode(chart.YLabel)).Append("</text>\n");
    }

    /// <summary>One segment's customers, one circle each (a point that is not a finite number is not drawn).</summary>
    private static void Dots(StringBuilder svg, Series series, Chart chart)
    {
        svg.Append("<g fill=\"").Append(series.Color).Append(CultureInfo.InvariantCulture, $"\" fill-opacity=\"{DotOpacity}\">");
        for (var i = 0; i < series.Xs.Count; i++)
        {
            if (!double.IsFinite(series.Xs[i]) || !double.IsFinite(series.Ys[i])) continue;
            svg.Append(CultureInfo.InvariantCulture, $"<circle cx=\"{PixelX(chart, series.Xs[i]):0.#}\" cy=\"{PixelY(chart, series.Ys[i]):0.#}\" r=\"{DotRadius}\"/>");
        }
        svg.Append("</g>\n");
    }

    private static void Centroid(StringBuilder svg, Marker centroid, Chart chart)
    {
        var (x, y) = (PixelX(chart, centroid.X), PixelY(chart, centroid.Y));
        svg.Append(CultureInfo.InvariantCulture, $"<circle cx=\"{x:0.#}\" cy=\"{y:0.#}\" r=\"{CentroidRadius}\" fill=\"white\" stroke=\"black\" stroke-width=\"2\"/>")
            .Append(CultureInfo.InvariantCulture, $"<text x=\"{x:0.#}\" y=\"{y:0.#}\" font-size=\"11\" font-weight=\"bold\" text-anchor=\"middle\" dominant-baseline=\"central\">")
            .Append(Html.Encode(centroid.Label)).Append("</text>\n");
    }

    /// <summary>
    /// The legend in a framed box centred under the plot: entries in id order, in as many equal columns as fit the
    /// plot's width. Text is not measured (the page's font decides), so a column is sized for its longest label at an
    /// average glyph width with room to spare.
    /// </summary>
    private static (string Svg, double Height) Legend(IReadOnlyList<LegendEntry> entries, double top)
    {
        if (entries.Count == 0) return ("", 0);
        var column = 30 + entries.Max(e => e.Label.Length) * LegendFontSize * 0.55;
        var columns = Math.Clamp((int)((Right - Left - 16) / column), 1, entries.Count);
        var rows = (entries.Count + columns - 1) / columns;
        var (width, height) = (columns * column + 16, rows * LegendRowHeight + 10);
        var left = (Left + Right - width) / 2;
        var legend = new StringBuilder();
        legend.Append(CultureInfo.InvariantCulture, $"<rect fill=\"white\" stroke=\"black\" x=\"{left:0.#}\" y=\"{top}\" width=\"{width:0.#}\" height=\"{height}\"/>\n")
            .Append(CultureInfo.InvariantCulture, $"<g font-size=\"{LegendFontSize}\" dominant-baseline=\"central\">");
        for (var i = 0; i < entries.Count; i++)
        {
            var x = left + 12 + i % columns * column;
            var y = top + 5 + (i / columns + 0.5) * LegendRowHeight;
            legend.Append(CultureInfo.InvariantCulture, $"<circle cx=\"{x + 4:0.#}\" cy=\"{y:0.#}\" r=\"4\" fill=\"{entries[i].Color}\"/>")
                .Append(CultureInfo.InvariantCulture, $"<text x=\"{x + 14:0.#}\" y=\"{y:0.#}\">").Append(Html.Encode(entries[i].Label)).Append("</text>\n");
        }
        legend.Append("</g>\n");
        return (legend.ToString(), height);
    }
}
