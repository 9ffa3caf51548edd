using System.Globalization;
using System.Text;

namespace Pipeline.Reports;

/// <summary>The pieces both pages share: escaping, numbers as people read them, and the one stylesheet.</summary>
internal static class Html
{
    public static string Encode(string? text) => System.Net.WebUtility.HtmlEncode(text ?? "");

    public static string Count(double value) => value.ToString("N0", CultureInfo.InvariantCulture);
    public static string Money(double value) => double.IsFinite(value) ? value.ToString("$#,0.00", CultureInfo.InvariantCulture) : "–";
    public static string Decimal(double value, string format = "0.##") => double.IsFinite(value) ? value.ToString(format, CultureInfo.InvariantCulture) : "–";
    public static string Percent(double share) => double.IsFinite(share) ? share.ToString("0.0%", CultureInfo.InvariantCulture) : "–";
    public static string Date(DateOnly date) => date.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
    public static string Time(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture);

    /// <summary>The start of a page: everything inline (no font, script or stylesheet fetched from anywhere).</summary>
    public static void Head(StringBuilder page, string title)
    {
        page.Append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
            .Append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
            // No request leaves the file, even if a later edit adds one by mistake: the browser refuses it.
            .Append("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\n")
            .Append("<title>").Append(Encode(title)).Append("</title>\n<style>").Append(Style).Append("</style>\n</head>\n<body>\n");
    }

    public static void Tail(StringBuilder page) => page.Append("</body>\n</html>\n");

    /// <summary>A figure: the chart, and a caption that says what to read in it.</summary>
    public static void Figure(StringBuilder page, string svg, string caption) =>
        page.Append("<figure class=\"chart\">").Append(svg).Append("<figcaption>").Append(Encode(caption)).Append("</figcaption></figure>\n");

    /// <summary>A number, its name, and one plain line saying what it means.</summary>
    public static void Stat(StringBuilder page, string name, string value, string meaning) =>
        page.Append("<div class=\"stat\"><dt>").Append(Encode(name)).Append("</dt><dd><span class=\"value\">").Append(Encode(value))
            .Append("</span><span class=\"means\">").Append(Encode(meaning)).Append("</span></dd></div>\n");

    /// <summary>What a section says when its data does not exist.</summary>
    public static void Absent(StringBuilder page, string why) =>
        page.Append("<p class=\"absent\" role=\"note\">").Append(Encode(why)).Append("</p>\n");

    private const string Style = """
        :root{--ink:#1b1b1b;--muted:#555;--line:#d8d8d8;--band:#f5f5f2;--accent:#0072B2;--bad:#D55E00;--good:#009E73}
        *{box-sizing:border-box}
        body{margin:0 auto;max-width:1100px;padding:1rem;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",Arial,sans-serif;color:var(--ink);background:#fff}
        h1{font-size:1.6rem;margin:.2rem 0 .5rem;overflow-wrap:anywhere}
        h2{font-size:1.3rem;margin:2rem 0 .5rem;padding-top:.5rem;border-top:2px solid var(--line)}
        h3{font-size:1.05rem;margin:1rem 0 .3rem}
        p{margin:.3rem 0 .6rem}
        a{color:var(--accent)}
        .lead{color:var(--muted)}
        .stats{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,160px),1fr));gap:.6rem;margin:.8rem 0;padding:0}
        .stat{background:var(--band);border-radius:6px;padding:.6rem .8rem}
        .stat dt{font-size:.85rem;color:var(--muted)}
        .stat dd{margin:0}
        .value{display:block;font-size:1.35rem;font-weight:600;overflow-wrap:anywhere}
        .means{display:block;font-size:.85rem;color:var(--muted)}
        .status-completed{color:var(--good)}
        .status-failed,.status-held,.check-failed{color:var(--bad);font-weight:600}
        .check-passed{color:var(--good)}
        .table-wrap{overflow-x:auto;max-width:100%}
        table{border-collapse:collapse;width:100%;font-size:.92rem}
        caption{text-align:left;font-weight:600;padding:.3rem 0}
        th,td{border-bottom:1px solid var(--line);padding:.35rem .5rem;text-align:right;vertical-align:top}
        th:first-child,td:first-child,th.text,td.text{text-align:left}
        thead th{background:var(--band)}
        .swatch{display:inline-block;width:.8em;height:.8em;border-radius:50%;margin-right:.35em;vertical-align:baseline}
        .charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,480px),1fr));gap:1rem}
        figure.chart{margin:.5rem 0;min-width:0;max-width:820px}
        figure.chart svg{display:block;width:100%;height:auto;max-width:100%}
        figure.chart svg text{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",Arial,sans-serif}
        figcaption{font-size:.85rem;color:var(--muted)}
        .absent{background:#fff8e6;border-left:4px solid #E69F00;padding:.5rem .8rem}
        .persona{border:1px solid var(--line);border-radius:6px;padding:.6rem .9rem;margin:.6rem 0}
        .persona h3{margin-top:0}
        dl.notes dt{font-weight:600}
        dl.notes dd{margin:0 0 .5rem}
        .spark svg{display:block;width:120px;height:32px}
        ul.legend{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:.3rem 1rem;font-size:.9rem}
        @media (max-width:600px){body{padding:.6rem;font-size:15px}h1{font-size:1.3rem}.value{font-size:1.15rem}
          table.runs .optional{display:none}}
        """;
}
