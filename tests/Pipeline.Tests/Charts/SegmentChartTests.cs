using System.Buffers.Binary;
using Pipeline.Core;
using Pipeline.Functions.RenderChart;
using Pipeline.Reports;
using ScottPlot;
using ScottPlot.Plottables;
using SkiaSharp;

namespace Pipeline.Tests.Charts;

public sealed class SegmentChartTests
{
    private static readonly string[] Names =
    [
        "Champions", "Loyal", "Potential loyalists", "At risk", "Hibernating", "New", "Need attention", "Cannot lose them",
        "Promising", "About to sleep", "Lost", "Big spenders", "Bargain hunters", "One-timers", "Regulars",
        "Window shoppers", "Returners", "Seasonal", "Recent big", "Dormant",
    ];

    [Fact]
    public void Render_returns_a_1200_by_800_png()
    {
        var (model, sizes, points) = Segments(5, pointsPerSegment: 6_000);

        var png = SegmentChart.Render(model, sizes, points);

        Assert.Equal([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], png[..8]);
        Assert.Equal("IHDR", System.Text.Encoding.ASCII.GetString(png, 12, 4));
        Assert.Equal(1200, BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(16)));
        Assert.Equal(800, BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(20)));
    }

    [Fact]
    public void The_png_has_the_same_pixels_as_ScottPlot_s_own_export()
    {
        var (model, sizes, points) = Segments(5, pointsPerSegment: 6_000);

        var ours = SegmentChart.Render(model, sizes, points);
        var scottPlot = SegmentChart.Build(model, sizes, points).GetImageBytes(SegmentChart.Width, SegmentChart.Height, ImageFormat.Png);

        using var expected = SKBitmap.Decode(scottPlot);
        using var actual = SKBitmap.Decode(ours);
        Assert.Equal((expected.Width, expected.Height, expected.ColorType), (actual.Width, actual.Height, actual.ColorType));
        Assert.True(expected.GetPixelSpan().SequenceEqual(actual.GetPixelSpan()), "the pixels differ from ScottPlot's export");
    }

    [Fact]
    public void Titles_are_the_ones_the_contract_names()
    {
        var (model, sizes, points) = Segments(5, pointsPerSegment: 200);

        var plot = SegmentChart.Build(model, sizes, points);

        Assert.Equal("Attribute grouped by K-means cluster", plot.Axes.Title.Label.Text);
        Assert.Equal("Days since last order", plot.Axes.Bottom.Label.Text);
        Assert.Equal("Average spend", plot.Axes.Left.Label.Text);
    }

    [Fact]
    public void The_legend_names_every_segment_with_its_full_size_by_centroid_id()
    {
        var (model, sizes, points) = Segments(3, pointsPerSegment: 100);
        sizes = [sizes[2] with { Customers = 7 }, sizes[0] with { Customers = 1_234_567 }, sizes[1] with { Customers = 12_345 }];

        var plot = SegmentChart.Build(model, sizes, points);

        Assert.Equal(
            ["1 Champions (n = 1,234,567)", "2 Loyal (n = 12,345)", "3 Potential loyalists (n = 7)"],
            plot.Legend.ManualItems.Select(i => i.LabelText));
        Assert.Equal(3, plot.Legend.ManualItems.Select(i => i.MarkerFillColor).Distinct().Count());
    }

    [Fact]
    public void A_segment_has_the_report_s_colour_for_its_id_colour_blind_safe_up_to_eight()
    {
        var (model, sizes, points) = Segments(20, pointsPerSegment: 50);

        var plot = SegmentChart.Build(model, sizes, points);

        Assert.Equal(
            Enumerable.Range(1, 20).Select(id => ReportCharts.SegmentColor(id)),
            plot.Legend.ManualItems.Select(i => i.MarkerFillColor));
        Assert.Equal(SegmentColors.OkabeIto, Enumerable.Range(1, 8).Select(SegmentColors.Hex));
        Assert.All(Enumerable.Range(9, 30), id => Assert.Equal(new ScottPlot.Palettes.Tsitsulin().GetColor(id).ToHex(), SegmentColors.Hex(id)));
    }

    [Fact]
    public void Each_segment_is_one_scatter_of_its_points_in_its_legend_colour_biggest_first()
    {
        var (model, sizes, points) = Segments(4, pointsPerSegment: 50);
        points = [.. points, .. Enumerable.Repeat(new ChartPoint(10, 20, 3), 500)];

        var plot = SegmentChart.Build(model, sizes, points);

        var scatters = plot.GetPlottables().OfType<Scatter>().ToArray();
        Assert.Equal(4, scatters.Length);
        Assert.Equal(550, scatters[0].Data.GetScatterPoints().Count); // segment 3, drawn first, under the others
        Assert.All(scatters, s => Assert.Equal(0, s.LineWidth));
        Assert.All(scatters, s => Assert.InRange(s.MarkerFillColor.Alpha, 1, 254));
        var legendColour = plot.Legend.ManualItems[2].MarkerFillColor;
        Assert.Equal(legendColour.WithAlpha(scatters[0].MarkerFillColor.Alpha), scatters[0].MarkerFillColor);
    }

    [Fact]
    public void Centroids_are_marked_and_numbered_at_their_coordinates()
    {
        var (model, sizes, points) = Segments(5, pointsPerSegment: 100);

        var plot = SegmentChart.Build(model, sizes, points);

        var markers = plot.GetPlottables().OfType<Marker>().ToArray();
        Assert.Equal(model.Centroids.Select(c => (c.DaysSinceLastOrder, c.AverageSpend)), markers.Select(m => (m.X, m.Y)));
        Assert.All(markers, m => Assert.True(m.MarkerSize >= 20));
        var labels = plot.GetPlottables().OfType<Text>().ToArray();
        Assert.Equal(["1", "2", "3", "4", "5"], labels.Select(t => t.LabelText));
        Assert.Equal(markers.Select(m => m.Location), labels.Select(t => t.Location));
    }

    [Fact]
    public void A_segment_without_points_keeps_its_legend_entry_and_centroid()
    {
        var (model, sizes, points) = Segments(4, pointsPerSegment: 300);
        points = [.. points.Where(p => p.CentroidId != 2)];
        sizes = [.. sizes.Select(s => s.CentroidId == 2 ? s with { Customers = 0 } : s)];

        var plot = SegmentChart.Build(model, sizes, points);
        var png = SegmentChart.Render(model, sizes, points);

        Assert.Equal(3, plot.GetPlottables().OfType<Scatter>().Count());
        Assert.Equal(4, plot.GetPlottables().OfType<Marker>().Count());
        Assert.Contains("2 Loyal (n = 0)", plot.Legend.ManualItems.Select(i => i.LabelText));
        Assert.NotEmpty(png);
    }

    [Fact]
    public void No_points_at_all_still_draws_the_centroids()
    {
        var (model, sizes, _) = Segments(2, pointsPerSegment: 0);

        var plot = SegmentChart.Build(model, sizes, []);
        var limits = plot.Axes.GetLimits();

        Assert.All(model.Centroids, c =>
        {
            Assert.InRange(c.DaysSinceLastOrder, limits.Left, limits.Right);
            Assert.InRange(c.AverageSpend, limits.Bottom, limits.Top);
        });
        Assert.NotEmpty(SegmentChart.Render(model, sizes, []));
    }

    [Fact]
    public void Twenty_segments_get_twenty_distinct_colours_and_legend_entries()
    {
        var (model, sizes, points) = Segments(20, pointsPerSegment: 1_500);

        var plot = SegmentChart.Build(model, sizes, points);
        var png = SegmentChart.Render(model, sizes, points);

        Assert.Equal(20, plot.Legend.ManualItems.Count);
        Assert.Equal(20, plot.Legend.ManualItems.Select(i => i.MarkerFillColor).Distinct().Count());
        Assert.Equal(Names.Select((n, i) => $"{i + 1} {n} (n = {(i + 1) * 1_000:N0})"), plot.Legend.ManualItems.Select(i => i.LabelText));
        Assert.Equal(1200, BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(16)));
    }

    [Fact]
    public void A_thin_tail_of_big_spenders_cuts_the_spend_axis_and_the_label_says_so()
    {
        var (model, sizes, points) = Segments(3, pointsPerSegment: 3_000);
        points = [.. points, new ChartPoint(30, 50_000, 1), new ChartPoint(40, 80_000, 1)];

        var plot = SegmentChart.Build(model, sizes, points);
        var limits = plot.Axes.GetLimits();

        Assert.True(limits.Top < 1_000, $"the spend axis should stop short of the outliers, not at {limits.Top}");
        Assert.StartsWith("Average spend (cut at ", plot.Axes.Left.Label.Text, StringComparison.Ordinal);
        Assert.EndsWith("% of customers above)", plot.Axes.Left.Label.Text, StringComparison.Ordinal);
        Assert.Equal("Days since last order", plot.Axes.Bottom.Label.Text);
        Assert.All(model.Centroids, c => Assert.InRange(c.AverageSpend, limits.Bottom, limits.Top));
    }

    [Fact]
    public void A_cut_axis_still_leaves_room_for_the_highest_centroids_marker()
    {
        // The 99th percentile of the points is the highest centroid itself: the cut must not fall on it.
        var values = Enumerable.Range(0, 1_000).Select(i => i < 990 ? i % 100 : 10_000.0);
        var range = AxisRange.Of(values, [99]);

        Assert.NotNull(range.CutAt);
        Assert.Equal(99 + 0.05 * 99, range.Max, 6);
        Assert.True(range.Max - 99 >= 0.05 * (range.Max - range.Min) * 0.9, "no room above the centroid");
    }

    [Theory]
    [InlineData(5)]
    [InlineData(20)]
    public void Every_centroid_marker_lies_inside_the_plot_with_room_for_its_disc(int k)
    {
        var (model, sizes, points) = Segments(k, pointsPerSegment: 400);
        // The highest-spending centroid sits exactly at the points' 99th percentile, as on the default run.
        var top = model.Centroids.MaxBy(c => c.AverageSpend)!;
        points = [.. points.Select(p => p with { AverageSpend = Math.Min(p.AverageSpend, top.AverageSpend) }),
            new ChartPoint(10, 90_000, top.CentroidId), new ChartPoint(10, 95_000, top.CentroidId)];

        var limits = SegmentChart.Build(model, sizes, points).Axes.GetLimits();

        var xRoom = 0.04 * (limits.Right - limits.Left);
        var yRoom = 0.04 * (limits.Top - limits.Bottom);
        Assert.All(model.Centroids, c =>
        {
            Assert.InRange(c.DaysSinceLastOrder, limits.Left + xRoom, limits.Right - xRoom);
            Assert.InRange(c.AverageSpend, limits.Bottom + yRoom, limits.Top - yRoom);
        });
    }

    [Fact]
    public void An_axis_is_not_cut_when_no_tail_squashes_it()
    {
        var range = AxisRange.Of(Enumerable.Range(0, 1_000).Select(i => (double)i), [1_200]);

        Assert.Null(range.CutAt);
        Assert.Equal("Average spend", range.Label("Average spend"));
        Assert.Equal(1_200 + 60, range.Max, 6); // the centroid at 1,200 shows, with 5% room on both sides
        Assert.Equal(-60, range.Min, 6);
    }

    [Fact]
    public void An_installed_sans_serif_font_is_preferred_and_the_bundled_one_is_the_fallback()
    {
        Assert.Equal("DejaVu Sans", ChartFonts.Choose(["DejaVu Serif", "DejaVu Sans", "DejaVu Sans Mono"]));
        Assert.Equal("Liberation Sans", ChartFonts.Choose(["Liberation Serif", "liberation sans"]));
        Assert.Equal(ChartFonts.BundledFamily, ChartFonts.Choose([]));
        Assert.Equal(ChartFonts.BundledFamily, ChartFonts.Choose(["DejaVu Serif"]));
    }

    [Fact]
    public void The_bundled_font_has_every_character_the_chart_writes()
    {
        var text = SegmentChart.Title + SegmentChart.XLabel + SegmentChart.YLabel + string.Concat(Names) +
            "(n = 1,234,567) cut at 1,234: 1.0% of customers above 0123456789.-";
        foreach (var bold in new[] { false, true })
        {
            using var typeface = ChartFonts.BundledTypeface(bold);
            Assert.Equal(bold ? 700 : 400, typeface.FontWeight);
            using var font = new SKFont(typeface);
            Assert.True(font.ContainsGlyphs(text), $"the {(bold ? "bold" : "regular")} bundled font lacks a glyph");
        }
    }

    [Fact]
    public void Text_is_drawn_with_the_bundled_font_where_no_font_is_installed()
    {
        var (model, sizes, points) = Segments(2, pointsPerSegment: 0);
        ChartFonts.RegisterBundled();
        // ScottPlot resolves the name to the embedded subset (a few hundred glyphs), not to an installed font.
        Assert.InRange(Fonts.GetTypeface(ChartFonts.BundledFamily, bold: false, italic: false).GlyphCount, 100, 400);
        Assert.InRange(Fonts.GetTypeface(ChartFonts.BundledFamily, bold: true, italic: false).GlyphCount, 100, 400);

        var png = SegmentChart.Build(model, sizes, points, ChartFonts.BundledFamily)
            .GetImageBytes(SegmentChart.Width, SegmentChart.Height, ImageFormat.Png);

        // The title sits centred in the top 40 pixels; with no usable font that band would be blank.
        using var image = SKBitmap.Decode(png);
        var dark = 0;
        for (var y = 0; y < 40; y++)
            for (var x = 200; x < 800; x++)
                if (image.GetPixel(x, y).Red < 100) dark++;
        Assert.True(dark > 500, $"only {dark} dark pixels where the title should be");
    }

    /// <summary>
    /// k segments with centroids spread over the plane, sizes (i + 1) x 1,000, and a blob of points around each
    /// centroid, spend lognormal-ish so that it stays positive.
    /// </summary>
    private static (SegmentModel Model, IReadOnlyList<SegmentSize> Sizes, IReadOnlyList<ChartPoint> Points) Segments(int k, int pointsPerSegment)
    {
        var random = new Random(k);
        var centroids = Enumerable.Range(1, k).Select(id => new Centroid(
            id, Names[id - 1], 20 + 320.0 * (id - 1) / Math.Max(1, k - 1), 1 + id % 3, 40 + 15 * (id % 5), new RfmScore(3, 3, 3))).ToArray();
        var sizes = centroids.Select(c => new SegmentSize(c.CentroidId, c.Segment, c.CentroidId * 1_000L)).ToArray();
        var points = centroids.SelectMany(c => Enumerable.Range(0, pointsPerSegment).Select(_ => new ChartPoint(
            Math.Max(0, c.DaysSinceLastOrder + 25 * Gaussian(random)),
            c.AverageSpend * Math.Exp(0.4 * Gaussian(random)),
            c.CentroidId))).ToArray();
        var model = new SegmentModel("run-1", "embedded", k, "fixed", Features.All,
            new Standardization([0, 0, 0], [1, 1, 1]), centroids, new ModelMetrics(1, 1, 1), 5, 1_000, 250, 42, null);
        return (model, sizes, points);
    }

    private static double Gaussian(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}
