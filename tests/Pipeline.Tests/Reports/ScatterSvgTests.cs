using System.Globalization;
using System.Xml.Linq;
using Pipeline.Core;
using Pipeline.Reports;

namespace Pipeline.Tests.Reports;

public sealed class ScatterSvgTests
{
    private static readonly XNamespace Svg = "http://www.w3.org/2000/svg";

    [Theory]
    [InlineData(3.24, 10, new[] { 0, 0.5, 1, 1.5, 2, 2.5, 3 })]
    [InlineData(395.28, 8, new double[] { 0, 50, 100, 150, 200, 250, 300, 350 })]
    [InlineData(1_080, 10, new double[] { 0, 200, 400, 600, 800, 1_000 })]
    [InlineData(0.45, 10, new[] { 0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45 })]
    public void Ticks_are_round_numbers_from_zero_to_the_limit_at_most_about_the_target_count(double limit, int target, double[] expected)
    {
        Assert.Equal(expected, ScatterSvg.Ticks(limit, target));
    }

    [Theory]
    [InlineData(0.5, 0.5, "0.5")]
    [InlineData(2, 0.5, "2.0")]
    [InlineData(0.15, 0.05, "0.15")]
    [InlineData(1_500, 100, "1,500")]
    [InlineData(350, 50, "350")]
    public void A_tick_label_has_the_decimals_its_step_needs(double value, double step, string expected)
    {
        Assert.Equal(expected, ScatterSvg.TickLabel(value, step));
    }

    [Fact]
    public void The_report_scatter_draws_every_customer_in_its_segment_colour_and_every_centroid_with_its_id()
    {
        var report = Report(new Dictionary<int, int> { [1] = 40, [2] = 300, [3] = 7 });

        var svg = XElement.Parse(ReportCharts.Scatter(report, ReportCharts.Recency, ReportCharts.Monetary, "Spend & recency", "s1"));

        Assert.Equal("Spend & recency", svg.Element(Svg + "title")!.Value);
        Assert.Equal("img", (string?)svg.Attribute("role"));
        var clip = svg.Descendants(Svg + "g").Single(g => g.Attribute("clip-path") is not null);
        // Biggest segment first, so that the small ones are drawn on top of it.
        var groups = clip.Elements(Svg + "g").ToList();
        Assert.Equal([SegmentColors.Hex(2), SegmentColors.Hex(1), SegmentColors.Hex(3)], groups.Select(g => (string?)g.Attribute("fill")));
        Assert.Equal([300, 40, 7], groups.Select(g => g.Elements(Svg + "circle").Count()));
        // Centroids: white discs ringed in black, each with its id, above the dots.
        var ids = clip.Elements(Svg + "text").Select(t => t.Value).ToList();
        Assert.Equal(["1", "2", "3"], ids);
        Assert.Equal(3, clip.Elements(Svg + "circle").Count(c => (string?)c.Attribute("fill") == "white"));
        // The legend lists the segments by id, with their names, each beside a dot of its colour.
        var legend = svg.Elements(Svg + "g").Last();
        Assert.Equal(["1 Segment one", "2 Segment two", "3 Segment three"], legend.Elements(Svg + "text").Select(t => t.Value));
        Assert.Equal([SegmentColors.Hex(1), SegmentColors.Hex(2), SegmentColors.Hex(3)], legend.Elements(Svg + "circle").Select(c => (string?)c.Attribute("fill")));
        Assert.Contains(svg.Descendants(Svg + "text"), t => t.Value == "Days since last order");
        Assert.Contains(svg.Descendants(Svg + "text"), t => t.Value == "Average spend");
    }

    [Fact]
    public void A_value_sits_where_the_axes_say()
    {
        // One customer at (100 days, $50) and a centroid at (200, 100): the limits are the larger values + 8 %.
        var report = Report(new Dictionary<int, int> { [1] = 1 });
        var svg = XElement.Parse(ReportCharts.Scatter(report, ReportCharts.Recency, ReportCharts.Monetary, "t", "s2"));

        var dot = svg.Descendants(Svg + "g").Single(g => (string?)g.Attribute("fill") == SegmentColors.Hex(1)).Element(Svg + "circle")!;
        var centroid = svg.Descendants(Svg + "circle").Single(c => (string?)c.Attribute("fill") == "white");
        var frame = svg.Elements(Svg + "rect").Single(r => (string?)r.Attribute("fill") == "none");
        double Number(XElement e, string name) => double.Parse((string)e.Attribute(name)!, CultureInfo.InvariantCulture);
        var (left, top) = (Number(frame, "x"), Number(frame, "y"));
        var (width, height) = (Number(frame, "width"), Number(frame, "height"));
        // The centroid is at its own value on each axis: 200 / 216 of the width, 100 / 108 of the height up.
        Assert.Equal(left + width * 200 / 216, Number(centroid, "cx"), 0.06);
        Assert.Equal(top + height - height * 100 / 108, Number(centroid, "cy"), 0.06);
        Assert.Equal(left + width * 100 / 216, Number(dot, "cx"), 0.06);
        Assert.Equal(top + height - height * 50 / 108, Number(dot, "cy"), 0.06);
    }

    /// <summary>A report with the given customers per segment, each of segment s at (100 s, 50 s), centroids at (200 s, 100 s).</summary>
    private static RunReport Report(IReadOnlyDictionary<int, int> customers)
    {
        string[] names = ["", "Segment one", "Segment two", "Segment three"];
        var points = customers.SelectMany(c => Enumerable.Repeat(new CustomerPoint(c.Key, 100 * c.Key, 1, 50 * c.Key), c.Value)).ToList();
        var segments = customers.Keys.Select(id => new SegmentFigures(id, names[id], customers[id], 0, 0, 0, 0, 0)).ToList();
        var centroids = customers.Keys.Select(id => new Centroid(id, names[id], 200 * id, 1, 100 * id, new RfmScore(3, 3, 3))).ToList();
        var model = new SegmentModel("r", "embedded", customers.Count, "fixed", Features.All, new Standardization([0, 0, 0], [1, 1, 1]),
            centroids, new ModelMetrics(1, 1, 1), 5, 100, 25, 42, null);
        var manifest = RunManifest.New("r", null, DateTimeOffset.UnixEpoch);
        return new RunReport(manifest, model, null, null, segments, points, [], null, [], null);
    }
}
