using PuppeteerSharp;

namespace Pipeline.Tests.Reports;

/// <summary>
/// Headless Chromium (Debian's <c>chromium</c>, or <c>CHROMIUM_PATH</c>) driven over the DevTools protocol by
/// PuppeteerSharp, which is pointed at the installed browser and never downloads one.
/// </summary>
public static class Browser
{
    /// <summary>The browser's path, or null when none is installed.</summary>
    public static string? Path { get; } = new[] { Environment.GetEnvironmentVariable("CHROMIUM_PATH"), "/usr/bin/chromium", "/usr/bin/chromium-browser" }
        .FirstOrDefault(p => !string.IsNullOrEmpty(p) && File.Exists(p));

    /// <summary>In CI (.ci/run installs it) a missing browser is a failure, never a skip.</summary>
    public static bool Required => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    /// <summary>Where screenshots go: the test results folder (<c>tests/Pipeline.Tests/TestResults/browser/</c>).</summary>
    public static string Artifacts { get; } = ArtifactDirectory();

    /// <summary>Opens a file at a window width, waits for it to load, and reports what a person and the network would see.</summary>
    public static async Task<PageVisit> VisitAsync(string file, int width, string screenshot)
    {
        if (Path is null) throw new InvalidOperationException("Chromium is not installed: apt-get install -y chromium (or set CHROMIUM_PATH)");
        await using var browser = await Puppeteer.LaunchAsync(new LaunchOptions
        {
            ExecutablePath = Path,
            Headless = true,
            // Root in a container has no user namespace for Chromium's sandbox; the page is our own file.
            Args = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
            Timeout = 30_000,
        });
        await using var page = await browser.NewPageAsync();
        var errors = new List<string>();
        var requests = new List<string>();
        page.Console += (_, e) => { if (e.Message.Type == ConsoleType.Error) errors.Add(e.Message.Text); };
        page.PageError += (_, e) => errors.Add(e.Message);
        page.Request += (_, e) => requests.Add(e.Request.Url);
        page.RequestFailed += (_, e) => errors.Add($"request failed: {e.Request.Url}");
        await page.SetViewportAsync(new ViewPortOptions { Width = width, Height = 900 });
        await page.GoToAsync(new Uri(file).AbsoluteUri, new NavigationOptions { WaitUntil = [WaitUntilNavigation.Load], Timeout = 30_000 });

        var path = System.IO.Path.Combine(Artifacts, screenshot);
        await page.ScreenshotAsync(path, new ScreenshotOptions { FullPage = true });
        return new PageVisit(
            errors,
            requests,
            await page.EvaluateExpressionAsync<int>("document.documentElement.scrollWidth"),
            await page.EvaluateExpressionAsync<int>("document.documentElement.clientWidth"),
            await page.EvaluateExpressionAsync<string>("document.body.innerText"),
            await page.EvaluateExpressionAsync<string[]>("[...document.querySelectorAll('section[id]')].map(s => s.id)"),
            await page.EvaluateExpressionAsync<string[]>("[...document.querySelectorAll('svg')].map(s => s.querySelector(':scope > title')?.textContent ?? '')"),
            await page.EvaluateExpressionAsync<string[]>("[...document.querySelectorAll('a[href]')].map(a => a.href)"),
            path);
    }

    private static string ArtifactDirectory()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(System.IO.Path.Combine(directory.FullName, "Pipeline.Tests.csproj"))) directory = directory.Parent;
        var path = System.IO.Path.Combine(directory?.FullName ?? AppContext.BaseDirectory, "TestResults", "browser");
        Directory.CreateDirectory(path);
        return path;
    }
}

/// <summary>What a visit saw: console errors, every request, the page's widths, its text, sections, chart titles and links.</summary>
public sealed record PageVisit(
    IReadOnlyList<string> Errors,
    IReadOnlyList<string> Requests,
    int ScrollWidth,
    int ClientWidth,
    string Text,
    IReadOnlyList<string> Sections,
    IReadOnlyList<string> ChartTitles,
    IReadOnlyList<string> Links,
    string Screenshot);

/// <summary>A test that needs Chromium: skipped with the reason where it is not installed, except in CI, where it fails.</summary>
public sealed class BrowserFactAttribute : FactAttribute
{
    public BrowserFactAttribute()
    {
        if (Browser.Path is null && !Browser.Required)
            Skip = "Chromium is not installed (apt-get install -y chromium, or set CHROMIUM_PATH); .ci/run installs it and CI never skips this.";
    }
}
