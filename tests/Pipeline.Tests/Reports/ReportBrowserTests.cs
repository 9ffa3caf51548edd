using System.Globalization;
using System.Text.Json.Nodes;
using Pipeline.Campaigns;
using Pipeline.Core;
using Pipeline.Embedded;
using Pipeline.Embedded.SampleData;
using Pipeline.Reports;
using Pipeline.Runner;

namespace Pipeline.Tests.Reports;

/// <summary>
/// A bucket with three real runs of the chain on generated data: two completed (k chosen automatically), then one
/// that fails on a bad trigger. Every run end wrote its report and the index.
/// </summary>
public sealed class ReportRunsFixture : IAsyncLifetime, IDisposable
{
    private readonly TempDirectory _directory = new();

    public string Bucket => System.IO.Path.Combine(_directory.Path, "bucket");
    public RunManifest First { get; private set; } = null!;
    public RunManifest Second { get; private set; } = null!;
    public RunManifest Broken { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var input = _directory.File("order_items.parquet");
        var sample = new SampleOptions(Users: 3_000, Items: null, Seed: 11, EndDate: new DateOnly(2026, 1, 1));
        await OrderItemsSample.WriteAsync(input, sample, null, CancellationToken.None);
        var (users, products) = ProfileTablesSample.PathsBeside(input);
        await ProfileTablesSample.WriteAsync(users, products, 3_000, sample, CancellationToken.None);

        // The first run has order items only (no profile); the second has users and products too.
        await using (var ordersOnly = LocalPipeline.Create(Bucket, input))
            First = await ordersOnly.RunAsync(Trigger("first", "2024-01-01", "2025-01-01"), CancellationToken.None);
        await using var pipeline = LocalPipeline.Create(Bucket, input, settings: new Dictionary<string, string?>
        {
            ["Embedded:Users"] = users,
            ["Embedded:Products"] = products,
        });
        // A year later the segments shift more than the quality gate lets through unasked; the team accepts it in
        // advance, so the report shows a completed run beside the checks it failed.
        var second = Trigger("second", "2025-01-01", "2026-01-01");
        second["accept_held"] = true;
        Second = await pipeline.RunAsync(second, CancellationToken.None);
        Broken = await pipeline.RunAsync(Trigger("broken", "2026-01-01", "2025-01-01"), CancellationToken.None);
    }

    private static JsonObject Trigger(string runId, string start, string end) =>
        new() { ["run_id"] = runId, ["window_start"] = start, ["window_end"] = end, ["k"] = "auto", ["seed"] = 42 };

    public string File(string name) => System.IO.Path.Combine(Bucket, name);

    /// <summary>Copies every file of the bucket into <paramref name="directory"/>, for a test that changes them.</summary>
    public void CopyTo(string directory)
    {
        foreach (var file in Directory.EnumerateFiles(Bucket, "*", SearchOption.AllDirectories))
        {
            var target = System.IO.Path.Combine(directory, System.IO.Path.GetRelativePath(Bucket, file));
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(target)!);
            System.IO.File.Copy(file, target);
        }
    }

    public T Read<T>(string name) => PipelineJson.Deserialize<T>(System.IO.File.ReadAllBytes(File(name)));

    public Task DisposeAsync()
    {
        Dispose();
        return Task.CompletedTask;
    }

    public void Dispose() => _directory.Dispose();
}

/// <summary>report.html and index.html opened from disk in headless Chromium, at a desktop's and a phone's width.</summary>
[Trait("Category", "Browser")]
public sealed class ReportBrowserTests(ReportRunsFixture runs) : IClassFixture<ReportRunsFixture>
{
    private const int PhoneWidth = 390;

    [BrowserFact]
    public async Task A_completed_runs_report_shows_every_section_with_its_numbers_and_fetches_nothing()
    {
        Assert.Equal(RunStatus.Completed, runs.Second.Status);
        var report = runs.File(BucketLayout.Report("second"));
        var model = runs.Read<SegmentModel>(BucketLayout.Model("second"));
        var campaign = runs.Read<CampaignDocument>(BucketLayout.CampaignJson("second"));

        foreach (var (width, shot) in new[] { (1280, "report-desktop.png"), (PhoneWidth, "report-phone.png") })
        {
            var visit = await Browser.VisitAsync(report, width, shot);
            Assert.Empty(visit.Errors);
            Assert.All(visit.Requests, url => Assert.StartsWith("file://", url));
            Assert.True(visit.ScrollWidth <= visit.ClientWidth, $"at {width} px the page is {visit.ScrollWidth} px wide");
            Assert.Equal(RunReportPage.Sections, visit.Sections);
            Assert.True(File.Exists(visit.Screenshot));

            // The headline, the table and the model section carry the run's own numbers.
            Assert.Contains("completed", visit.Text);
            Assert.Contains("2025-01-01 to 2025-12-31", visit.Text);
            Assert.Contains(runs.Second.Metrics["customers"].ToString("N0", CultureInfo.InvariantCulture), visit.Text);
            Assert.Contains(model.Metrics.DaviesBouldinIndex.ToString("0.###", CultureInfo.InvariantCulture), visit.Text);
            foreach (var row in campaign.Centroids)
            {
                Assert.Contains(row.Segment, visit.Text);
                Assert.Contains(row.Customers.ToString("N0", CultureInfo.InvariantCulture), visit.Text);
            }
            Assert.All(campaign.Segments, s => Assert.Contains(s.NextMarketingStep, visit.Text));
            // Who the customers are, from profiles.json: the population's share of its largest gender, and every segment.
            var profiles = runs.Read<ProfilesDocument>(BucketLayout.Profiles("second"));
            var gender = profiles.Population.Gender!.Cells[0];
            Assert.Contains($"Gender (share of customers)", visit.Text);
            Assert.Contains(gender.Share!.Value.ToString("0.0%", CultureInfo.InvariantCulture), visit.Text);
            Assert.DoesNotContain("No demographic profile", visit.Text);
            // k was automatic: the candidates are drawn, the chosen one named.
            Assert.Contains($"k={model.K} (chosen)", File.ReadAllText(report));
            // The first scatter's legend lists the segments by id, each with its id, whatever order they are drawn in.
            var html = File.ReadAllText(report);
            var svgStart = html.IndexOf("<svg", StringComparison.Ordinal);
            var scatter = html[svgStart..html.IndexOf("</svg>", svgStart, StringComparison.Ordinal)];
            var legend = model.Centroids.OrderBy(c => c.CentroidId)
                .Select(c => System.Text.RegularExpressions.Regex.Match(scatter,
                    $@">\s*{c.CentroidId} {System.Text.RegularExpressions.Regex.Escape(System.Net.WebUtility.HtmlEncode(c.Segment))}\s*<") is { Success: true } m ? m.Index : -1)
                .ToList();
            Assert.All(legend, position => Assert.True(position >= 0, "a segment is missing from the scatter's legend"));
            Assert.Equal(legend.Order(), legend);

            // Every chart has an accessible name: three scatters, the profile, the k scores.
            Assert.True(visit.ChartTitles.Count >= 5, $"{visit.ChartTitles.Count} charts");
            Assert.All(visit.ChartTitles, t => Assert.False(string.IsNullOrWhiteSpace(t)));
        }
    }

    [BrowserFact]
    public async Task A_first_run_says_what_it_cannot_show_instead_of_leaving_sections_out()
    {
        var visit = await Browser.VisitAsync(runs.File(BucketLayout.Report("first")), PhoneWidth, "report-first-run-phone.png");

        Assert.Empty(visit.Errors);
        Assert.Equal(RunReportPage.Sections, visit.Sections);
        Assert.Contains("No users table: gender, age bands, countries and traffic sources are not profiled", visit.Text);
        Assert.Contains("sizes over time appear from the second completed run", visit.Text);
        Assert.True(visit.ScrollWidth <= visit.ClientWidth, $"the page is {visit.ScrollWidth} px wide");
    }

    [BrowserFact]
    public async Task The_index_lists_every_run_newest_first_and_links_each_report()
    {
        Assert.Equal(RunStatus.Failed, runs.Broken.Status);
        foreach (var (width, shot) in new[] { (1280, "index-desktop.png"), (PhoneWidth, "index-phone.png") })
        {
            var visit = await Browser.VisitAsync(runs.File(BucketLayout.Index), width, shot);
            Assert.Empty(visit.Errors);
            Assert.All(visit.Requests, url => Assert.StartsWith("file://", url));
            Assert.True(visit.ScrollWidth <= visit.ClientWidth, $"at {width} px the index is {visit.ScrollWidth} px wide");

            Assert.Contains("failed", visit.Text);
            Assert.Contains(runs.Second.Metrics["customers"].ToString("N0", CultureInfo.InvariantCulture), visit.Text);

            var reports = visit.Links.Where(l => l.EndsWith("/report.html", StringComparison.Ordinal)).ToList();
            Assert.Equal(["broken", "second", "first"], reports.Select(l => l.Split('/')[^2]));
            Assert.All(reports, link => Assert.True(File.Exists(new Uri(link).LocalPath), $"{link} does not exist"));
        }
        // The sparklines show the completed runs' sizes and have names.
        Assert.Contains("Segment sizes: 1 ", File.ReadAllText(runs.File(BucketLayout.Index)));
    }

    [BrowserFact]
    public async Task A_failed_runs_report_says_where_and_why_it_failed()
    {
        var visit = await Browser.VisitAsync(runs.File(BucketLayout.Report("broken")), PhoneWidth, "report-failed-phone.png");

        Assert.Empty(visit.Errors);
        Assert.Equal(RunReportPage.Sections, visit.Sections);
        Assert.Contains($"The run failed in {runs.Broken.Error!.Stage}", visit.Text);
        Assert.Contains("No segments", visit.Text);
        Assert.Contains("No model", visit.Text);
    }

    [Fact]
    public async Task Writing_a_runs_report_again_gives_the_same_page_with_unique_ids()
    {
        using var copy = new TempDirectory();
        runs.CopyTo(copy.Path);
        var bucket = new FileSystemBucket(copy.Path);
        var publisher = new ReportPublisher(bucket, new RunLedger(bucket, TimeProvider.System), TimeProvider.System,
            Microsoft.Extensions.Logging.Abstractions.NullLogger<ReportPublisher>.Instance);
        var report = Path.Combine(copy.Path, BucketLayout.Report("second"));

        await publisher.WriteReportAsync("second", CancellationToken.None);
        var first = File.ReadAllText(report);
        // Another report in between: Skia numbers the clip paths of every chart it draws in the process.
        await publisher.WriteReportAsync("first", CancellationToken.None);
        await publisher.WriteReportAsync("second", CancellationToken.None);

        Assert.Equal(first, File.ReadAllText(report));
        var ids = System.Text.RegularExpressions.Regex.Matches(first, "\\bid=\"([^\"]+)\"").Select(m => m.Groups[1].Value).ToList();
        Assert.True(ids.Count > 20, $"{ids.Count} ids");
        Assert.Equal(ids.Count, ids.Distinct().Count());
    }

    [BrowserFact]
    public async Task The_browser_check_catches_a_page_that_asks_another_host()
    {
        using var directory = new TempDirectory();
        var page = directory.Write("leaky.html", RunIndexPage.Render([], DateTimeOffset.UtcNow)
            .Replace("</main>", "<img alt=\"tracker\" src=\"http://127.0.0.1:9/pixel.png\"></main>", StringComparison.Ordinal));

        var visit = await Browser.VisitAsync(page, 800, "leaky.png");

        // The page's own policy refuses the request, and the browser says so on the console: the check that every
        // report passes is one that a leaking page fails.
        Assert.Contains(visit.Errors, e => e.Contains("127.0.0.1:9", StringComparison.Ordinal));
    }
}

/// <summary>
/// The sections fed by segments over time — the quality gate, the movement matrix, sizes over runs — rendered from
/// those records as the bucket holds them: a copy of the fixture's bucket, with <c>migration.json</c> computed from
/// the two runs' predictions, <c>history.json</c> from their campaigns, and a held verdict in the manifest.
/// </summary>
[Trait("Category", "Browser")]
public sealed class ReportOverTimeTests(ReportRunsFixture runs) : IClassFixture<ReportRunsFixture>
{
    [BrowserFact]
    public async Task A_held_run_shows_its_failed_check_the_movement_heat_map_and_sizes_over_runs()
    {
        using var copy = new TempDirectory();
        runs.CopyTo(copy.Path);
        var bucket = new FileSystemBucket(copy.Path);
        var ledger = new RunLedger(bucket, TimeProvider.System);
        var migration = Migration(copy.Path);
        await bucket.WriteAsync(BucketLayout.MigrationJson("second"), PipelineJson.Serialize(migration), ContentTypes.Json, null, CancellationToken.None);
        await bucket.WriteAsync(BucketLayout.History, PipelineJson.Serialize(new RunHistory([History(runs.First, migration.PreviousSegments)])),
            ContentTypes.Json, null, CancellationToken.None);
        var gate = new QualityGate(false,
        [
            new QualityCheck(QualityChecks.EnoughCustomers, CheckOutcome.Passed, migration.Segments.Sum(s => s.Customers), 80, "enough customers for k"),
            new QualityCheck(QualityChecks.ChangedShare, CheckOutcome.Failed, migration.ChangedShare, 0.05, "too many customers changed segment"),
        ], "first");
        await ledger.UpdateAsync("second", null, m => m with { Status = RunStatus.Held, QualityGate = gate }, CancellationToken.None);

        await new ReportPublisher(bucket, ledger, TimeProvider.System, Microsoft.Extensions.Logging.Abstractions.NullLogger<ReportPublisher>.Instance)
            .WriteReportAsync("second", CancellationToken.None);
        var visit = await Browser.VisitAsync(Path.Combine(copy.Path, BucketLayout.Report("second")), 390, "report-held-phone.png");

        Assert.Empty(visit.Errors);
        Assert.True(visit.ScrollWidth <= visit.ClientWidth, $"the page is {visit.ScrollWidth} px wide");
        Assert.Contains("held", visit.Text);
        Assert.Contains("Did not pass", visit.Text);
        Assert.Contains("too many customers changed segment", visit.Text);
        Assert.Contains("Compared with run first", visit.Text);
        Assert.Contains(migration.Stayed.ToString("N0", CultureInfo.InvariantCulture), visit.Text);
        Assert.Contains(migration.New.ToString("N0", CultureInfo.InvariantCulture), visit.Text);
        Assert.Contains("Customers moving between segments since the previous run", visit.ChartTitles);
        Assert.Contains("Customers per segment over the last 2 runs", visit.ChartTitles);
    }

    /// <summary>From → to counts of the two runs' predictions, joined on user id (null: new, or gone).</summary>
    private static SegmentMigration Migration(string bucket)
    {
        using var connection = DuckDb.Open(new EmbeddedOptions());
        string Parts(string runId) => DuckDb.Literal(Path.Combine(bucket, BucketLayout.Predictions(runId)) + "*.parquet");
        using var command = DuckDb.Command(connection, $"""
            SELECT p.centroid_id, c.centroid_id, count(*)
            FROM read_parquet({Parts("first")}) p FULL OUTER JOIN read_parquet({Parts("second")}) c USING (user_id)
            GROUP BY ALL ORDER BY 1 NULLS LAST, 2 NULLS LAST
            """);
        using var reader = command.ExecuteReader();
        var flows = new List<MigrationFlow>();
        while (reader.Read())
            flows.Add(new MigrationFlow(reader.IsDBNull(0) ? null : reader.GetInt32(0), reader.IsDBNull(1) ? null : reader.GetInt32(1), reader.GetInt64(2)));
        static List<SegmentSize> Sizes(IEnumerable<MigrationFlow> flows, Func<MigrationFlow, int?> key) =>
            [.. flows.Where(f => key(f) is not null).GroupBy(f => key(f)!.Value).OrderBy(g => g.Key).Select(g => new SegmentSize(g.Key, $"segment {g.Key}", g.Sum(f => f.Customers)))];
        var stayed = flows.Where(f => f.From is not null && f.From == f.To).Sum(f => f.Customers);
        var moved = flows.Where(f => f.From is not null && f.To is not null && f.From != f.To).Sum(f => f.Customers);
        return new SegmentMigration("second", new DateOnly(2026, 1, 1), "first", new DateOnly(2025, 1, 1),
            Sizes(flows, f => f.From), Sizes(flows, f => f.To), flows,
            flows.Where(f => f.From is null).Sum(f => f.Customers), flows.Where(f => f.To is null).Sum(f => f.Customers),
            stayed, moved, stayed + moved > 0 ? moved / (double)(stayed + moved) : null, null);
    }

    private static HistoryEntry History(RunManifest run, IReadOnlyList<SegmentSize> sizes)
    {
        var total = sizes.Sum(s => s.Customers);
        return new HistoryEntry(run.RunId, run.Parameters!.AsOf, run.Parameters.WindowStart, run.Parameters.WindowEnd, sizes.Count,
            run.Parameters.Metrics, total, [.. sizes.Select(s => new HistorySegment(s.CentroidId, s.Segment, s.Customers, s.Customers / (double)total))],
            run.Metrics["davies_bouldin_index"], run.Metrics["mean_squared_distance"], null, total, 0, run.UpdatedAt, false);
    }
}
