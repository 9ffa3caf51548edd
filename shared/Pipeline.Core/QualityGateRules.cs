using System.Globalization;

namespace Pipeline.Core;

/// <summary>
/// The quality gate's checks (CONTRACT.md, "Segments over time"): what a run must pass before it may become latest.
/// Comparative checks compare with the previous completed run (the run the model's ids were matched to) and are
/// skipped, saying so, when there is none.
/// </summary>
public static class QualityGateRules
{
    /// <param name="newestOrderDays">Days from the window's newest counted order to as_of (the smallest recency).</param>
    public static QualityGate Evaluate(QualityGateOptions options, SegmentModel model, SegmentModel? previous,
        SegmentMigration migration, long newestOrderDays)
    {
        var checks = new List<QualityCheck>();
        var customers = migration.Segments.Sum(s => s.Customers);

        double required = (long)model.K * options.MinCustomersPerSegment;
        checks.Add(Check(QualityChecks.EnoughCustomers, customers >= required, customers, required,
            F($"{customers:N0} customers for k = {model.K} (at least {options.MinCustomersPerSegment:N0} per segment: {required:N0})")));

        checks.Add(Check(QualityChecks.FreshData, newestOrderDays <= options.MaxDataAgeDays, newestOrderDays, options.MaxDataAgeDays,
            F($"the newest counted order is {newestOrderDays} day{(newestOrderDays == 1 ? "" : "s")} before as_of (at most {options.MaxDataAgeDays})")));

        var smallest = migration.Segments.OrderBy(s => s.Customers).ThenBy(s => s.CentroidId).FirstOrDefault();
        var smallestShare = smallest is null || customers == 0 ? 0 : Math.Round((double)smallest.Customers / customers, 6);
        checks.Add(Check(QualityChecks.MinSegmentShare, smallestShare >= options.MinSegmentShare, smallestShare, options.MinSegmentShare,
            smallest is null
                ? "no segment has customers"
                : F($"the smallest segment, {smallest.CentroidId} {smallest.Segment}, holds {smallestShare:P2} of the customers (at least {options.MinSegmentShare:P2})")));

        if (previous is null || previous.Metrics.DaviesBouldinIndex <= 0)
            checks.Add(Skip(QualityChecks.DaviesBouldin, options.MaxDaviesBouldinIncrease,
                previous is null ? "no previous completed run to compare the held-out Davies-Bouldin index with" : "the previous run has no Davies-Bouldin index"));
        else
        {
            var increase = Math.Round((model.Metrics.DaviesBouldinIndex - previous.Metrics.DaviesBouldinIndex) / previous.Metrics.DaviesBouldinIndex, 6);
            checks.Add(Check(QualityChecks.DaviesBouldin, increase <= options.MaxDaviesBouldinIncrease, increase, options.MaxDaviesBouldinIncrease,
                F($"held-out Davies-Bouldin index {model.Metrics.DaviesBouldinIndex:0.###} against {previous.Metrics.DaviesBouldinIndex:0.###} in run {previous.RunId}: {increase:+0.0%;-0.0%} (at most +{options.MaxDaviesBouldinIncrease:0.0%})")));
        }

        if (migration.ChangedShare is not { } changed)
            checks.Add(Skip(QualityChecks.ChangedShare, options.MaxChangedShare,
                migration.PreviousRunId is null ? "no previous completed run: nobody can have changed segment" : "no customer of the previous run is segmented again"));
        else
            checks.Add(Check(QualityChecks.ChangedShare, changed <= options.MaxChangedShare, changed, options.MaxChangedShare,
                F($"{migration.Moved:N0} of {migration.Stayed + migration.Moved:N0} returning customers changed segment: {changed:P1} (at most {options.MaxChangedShare:P1})")));

        var shift = previous is null ? null : LargestCentroidShift(model, previous);
        if (shift is not { } moved)
            checks.Add(Skip(QualityChecks.CentroidShift, options.MaxCentroidShift,
                previous is null ? "no previous completed run's centroids to compare with" : "no segment id in common with the previous run"));
        else
            checks.Add(Check(QualityChecks.CentroidShift, moved.Distance <= options.MaxCentroidShift, moved.Distance, options.MaxCentroidShift,
                F($"segment {moved.CentroidId} moved furthest: {moved.Distance:0.###} standardized units since run {previous!.RunId} (at most {options.MaxCentroidShift:0.###})")));

        return new QualityGate(checks.All(c => c.Outcome != CheckOutcome.Failed), checks, previous?.RunId);
    }

    /// <summary>
    /// The matched centroid that moved furthest, in this run's standardized units (both runs' centroids scaled the
    /// same way, so a change of scaling alone is not a move).
    /// </summary>
    public static (int CentroidId, double Distance)? LargestCentroidShift(SegmentModel model, SegmentModel previous)
    {
        var before = previous.Centroids.ToDictionary(c => c.CentroidId);
        (int, double)? largest = null;
        foreach (var centroid in model.Centroids.OrderBy(c => c.CentroidId))
        {
            if (!before.TryGetValue(centroid.CentroidId, out var old)) continue;
            var squared = 0.0;
            for (var f = 0; f < Features.All.Count; f++)
            {
                var d = model.Standardization.Standardize(f, centroid[f]) - model.Standardization.Standardize(f, old[f]);
                squared += d * d;
            }
            var distance = Math.Round(Math.Sqrt(squared), 6);
            if (largest is null || distance > largest.Value.Item2) largest = (centroid.CentroidId, distance);
        }
        return largest;
    }

    private static QualityCheck Check(string name, bool passed, double value, double threshold, string detail) =>
        new(name, passed ? CheckOutcome.Passed : CheckOutcome.Failed, value, threshold, detail);

    private static string F(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    private static QualityCheck Skip(string name, double threshold, string reason) =>
        new(name, CheckOutcome.Skipped, null, threshold, $"skipped: {reason}");
}
