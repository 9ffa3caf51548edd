using System.ComponentModel.DataAnnotations;

namespace Pipeline.Core;

/// <summary>
/// <c>runs/{run_id}/migration.json</c> (and <c>migration.csv</c>): how customers moved between the previous completed
/// run's segments and this run's, by stable segment id. A flow from <c>null</c> is a customer new to the segmentation
/// (the <c>new</c> row); a flow to <c>null</c> is a customer segmented last time and absent now (the <c>gone</c>
/// column). Rows add up to last run's sizes plus <c>new</c>; columns to this run's sizes plus <c>gone</c>.
/// </summary>
/// <param name="PreviousRunId">The previous completed run; null for the first run, which has no matrix.</param>
/// <param name="PreviousSegments">Last run's segments and sizes (the matrix's rows); empty for the first run.</param>
/// <param name="Segments">This run's segments and sizes (the matrix's columns).</param>
/// <param name="Flows">Every non-zero cell, ordered by from then to (nulls last).</param>
/// <param name="Stayed">Customers in both runs, in the same segment.</param>
/// <param name="Moved">Customers in both runs, in another segment.</param>
/// <param name="ChangedShare">Moved / (stayed + moved): the share of returning customers who changed segment;
/// null for the first run or when no customer returned.</param>
/// <param name="Note">What a reader should know, e.g. that the first run has nothing to compare with.</param>
public sealed record SegmentMigration(
    string RunId,
    DateOnly AsOf,
    string? PreviousRunId,
    DateOnly? PreviousAsOf,
    IReadOnlyList<SegmentSize> PreviousSegments,
    IReadOnlyList<SegmentSize> Segments,
    IReadOnlyList<MigrationFlow> Flows,
    long New,
    long Gone,
    long Stayed,
    long Moved,
    double? ChangedShare,
    string? Note)
{
    /// <summary>The name the matrix gives the row of customers new to the segmentation.</summary>
    public const string NewRow = "new";

    /// <summary>The name the matrix gives the column of customers segmented last time and absent now.</summary>
    public const string GoneColumn = "gone";

    /// <summary>Customers who went from <paramref name="from"/> (null: new) to <paramref name="to"/> (null: gone).</summary>
    public long Count(int? from, int? to) => Flows.Where(f => f.From == from && f.To == to).Sum(f => f.Customers);
}

/// <summary>One cell of the migration matrix: customers who were in <paramref name="From"/> (null: new) and are in
/// <paramref name="To"/> (null: gone).</summary>
public sealed record MigrationFlow(int? From, int? To, long Customers);

/// <summary>
/// <c>history.json</c> at the bucket root: one entry per completed (or released) run, oldest first. Written whole
/// with a conditional write, so two runs finishing at once both land.
/// </summary>
public sealed record RunHistory(IReadOnlyList<HistoryEntry> Runs)
{
    public static RunHistory Empty { get; } = new([]);
}

/// <summary>One completed run in <c>history.json</c>.</summary>
/// <param name="ChangedShare">Share of returning customers who changed segment (<see cref="SegmentMigration.ChangedShare"/>);
/// null for the first run.</param>
/// <param name="Released">The run failed the quality gate and was released deliberately.</param>
public sealed record HistoryEntry(
    string RunId,
    DateOnly AsOf,
    DateOnly WindowStart,
    DateOnly WindowEnd,
    int K,
    StatsPreset Metrics,
    long Customers,
    IReadOnlyList<HistorySegment> Segments,
    double DaviesBouldinIndex,
    double MeanSquaredDistance,
    double? ChangedShare,
    long New,
    long Gone,
    DateTimeOffset CompletedAt,
    bool Released);

/// <summary>A segment's size and share of the run's customers.</summary>
public sealed record HistorySegment(int CentroidId, string Segment, long Customers, double Share);

/// <summary>What a quality check concluded.</summary>
public enum CheckOutcome
{
    Passed,
    Failed,
    /// <summary>Nothing to compare with (the first run), or not applicable.</summary>
    Skipped,
}

/// <summary>
/// One check of the quality gate with the number it measured and the threshold it was held to (recorded in the
/// manifest, so a reader sees why a run was held without knowing the settings of the day).
/// </summary>
/// <param name="Name">One of <see cref="QualityChecks"/>' names.</param>
/// <param name="Value">What was measured; null when skipped.</param>
/// <param name="Detail">The check in words, with its numbers.</param>
public sealed record QualityCheck(string Name, CheckOutcome Outcome, double? Value, double Threshold, string Detail);

/// <summary>The names of the quality gate's checks.</summary>
public static class QualityChecks
{
    /// <summary>Customers ≥ k × <see cref="QualityGateOptions.MinCustomersPerSegment"/>.</summary>
    public const string EnoughCustomers = "enough_customers";
    /// <summary>Days from the window's newest counted order to as_of ≤ <see cref="QualityGateOptions.MaxDataAgeDays"/>.</summary>
    public const string FreshData = "fresh_data";
    /// <summary>The smallest segment's share ≥ <see cref="QualityGateOptions.MinSegmentShare"/>.</summary>
    public const string MinSegmentShare = "min_segment_share";
    /// <summary>Held-out Davies–Bouldin index ≤ the previous run's × (1 + <see cref="QualityGateOptions.MaxDaviesBouldinIncrease"/>).</summary>
    public const string DaviesBouldin = "davies_bouldin";
    /// <summary>Share of returning customers who changed segment ≤ <see cref="QualityGateOptions.MaxChangedShare"/>.</summary>
    public const string ChangedShare = "changed_share";
    /// <summary>Largest move of a matched centroid, in standardized units, ≤ <see cref="QualityGateOptions.MaxCentroidShift"/>.</summary>
    public const string CentroidShift = "centroid_shift";
}

/// <summary>
/// The quality gate's verdict in the manifest. A run whose gate did not pass ends <see cref="RunStatus.Held"/>:
/// every output written, but not <c>latest.json</c> nor <c>history.json</c>, until it is released.
/// </summary>
/// <param name="ComparedTo">The previous completed run the comparative checks used; null for the first run.</param>
/// <param name="Release">Who released a held run (or accepted it in advance), and when.</param>
public sealed record QualityGate(
    bool Passed,
    IReadOnlyList<QualityCheck> Checks,
    string? ComparedTo,
    GateRelease? Release = null)
{
    [System.Text.Json.Serialization.JsonIgnore]
    public IEnumerable<QualityCheck> Failed => Checks.Where(c => c.Outcome == CheckOutcome.Failed);

    [System.Text.Json.Serialization.JsonIgnore]
    public IEnumerable<QualityCheck> Skipped => Checks.Where(c => c.Outcome == CheckOutcome.Skipped);
}

/// <summary>A deliberate release of a run that failed the quality gate.</summary>
/// <param name="By">"trigger" (the trigger's <c>accept_held</c>) or "runner" (<c>runs release</c>).</param>
public sealed record GateRelease(string By, DateTimeOffset At);

/// <summary>
/// The quality gate's thresholds, bound from the <c>QualityGate</c> section (environment:
/// <c>QualityGate__MaxDataAgeDays</c>, …) and validated at start-up.
/// </summary>
public sealed class QualityGateOptions
{
    public const string SectionName = "QualityGate";

    /// <summary>At least this many customers per segment on average: customers ≥ k × this.</summary>
    [Range(1, 1_000_000)]
    public int MinCustomersPerSegment { get; set; } = 20;

    /// <summary>The newest counted order in the window is at most this many days before as_of.</summary>
    [Range(0, 3650)]
    public int MaxDataAgeDays { get; set; } = 14;

    /// <summary>
    /// No segment holds a smaller share of the customers. K-means on order data often isolates a few big spenders
    /// in a segment of well under 1 %, which is a real segment; one of a few dozen customers in 100,000 is not.
    /// </summary>
    [Range(0.0, 0.5)]
    public double MinSegmentShare { get; set; } = 0.002;

    /// <summary>The held-out Davies–Bouldin index may exceed the previous run's by at most this fraction of it.</summary>
    [Range(0.0, 10.0)]
    public double MaxDaviesBouldinIncrease { get; set; } = 0.25;

    /// <summary>At most this share of returning customers changes segment.</summary>
    [Range(0.0, 1.0)]
    public double MaxChangedShare { get; set; } = 0.35;

    /// <summary>No matched centroid moves further than this, in standardized units (the current run's scaling).</summary>
    [Range(0.0, 100.0)]
    public double MaxCentroidShift { get; set; } = 1.0;
}

/// <summary>
/// The marketing control group and the audience files, bound from the <c>Audiences</c> section and validated at
/// start-up. The control group is a stable hash of the user id and the salt, so a customer stays in or out of it
/// from run to run (and both backends pick the same customers).
/// </summary>
public sealed class AudienceOptions
{
    public const string SectionName = "Audiences";

    /// <summary>The share of customers held back from every audience to measure a campaign's effect, 0 to 0.5.</summary>
    [Range(0.0, 0.5)]
    public double ControlGroupShare { get; set; } = 0.10;

    /// <summary>Changes which customers form the control group; keep it fixed to keep the group stable.</summary>
    [Required(AllowEmptyStrings = false)]
    [MaxLength(200)]
    public string ControlGroupSalt { get; set; } = "cymbal-control-group";
}

/// <summary>Builds <see cref="SegmentMigration"/> from counted flows, checks its sums, and writes it as CSV.</summary>
public static class MigrationMatrix
{
    /// <summary>The previous completed run a migration is measured against.</summary>
    public sealed record PreviousRun(string RunId, DateOnly AsOf, IReadOnlyList<SegmentSize> Segments);

    /// <param name="flows">Counted (from, to) pairs; from null = new, to null = gone. Ignored without a previous run.</param>
    public static SegmentMigration Build(string runId, DateOnly asOf, PreviousRun? previous, IReadOnlyList<SegmentSize> segments,
        IEnumerable<MigrationFlow> flows)
    {
        var current = segments.OrderBy(s => s.CentroidId).ToList();
        if (previous is null)
            return new SegmentMigration(runId, asOf, null, null, [], current, [], current.Sum(s => s.Customers), 0, 0, 0, null,
                "the first run: there is no previous completed run to compare with, so there is no migration matrix");

        var cells = flows.Where(f => f.Customers > 0)
            .GroupBy(f => (f.From, f.To))
            .Select(g => new MigrationFlow(g.Key.From, g.Key.To, g.Sum(f => f.Customers)))
            .OrderBy(f => f.From ?? int.MaxValue).ThenBy(f => f.To ?? int.MaxValue)
            .ToList();
        var stayed = cells.Where(f => f.From is not null && f.From == f.To).Sum(f => f.Customers);
        var moved = cells.Where(f => f.From is not null && f.To is not null && f.From != f.To).Sum(f => f.Customers);
        var migration = new SegmentMigration(runId, asOf, previous.RunId, previous.AsOf,
            previous.Segments.OrderBy(s => s.CentroidId).ToList(), current, cells,
            New: cells.Where(f => f.From is null).Sum(f => f.Customers),
            Gone: cells.Where(f => f.To is null).Sum(f => f.Customers),
            stayed, moved,
            stayed + moved > 0 ? Math.Round((double)moved / (stayed + moved), 6) : null,
            null);
        CheckSums(migration);
        return migration;
    }

    /// <summary>
    /// Rows add up to last run's sizes plus new; columns to this run's sizes plus gone. A mismatch means the two runs'
    /// tables disagree with their own sizes: a bug or a damaged table, never something to publish.
    /// </summary>
    public static void CheckSums(SegmentMigration migration)
    {
        foreach (var row in migration.PreviousSegments)
        {
            var sum = migration.Flows.Where(f => f.From == row.CentroidId).Sum(f => f.Customers);
            if (sum != row.Customers)
                throw new InvalidDataException($"migration row {row.CentroidId} ({row.Segment}) adds up to {sum}, but run {migration.PreviousRunId} had {row.Customers} customers in it");
        }
        foreach (var column in migration.Segments)
        {
            var sum = migration.Flows.Where(f => f.To == column.CentroidId).Sum(f => f.Customers);
            if (sum != column.Customers)
                throw new InvalidDataException($"migration column {column.CentroidId} ({column.Segment}) adds up to {sum}, but run {migration.RunId} has {column.Customers} customers in it");
        }
    }

    /// <summary>
    /// <c>migration.csv</c>: one row per previous segment and a <c>new</c> row; one column per current segment and a
    /// <c>gone</c> column; each row names its segment by id and name. The first run's file says it has no matrix.
    /// </summary>
    public static byte[] ToCsv(SegmentMigration migration)
    {
        var csv = new System.Text.StringBuilder();
        if (migration.PreviousRunId is null)
        {
            csv.Append("note\n").Append(Quote(migration.Note ?? "no previous completed run")).Append('\n');
            return System.Text.Encoding.UTF8.GetBytes(csv.ToString());
        }
        csv.Append("from_centroid,from_segment");
        foreach (var s in migration.Segments) csv.Append(',').Append(Quote($"{s.CentroidId} {s.Segment}"));
        csv.Append(',').Append(SegmentMigration.GoneColumn).Append('\n');

        void Row(int? from, string name)
        {
            csv.Append(from?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "").Append(',').Append(Quote(name));
            foreach (var s in migration.Segments) csv.Append(',').Append(migration.Count(from, s.CentroidId).ToString(System.Globalization.CultureInfo.InvariantCulture));
            csv.Append(',').Append(from is null ? "" : migration.Count(from, null).ToString(System.Globalization.CultureInfo.InvariantCulture)).Append('\n');
        }
        foreach (var p in migration.PreviousSegments) Row(p.CentroidId, p.Segment);
        Row(null, SegmentMigration.NewRow);
        return System.Text.Encoding.UTF8.GetBytes(csv.ToString());
    }

    private static string Quote(string value) =>
        value.IndexOfAny([',', '"', '\n']) >= 0 ? $"\"{value.Replace("\"", "\"\"", StringComparison.Ordinal)}\"" : value;
}
