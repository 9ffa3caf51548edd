using ScottPlot;
using SkiaSharp;

namespace Pipeline.Functions.RenderChart;

/// <summary>
/// The font the chart's text is drawn in. ScottPlot's Linux build of SkiaSharp (the NoDependencies native asset)
/// does not use fontconfig: it scans /usr/share/fonts itself, and its default typeface is whichever family it meets
/// first (DejaVu Serif on a machine with DejaVu), or an empty one with no glyphs when there are no fonts, as on a
/// bare Cloud Run image, where every label would silently vanish. So the chart names a sans-serif family that is
/// installed, and otherwise uses a small copy of DejaVu Sans embedded in this assembly (see Fonts/README.md).
/// </summary>
internal static class ChartFonts
{
    /// <summary>The name the embedded font is registered under with ScottPlot.</summary>
    public const string BundledFamily = "Pipeline Bundled Sans";

    /// <summary>Installed families to use, best first: common sans-serif fonts of Linux images, then of others.</summary>
    public static IReadOnlyList<string> Preferred { get; } =
        ["DejaVu Sans", "Liberation Sans", "Noto Sans", "Open Sans", "Roboto", "Arial", "Helvetica", "Segoe UI"];

    private static readonly Lazy<string> Installed = new(() => Choose(SKFontManager.Default.FontFamilies));
    private static readonly Lazy<byte[]> Regular = new(() => Resource("DejaVuSans.subset.ttf"));
    private static readonly Lazy<byte[]> Bold = new(() => Resource("DejaVuSans-Bold.subset.ttf"));
    private static readonly Lock Registration = new();
    private static bool registered;

    /// <summary>The family for the chart's text on this machine.</summary>
    public static string Family => Installed.Value;

    /// <summary>The first preferred family among <paramref name="installed"/>, else the bundled one (registered on first use).</summary>
    internal static string Choose(IEnumerable<string> installed)
    {
        var families = installed.ToHashSet(StringComparer.OrdinalIgnoreCase);
        var found = Preferred.FirstOrDefault(families.Contains);
        if (found is not null) return found;
        RegisterBundled();
        return BundledFamily;
    }

    /// <summary>Makes <see cref="BundledFamily"/> resolvable by ScottPlot, once per process.</summary>
    internal static void RegisterBundled()
    {
        lock (Registration)
        {
            if (registered) return;
            // ScottPlot asks its resolvers in order; the system resolver answers only for installed families, so
            // appending is enough.
            Fonts.FontResolvers.Add(new BundledFontResolver());
            registered = true;
        }
    }

    internal static SKTypeface BundledTypeface(bool bold) => SKTypeface.FromData(SKData.CreateCopy(bold ? Bold.Value : Regular.Value));

    private static byte[] Resource(string file)
    {
        var name = $"Pipeline.Functions.RenderChart.Fonts.{file}";
        using var stream = typeof(ChartFonts).Assembly.GetManifestResourceStream(name)
            ?? throw new InvalidOperationException($"The embedded font {name} is missing from the assembly.");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }

    private sealed class BundledFontResolver : IFontResolver
    {
        public SKTypeface? CreateTypeface(string fontName, FontWeight weight, FontSlant slant, FontSpacing spacing) =>
            fontName == BundledFamily ? BundledTypeface(weight >= FontWeight.SemiBold) : null;

        public SKTypeface? CreateTypeface(string fontName, bool bold, bool italic) =>
            fontName == BundledFamily ? BundledTypeface(bold) : null;
    }
}
