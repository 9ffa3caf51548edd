namespace Pipeline.Core;

/// <summary>
/// A segment's colour wherever it is drawn — the chart (chart.png) and every chart and swatch of the report — keyed
/// by its centroid id, so a segment has one colour across outputs and runs: Okabe &amp; Ito's colour-blind-safe
/// palette (without its black, kept for text) for ids 1–8, then Tsitsulin's 25 colours picked to stay apart.
/// Hex strings, so that this library needs no drawing package.
/// </summary>
public static class SegmentColors
{
    /// <summary>Okabe &amp; Ito's palette without its black, in their order.</summary>
    public static IReadOnlyList<string> OkabeIto { get; } = ["#E69F00", "#56B4E9", "#009E73", "#0072B2", "#D55E00", "#CC79A7", "#F0E442", "#999999"];

    /// <summary>Tsitsulin's 25 distinct colours (as ScottPlot's <c>Palettes.Tsitsulin</c>), for ids beyond Okabe–Ito's.</summary>
    private static readonly string[] Tsitsulin =
    [
        "#EBAC23", "#B80058", "#008CF9", "#006E00", "#00BBAD", "#D163E6", "#B24502", "#FF9287", "#5954D6", "#00C6F8",
        "#878500", "#00A76C", "#F6DA9C", "#FF5CAA", "#8ACCFF", "#4BFF4B", "#6EFFF4", "#EDC1F5", "#FEAE7C", "#FFC8C3",
        "#BDBBEF", "#BDF2FF", "#FFFC43", "#65FFC8", "#AAAAAA",
    ];

    /// <summary>The colour of the segment with this centroid id, as "#RRGGBB".</summary>
    public static string Hex(int centroidId) => centroidId >= 1 && centroidId <= OkabeIto.Count
        ? OkabeIto[centroidId - 1]
        : Tsitsulin[(int)((uint)centroidId % Tsitsulin.Length)];
}
