using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Pipeline.Analytics;
using Pipeline.Campaigns;
using Pipeline.Core;
using Pipeline.Embedded;
using Pipeline.Runner;

namespace Pipeline.Tests.Pipeline;

/// <summary>
/// Five monthly runs over order items planted to change between runs, on one bucket: customers who stop ordering,
/// new customers, customers who vanish, a segment that collapses (held, then released), stale data (held), and a
/// run accepted by its trigger. Every customer of a profile has the same statistics, so the segments are exactly
/// the planted groups and every count below follows from the plant.
/// </summary>
public sealed class SegmentsOverTimeTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>A customer's planted behaviour: last order <paramref name="Recency"/> days before as_of, weekly before that.</summary>
    private sealed record Profile(int Recency, int Orders, decimal Price)
    {
        public Profile Stale(int days) => this with { Recency = Recency + days };
    }

    private static readonly Profile Active = new(5, 10, 200m);     // A: recent, frequent, big baskets
    private static readonly Profile Regular = new(60, 4, 60m);     // B
    private static readonly Profile Lapsed = new(300, 1, 20m);     // C

    private static readonly DateOnly[] AsOf = [new(2026, 1, 1), new(2026, 2, 1), new(2026, 3, 1), new(2026, 4, 1), new(2026, 5, 1)];

    private static IEnumerable<long> Users(int from, int to) => Enumerable.Range(from, to - from + 1).Select(u => (long)u);

    private string WriteItems(string name, DateOnly asOf, IReadOnlyDictionary<long, Profile> customers)
    {
        var csv = new StringBuilder("id,order_id,user_id,product_id,inventory_item_id,status,created_at,shipped_at,delivered_at,returned_at,sale_price\n");
        var id = 0;
        foreach (var (user, profile) in customers.OrderBy(c => c.Key))
            for (var order = 0; order < profile.Orders; order++)
            {
                id++;
                var day = asOf.AddDays(-(profile.Recency + 7 * order));
                csv.Append(CultureInfo.InvariantCulture,
                    $"{id},{user * 100 + order},{user},1,{id},Complete,{day:yyyy-MM-dd} 12:00:00 UTC,,,,{profile.Price:0.00}\n");
            }
        return _dir.Write(name, csv.ToString());
    }

    private static JsonObject Trigger(string runId, DateOnly asOf, bool acceptHeld = false)
    {
        var trigger = new JsonObject
        {
            ["run_id"] = runId,
            ["window_start"] = asOf.AddDays(-365).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
            ["window_end"] = asOf.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
            ["k"] = 3,
            ["seed"] = 42,
        };
        if (acceptHeld) trigger["accept_held"] = true;
        return trigger;
    }

    private string Bucket => _dir.File("bucket");

    private async Task<RunManifest> RunAsync(string runId, DateOnly asOf, IReadOnlyDictionary<long, Profile> customers, bool acceptHeld = false)
    {
        var input = WriteItems($"{runId}.csv", asOf, customers);
        // A segment of 2 in 320 customers is the planted collapse; the default minimum share is for larger populations.
        await using var pipeline = LocalPipeline.Create(Bucket, input,
            settings: new Dictionary<string, string?> { ["QualityGate:MinSegmentShare"] = "0.01" });
        return await pipeline.RunAsync(Trigger(runId, asOf, acceptHeld), CancellationToken.None);
    }

    private T Read<T>(string objectName) => PipelineJson.Deserialize<T>(File.ReadAllBytes(Path.Combine(Bucket, objectName)));

    /// <summary>user_id → (centroid_id, previous_segment_id, segment_since, run_as_of, control_group).</summary>
    private Dictionary<long, (int Centroid, int? Previous, DateOnly Since, DateOnly RunAsOf, bool Control)> Predictions(string runId)
    {
        using var connection = DuckDb.Open(new EmbeddedOptions());
        var parts = DuckDb.Literal(Path.Combine(Bucket, BucketLayout.Predictions(runId)) + "*.parquet");
        using var command = DuckDb.Command(connection,
            $"SELECT user_id, centroid_id, previous_segment_id, segment_since, run_as_of, control_group FROM read_parquet({parts})");
        using var reader = command.ExecuteReader();
        var rows = new Dictionary<long, (int, int?, DateOnly, DateOnly, bool)>();
        while (reader.Read())
            rows[reader.GetInt64(0)] = (reader.GetInt32(1), reader.IsDBNull(2) ? null : reader.GetInt32(2),
                DateOnly.FromDateTime(reader.GetDateTime(3)), DateOnly.FromDateTime(reader.GetDateTime(4)), reader.GetBoolean(5));
        return rows;
    }

    [Fact]
    public async Task Movement_history_the_gate_and_audiences_follow_the_plant_over_five_runs()
    {
        // ---- Run 1: the baseline. A = users 1-100, B = 101-200, C = 201-300.
        var customers = new Dictionary<long, Profile>();
        foreach (var u in Users(1, 100)) customers[u] = Active;
        foreach (var u in Users(101, 200)) customers[u] = Regular;
        foreach (var u in Users(201, 300)) customers[u] = Lapsed;
        var run1 = await RunAsync("run-1", AsOf[0], customers);

        Assert.True(RunStatus.Completed == run1.Status, run1.Error?.Reason);
        var model = Read<SegmentModel>(BucketLayout.Model("run-1"));
        int IdOf(Profile p) => model.Centroids.Single(c => Math.Abs(c.DaysSinceLastOrder - p.Recency) < 1e-6).CentroidId;
        var (a, b, c) = (IdOf(Active), IdOf(Regular), IdOf(Lapsed));
        Assert.Equal(3, new[] { a, b, c }.Distinct().Count());

        var migration1 = Read<SegmentMigration>(BucketLayout.MigrationJson("run-1"));
        Assert.Null(migration1.PreviousRunId);
        Assert.Empty(migration1.Flows);
        Assert.Contains("first run", migration1.Note, StringComparison.Ordinal);
        Assert.StartsWith("note\n", File.ReadAllText(Path.Combine(Bucket, BucketLayout.MigrationCsv("run-1"))), StringComparison.Ordinal);
        Assert.True(run1.QualityGate!.Passed);
        Assert.Equal([QualityChecks.DaviesBouldin, QualityChecks.ChangedShare, QualityChecks.CentroidShift], run1.QualityGate.Skipped.Select(s => s.Name));
        Assert.Contains(run1.Notes, n => n.StartsWith("quality gate: changed_share skipped: no previous completed run", StringComparison.Ordinal));
        var predictions1 = Predictions("run-1");
        Assert.All(predictions1.Values, p => Assert.Null(p.Previous));
        Assert.All(predictions1.Values, p => Assert.Equal(AsOf[0], p.Since));

        // ---- Run 2: users 1-20 stop ordering and look like B; 291-300 vanish; 301-330 are new, like B.
        foreach (var u in Users(1, 20)) customers[u] = Regular;
        foreach (var u in Users(291, 300)) customers.Remove(u);
        foreach (var u in Users(301, 330)) customers[u] = Regular;
        var run2 = await RunAsync("run-2", AsOf[1], customers);

        Assert.Equal(RunStatus.Completed, run2.Status);
        var migration2 = Read<SegmentMigration>(BucketLayout.MigrationJson("run-2"));
        Assert.Equal("run-1", migration2.PreviousRunId);
        Assert.Equal(AsOf[0], migration2.PreviousAsOf);
        Assert.Equal(Sorted([(a, a, 80), (a, b, 20), (b, b, 100), (c, c, 90), (c, null, 10), (null, b, 30)]), Cells(migration2));
        Assert.Equal((30L, 10L, 270L, 20L), (migration2.New, migration2.Gone, migration2.Stayed, migration2.Moved));
        Assert.Equal(Math.Round(20.0 / 290, 6), migration2.ChangedShare);
        // Rows add up to last run's sizes plus new, columns to this run's sizes plus gone.
        Assert.Equal([(a, 100L), (b, 100L), (c, 100L)], migration2.PreviousSegments.Select(s => (s.CentroidId, s.Customers)).OrderBy(s => s.CentroidId));
        Assert.Equal(Sorted3((a, 80), (b, 150), (c, 90)), migration2.Segments.Select(s => (s.CentroidId, s.Customers)).ToList());
        var csv2 = File.ReadAllLines(Path.Combine(Bucket, BucketLayout.MigrationCsv("run-2")));
        Assert.Equal(5, csv2.Length); // header, three segments, new
        Assert.EndsWith(",gone", csv2[0], StringComparison.Ordinal);
        Assert.StartsWith(",new,", csv2[4], StringComparison.Ordinal);
        Assert.Equal(300L + 30, csv2.Skip(1).Sum(line => line.Split(',').Skip(2).Where(v => v.Length > 0).Sum(long.Parse)));

        var predictions2 = Predictions("run-2");
        Assert.Equal(320, predictions2.Count);
        Assert.All(Users(1, 20), u => Assert.Equal((b, (int?)a, AsOf[1]), (predictions2[u].Centroid, predictions2[u].Previous, predictions2[u].Since)));
        Assert.All(Users(21, 100), u => Assert.Equal((a, (int?)a, AsOf[0]), (predictions2[u].Centroid, predictions2[u].Previous, predictions2[u].Since)));
        Assert.All(Users(301, 330), u => Assert.Equal((b, (int?)null, AsOf[1]), (predictions2[u].Centroid, predictions2[u].Previous, predictions2[u].Since)));
        Assert.All(predictions2.Values, p => Assert.Equal(AsOf[1], p.RunAsOf));

        // The control group is the salted hash, stable across runs, and left out of the audiences.
        var salt = new AudienceOptions().ControlGroupSalt;
        Assert.All(predictions2, p => Assert.Equal(ControlGroup.Contains(p.Key, salt, 0.10), p.Value.Control));
        Assert.All(predictions2.Where(p => predictions1.ContainsKey(p.Key)), p => Assert.Equal(predictions1[p.Key].Control, p.Value.Control));
        Assert.InRange(predictions2.Values.Count(p => p.Control), 15, 50);
        var segmentB = model.Centroids.Single(x => x.CentroidId == b).Segment;
        var audienceB = File.ReadAllLines(Path.Combine(Bucket, BucketLayout.Audience("run-2", Read<SegmentModel>(BucketLayout.Model("run-2")).Centroids.Single(x => x.CentroidId == b).Segment)));
        Assert.Equal("user_id", audienceB[0]);
        Assert.Equal(
            predictions2.Where(p => p.Value.Centroid == b && !ControlGroup.Contains(p.Key, salt, 0.10)).Select(p => p.Key).Order(),
            audienceB.Skip(1).Select(long.Parse));
        Assert.NotEmpty(segmentB);

        var history2 = Read<RunHistory>(BucketLayout.History);
        Assert.Equal(["run-1", "run-2"], history2.Runs.Select(r => r.RunId));
        Assert.Equal((320L, 3, AsOf[1]), (history2.Runs[1].Customers, history2.Runs[1].K, history2.Runs[1].AsOf));
        Assert.Equal(Math.Round(20.0 / 290, 6), history2.Runs[1].ChangedShare);
        Assert.Equal(150L, history2.Runs[1].Segments.Single(s => s.CentroidId == b).Customers);
        Assert.Null(history2.Runs[0].ChangedShare);

        // The campaign speaks of the movement beside the lab's prompt, never inside it.
        var campaign2 = Read<CampaignDocument>(BucketLayout.CampaignJson("run-2"));
        Assert.DoesNotContain("Movement", campaign2.Prompt, StringComparison.Ordinal);
        Assert.Contains($"cluster {b} (", campaign2.MovementContext, StringComparison.Ordinal);
        Assert.Contains("Grew from 100 to 150 customers since 2026-01-01 (+50.0%). 50 newcomers: 30 new to the segmentation, 20 from",
            campaign2.Segments.Single(s => s.CentroidId == b).Persona, StringComparison.Ordinal);

        // ---- Run 3: segment A collapses to two customers (both in the training split); the rest move to B.
        var survivors = Users(21, 100).Where(u => !HoldOutSplit.IsHeldOut(u, 42, 0.2)).Take(2).ToList();
        foreach (var u in Users(21, 100).Except(survivors)) customers[u] = Regular;
        var run3 = await RunAsync("run-3", AsOf[2], customers);

        Assert.Equal(RunStatus.Held, run3.Status);
        Assert.Equal([QualityChecks.MinSegmentShare], run3.QualityGate!.Failed.Select(f => f.Name));
        Assert.Equal(Math.Round(2.0 / 320, 6), run3.QualityGate.Failed.Single().Value);
        Assert.Equal(0.01, run3.QualityGate.Failed.Single().Threshold);
        Assert.True(File.Exists(Path.Combine(Bucket, BucketLayout.CampaignJson("run-3"))), "a held run still writes every output");
        Assert.Equal("run-2", Read<LatestRun>(BucketLayout.Latest).RunId);
        Assert.Equal(["run-1", "run-2"], Read<RunHistory>(BucketLayout.History).Runs.Select(r => r.RunId));
        var migration3 = Read<SegmentMigration>(BucketLayout.MigrationJson("run-3"));
        Assert.Equal(Sorted([(a, a, 2), (a, b, 78), (b, b, 150), (c, c, 90)]), Cells(migration3));
        var campaign3 = Read<CampaignDocument>(BucketLayout.CampaignJson("run-3"));
        var segmentA = migration3.PreviousSegments.Single(s => s.CentroidId == a).Segment;
        if (CampaignMovement.IsValuable(segmentA) && !CampaignMovement.IsValuable(migration3.Segments.Single(s => s.CentroidId == b).Segment))
            Assert.Contains($"Act on the 78 customers who moved from {segmentA} to", campaign3.Segments.Single(s => s.CentroidId == a).NextMarketingStep, StringComparison.Ordinal);
        var predictions3 = Predictions("run-3");
        Assert.All(survivors, u => Assert.Equal((a, AsOf[0]), (predictions3[u].Centroid, predictions3[u].Since)));
        Assert.All(Users(21, 100).Except(survivors), u => Assert.Equal((b, (int?)a, AsOf[2]), (predictions3[u].Centroid, predictions3[u].Previous, predictions3[u].Since)));
        Assert.All(Users(1, 20), u => Assert.Equal((b, AsOf[1]), (predictions3[u].Centroid, predictions3[u].Since)));
        Assert.All(Users(101, 200), u => Assert.Equal((b, AsOf[0]), (predictions3[u].Centroid, predictions3[u].Since)));

        // Released deliberately: completed, in the history, latest.
        var ledger = new RunLedger(new FileSystemBucket(Microsoft.Extensions.Options.Options.Create(new EmbeddedOptions { BucketDirectory = Bucket })), TimeProvider.System);
        var released = await ledger.ReleaseAsync("run-3", "runner", CancellationToken.None);
        Assert.Equal((RunStatus.Completed, "runner"), (released.Status, released.QualityGate!.Release!.By));
        Assert.Equal("run-3", Read<LatestRun>(BucketLayout.Latest).RunId);
        var history3 = Read<RunHistory>(BucketLayout.History);
        Assert.Equal(["run-1", "run-2", "run-3"], history3.Runs.Select(r => r.RunId));
        Assert.True(history3.Runs[2].Released);
        await Assert.ThrowsAsync<PermanentPipelineException>(() => ledger.ReleaseAsync("run-3", "runner", CancellationToken.None));

        // ---- Run 4: the feed stopped 30 days before as_of: every last order is 30 days older.
        var stale = customers.ToDictionary(x => x.Key, x => x.Value.Stale(30));
        var run4 = await RunAsync("run-4", AsOf[3], stale);

        Assert.Equal(RunStatus.Held, run4.Status);
        Assert.Equal([QualityChecks.FreshData, QualityChecks.MinSegmentShare], run4.QualityGate!.Failed.Select(f => f.Name));
        Assert.Equal(35.0, run4.QualityGate.Checks.Single(x => x.Name == QualityChecks.FreshData).Value);
        Assert.Equal("run-3", run4.QualityGate.ComparedTo);
        Assert.Equal(QualityChecks.CentroidShift, run4.QualityGate.Checks.Single(x => x.Name == QualityChecks.CentroidShift && x.Outcome == CheckOutcome.Passed).Name);
        Assert.Equal("run-3", Read<LatestRun>(BucketLayout.Latest).RunId);
        Assert.Equal(3, Read<RunHistory>(BucketLayout.History).Runs.Count);
        var migration4 = Read<SegmentMigration>(BucketLayout.MigrationJson("run-4"));
        Assert.Equal((0L, 0L, 0L, 0.0), (migration4.New, migration4.Gone, migration4.Moved, migration4.ChangedShare!.Value));

        // ---- Run 5: the same stale data, accepted by its trigger.
        var run5 = await RunAsync("run-5", AsOf[4], customers.ToDictionary(x => x.Key, x => x.Value.Stale(30)), acceptHeld: true);

        Assert.Equal(RunStatus.Completed, run5.Status);
        Assert.Equal("trigger", run5.QualityGate!.Release!.By);
        Assert.False(run5.QualityGate.Passed);
        Assert.Equal("run-5", Read<LatestRun>(BucketLayout.Latest).RunId);
        var history5 = Read<RunHistory>(BucketLayout.History);
        Assert.Equal(["run-1", "run-2", "run-3", "run-5"], history5.Runs.Select(r => r.RunId));
        Assert.Equal([false, false, true, true], history5.Runs.Select(r => r.Released));
        Assert.Equal([300L, 320, 320, 320], history5.Runs.Select(r => r.Customers));
        // Run 5 compares with run 3, the last completed run (run 4 is held): nobody moved since.
        var predictions5 = Predictions("run-5");
        Assert.All(survivors, u => Assert.Equal(AsOf[0], predictions5[u].Since));
        Assert.All(Users(21, 100).Except(survivors), u => Assert.Equal((b, AsOf[2]), (predictions5[u].Centroid, predictions5[u].Since)));

        // The Runner reads the same bucket: the history as a table, the held run, a run's gate and matrix, a diff.
        var list = Runs["list"];
        Assert.Equal(4, list.Split('\n').Count(l => l.StartsWith("run-", StringComparison.Ordinal)));
        Assert.Contains("  run-4", list, StringComparison.Ordinal);
        Assert.Contains("failed: fresh_data, min_segment_share", list, StringComparison.Ordinal);
        var show = Runs["show", "run-2"];
        Assert.Contains("Migration from run-1 (2026-01-01): 20 moved, 270 stayed, 30 new, 10 gone", show, StringComparison.Ordinal);
        Assert.Contains("skipped", Runs["show", "run-1"], StringComparison.Ordinal);
        Assert.Contains("Migration from run-1", Runs["diff", "run-1", "run-2"], StringComparison.Ordinal);
        Assert.Equal(1, Runs.Exit("release", "run-2"));

        // Released from the Runner, a held run's report and the index say so, and the Runner prints where they are.
        Assert.DoesNotContain("was released by", File.ReadAllText(Path.Combine(Bucket, BucketLayout.Report("run-4"))), StringComparison.Ordinal);
        var release = Runs["release", "run-4"];
        Assert.Contains("Run run-4 released: completed, in history.json; latest stays run-5 (a later run).", release, StringComparison.Ordinal);
        Assert.Contains($"Report: {Path.Combine(Bucket, BucketLayout.Report("run-4"))}", release, StringComparison.Ordinal);
        Assert.Contains("Did not pass, but was released by runner", File.ReadAllText(Path.Combine(Bucket, BucketLayout.Report("run-4"))), StringComparison.Ordinal);
        Assert.Contains($"Report: {Path.Combine(Bucket, BucketLayout.Report("run-2"))}", show, StringComparison.Ordinal);
    }

    private RunsInvocation Runs => new(Bucket);

    /// <summary>Invokes <c>runs</c> on the bucket and returns what it printed.</summary>
    private sealed class RunsInvocation(string bucket)
    {
        public string this[params string[] args] => Invoke(args).Output;

        public int Exit(params string[] args) => Invoke(args).Exit;

        private (int Exit, string Output) Invoke(string[] args)
        {
            var output = new StringWriter();
            var exit = Runner.Commands.RunsCommand.Create().Parse([args[0], .. args[1..], "--bucket", bucket])
                .Invoke(new System.CommandLine.InvocationConfiguration { Output = output, Error = output });
            return (exit, output.ToString());
        }
    }

    private static List<(int? From, int? To, long Customers)> Cells(SegmentMigration migration) =>
        migration.Flows.Select(f => (f.From, f.To, f.Customers)).ToList();

    private static List<(int? From, int? To, long Customers)> Sorted(IEnumerable<(int? From, int? To, long Customers)> cells) =>
        cells.OrderBy(x => x.From ?? int.MaxValue).ThenBy(x => x.To ?? int.MaxValue).ToList();

    private static List<(int, long)> Sorted3(params (int, long)[] sizes) => sizes.OrderBy(s => s.Item1).ToList();
}
