using Pipeline.Core;

namespace Pipeline.Functions.RenderChart;

public static class SegmentChart
{
    public static byte[] Render(SegmentModel model, IReadOnlyList<SegmentSize> segments, IReadOnlyList<ChartPoint> points) => throw new NotImplementedException();
}
