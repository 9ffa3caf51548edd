using System.Globalization;
using Pipeline.Core;
using ScottPlot;
using SkiaSharp;

namespace Pipeline.Functions.RenderChart;

/// <summary>
/// <c>chart.png</c>: customers by days since their last order and average spend, one colour per segment, with
/// each centroid marked and numbered. Drawn from a sample of customers (the caller's, up to
/// <see cref="Function.MaxPoints"/>); the legend gives every segment's full size.
/// </summary>
public static class SegmentChart
{
    public const string Title = "Attribute grouped by K-means cluster";
    public const string XLabel = "Days since last order";
    public const string YLabel = "Average spend";
    public const int Width = 1200;
    public const int Height = 800;

    /// <summary>An axis is cut at this percentile of the points when the largest lies more than twice as far out.</summary>
    internal const double ClipPercentile = 0.99;

    public static byte[] Render(SegmentModel model, IReadOnlyList<SegmentSize> segments, IReadOnlyList<ChartPoint> points) =>
        EncodePng(Build(model, segments, points));

    /// <summary>
    /// The plot's pixels as PNG, compressed with each row's "sub" filter at zlib level 3 rather than ScottPlot's
    /// default (every filter tried per row, level 6): a chart of flat colours and dots compresses as well that way
    /// (the file is slightly smaller) at a third of the CPU, and the pixels are the same.
    /// </summary>
    internal static byte[] EncodePng(Plot plot)
    {
        using var surface = SKSurface.Create(new SKImageInfo(Width, Height, SKColorType.Rgba8888, SKAlphaType.Premul))
            ?? throw new InvalidOperationException($"Skia could not allocate a {Width}×{Height} surface for the chart");
        plot.Render(surface.Canvas, Width, Height);
        using var image = surface.Snapshot();
        using var pixels = image.PeekPixels();
        using var png = pixels.Encode(new SKPngEncoderOptions(SKPngEncoderFilterFlags.Sub, zLibLevel: 3))
            ?? throw new InvalidOperationException("Skia could not encode the chart as PNG");
        return png.ToArray();
    }

    /// <summary>The chart before rendering. <paramref name="fontFamily"/> defaults to <see cref="ChartFonts.Family"/>.</summary>
    internal static Plot Build(SegmentModel model, IReadOnlyList<SegmentSize> segments, IReadOnlyList<ChartPoint> points, string? fontFamily = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(segments);
        ArgumentNullException.ThrowIfNull(points);
        return Compose(Series(model, segments), points, fontFamily ?? ChartFonts.Family);
    }

    /// <summary>
    /// Draws and encodes a small throwaway chart through the same code as <see cref="Render"/>, and discards it: the
    /// first drawing in a process pays for loading Skia, finding the fonts and ScottPlot's set-up (~0.3 s), which the
    /// Runner pays this way on an idle core before RenderChart needs them. Writes nothing; the process-wide state it
    /// leaves (Skia's library, ScottPlot's typeface cache) is what the first real chart would create the same way.
    /// </summary>
    public static void WarmUp()
    {
        var color = Color.FromHex(SegmentColors.Hex(1));
        var centroid = new Centroid(1, "Warm-up", 1, 1, 1, new RfmScore(1, 1, 1));
        ChartPoint[] points = [new(0, 0, 1), new(2, 2, 1)];
        EncodePng(Compose([new ChartSeries(1, centroid.Segment, points.Length, centroid, color)], points, ChartFonts.Family));
    }

    private static Plot Compose(IReadOnlyList<ChartSeries> series, IReadOnlyList<ChartPoint> points, string font)
    {
        var plot = new Plot();
        plot.Title(Title, size: 20);
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { TargetTickCount = 10 };
        plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { TargetTickCount = 10 };
        plot.Grid.MajorLineColor = Colors.Black.WithAlpha(0.08);

        AddCustomers(plot, series, points);
        AddCentroids(plot, series, font);
        AddLegend(plot, series);

        var centroids = series.Select(s => s.Centroid).OfType<Centroid>().ToArray();
        var x = AxisRange.Of(points.Select(p => p.DaysSinceLastOrder), centroids.Select(c => c.DaysSinceLastOrder));
        var y = AxisRange.Of(points.Select(p => p.AverageSpend), centroids.Select(c => c.AverageSpend));
        plot.Axes.SetLimits(x.Min, x.Max, y.Min, y.Max);
        plot.XLabel(x.Label(XLabel), size: 15);
        plot.YLabel(y.Label(YLabel), size: 15);
        plot.Axes.Bottom.Label.Bold = false;
        plot.Axes.Left.Label.Bold = false;
        UseFont(plot, font);
        return plot;
    }

    /// <summary>
    /// Customers as small see-through dots, one scatter per segment, the biggest segments first so that the
    /// smaller ones stay visible on top.
    /// </summary>
    private static void AddCustomers(Plot plot, IReadOnlyList<ChartSeries> series, IReadOnlyList<ChartPoint> points)
    {
        var byCentroid = points
            .Where(p => double.IsFinite(p.DaysSinceLastOrder) && double.IsFinite(p.AverageSpend))
            .GroupBy(p => p.CentroidId)
            .ToDictionary(g => g.Key, g => g.ToArray());
        var markerSize = points.Count > 10_000 ? 3f : 5f;
        foreach (var segment in series.OrderByDescending(s => byCentroid.GetValueOrDefault(s.CentroidId)?.Length ?? 0))
        {
            if (!byCentroid.TryGetValue(segment.CentroidId, out var members)) continue;
            var scatter = plot.Add.ScatterPoints(
                members.Select(p => p.DaysSinceLastOrder).ToArray(),
                members.Select(p => p.AverageSpend).ToArray(),
                segment.Color.WithAlpha(0.45));
            scatter.MarkerSize = markerSize;
            scatter.MarkerShape = MarkerShape.FilledCircle;
        }
    }

    /// <summary>Each centroid as a white disc ringed in its segment's colour with its id inside, above every dot.</summary>
    private static void AddCentroids(Plot plot, IReadOnlyList<ChartSeries> series, string font)
    {
        foreach (var segment in series)
        {
            if (segment.Centroid is not { } centroid) continue;
            var marker = plot.Add.Marker(centroid.DaysSinceLastOrder, centroid.AverageSpend, MarkerShape.FilledCircle, 26, Colors.White);
            marker.MarkerStyle.OutlineColor = segment.Color;
            marker.MarkerStyle.OutlineWidth = 3.5f;
            var label = plot.Add.Text(segment.CentroidId.ToString(CultureInfo.InvariantCulture), centroid.DaysSinceLastOrder, centroid.AverageSpend);
            label.LabelAlignment = Alignment.MiddleCenter;
            label.LabelFontName = font;
            label.LabelFontSize = 14;
            label.LabelBold = true;
            label.LabelFontColor = Colors.Black;
            label.LabelOffsetY = 1; // digits have no descender: centre them by eye, not by the line box
        }
    }

    /// <summary>Segments in centroid-id order, each entry numbered as its marker, with their full size, in solid colour, beside the plot where it hides no dot.</summary>
    private static void AddLegend(Plot plot, IReadOnlyList<ChartSeries> series)
    {
        foreach (var segment in series)
        {
            plot.Legend.ManualItems.Add(new LegendItem
            {
                LabelText = LegendLabel(segment.CentroidId, segment.Segment, segment.Customers),
                MarkerShape = MarkerShape.FilledCircle,
                MarkerSize = 10,
                MarkerFillColor = segment.Color,
                MarkerLineColor = segment.Color,
                LineWidth = 0,
            });
        }
        plot.ShowLegend(Edge.Right).Alignment = Alignment.UpperCenter;
        plot.Legend.FontSize = 13;
    }

    /// <summary>
    /// Names the font on every piece of text. Not <c>plot.Font.Set</c>: that also sets ScottPlot's process-wide
    /// default typeface, which every label created afterwards then uses even where it asks for bold.
    /// </summary>
    private static void UseFont(Plot plot, string font)
    {
        plot.Axes.Title.Label.FontName = font;
        foreach (var axis in plot.Axes.GetAxes())
        {
            axis.Label.FontName = font;
            axis.TickLabelStyle.FontName = font;
        }
        plot.Legend.FontName = font;
    }

    /// <summary>"1 Champions (n = 1,234)": the id as on the centroid's marker, so a reader can tell which is which.</summary>
    internal static string LegendLabel(int centroidId, string segment, long customers) =>
        string.Create(CultureInfo.InvariantCulture, $"{centroidId} {segment} (n = {customers:N0})");

    /// <summary>
    /// One entry per centroid id in the sizes or the model, by id: the segment's name and size from the sizes
    /// (the model's name and 0 when a centroid has no customers), the centroid when the model has it, and the
    /// segment's colour, the same as in the report (<see cref="SegmentColors"/>). Points of a centroid in neither are
    /// not drawn.
    /// </summary>
    private static List<ChartSeries> Series(SegmentModel model, IReadOnlyList<SegmentSize> segments)
    {
        var centroids = model.Centroids.ToDictionary(c => c.CentroidId);
        var sizes = segments.ToDictionary(s => s.CentroidId);
        var ids = sizes.Keys.Union(centroids.Keys).Order().ToArray();
        return [.. ids.Select(id => new ChartSeries(
            id,
            sizes.TryGetValue(id, out var size) ? size.Segment : centroids[id].Segment,
            size?.Customers ?? 0,
            centroids.GetValueOrDefault(id),
            Color.FromHex(SegmentColors.Hex(id))))];
    }

    private sealed record ChartSeries(int CentroidId, string Segment, long Customers, Centroid? Centroid, Color Color);
}

/// <summary>
/// An axis's limits: from 0 (or below, for negative values) to the largest value, unless a thin tail of outliers
/// would take more than half the axis, in which case to the <see cref="SegmentChart.ClipPercentile"/> percentile;
/// always wide enough for the centroids, with a little room on both sides. <see cref="CutAt"/> is where the axis
/// ends when points lie beyond it, and <see cref="ShareBeyond"/> their share.
/// </summary>
internal readonly record struct AxisRange(double Min, double Max, double? CutAt, double ShareBeyond)
{
    public static AxisRange Of(IEnumerable<double> values, IEnumerable<double> mustShow)
    {
        var sorted = values.Where(double.IsFinite).Order().ToArray();
        var shown = mustShow.Where(double.IsFinite).ToArray();
        if (sorted.Length == 0 && shown.Length == 0) return new AxisRange(0, 1, null, 0);

        var all = sorted.Concat(shown).ToArray();
        var low = Math.Min(0, all.Min());
        var high = all.Max();
        if (sorted.Length > 0)
        {
            var cut = Math.Max(sorted[(int)Math.Floor(SegmentChart.ClipPercentile * (sorted.Length - 1))], shown.DefaultIfEmpty(low).Max());
            if (high - low > 2 * (cut - low)) high = cut;
        }
        if (high <= low) high = low + 1;

        // Room for a centroid's disc (26 px across, 5 % of an axis is at least 35 px here) around every centroid,
        // also where the axis is cut: a cut at the highest centroid would clip its marker in half.
        var margin = (high - low) * 0.05;
        var end = shown.Length > 0 ? Math.Max(high, shown.Max() + margin) : high;
        var beyond = sorted.Length - Array.FindLastIndex(sorted, v => v <= end) - 1;
        return beyond > 0
            ? new AxisRange(low - margin, end, end, beyond / (double)sorted.Length)
            : new AxisRange(low - margin, Math.Max(end, high + margin), null, 0);
    }

    /// <summary>The axis title, saying where the axis was cut when it was.</summary>
    public string Label(string title) => CutAt is { } at
        ? string.Create(CultureInfo.InvariantCulture, $"{title} (cut at {at:N0}: {ShareBeyond:0.0%} of customers above)")
        : title;
}
