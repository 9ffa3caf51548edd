namespace Pipeline.Embedded.SampleData;

/// <summary>The file formats the sample generator writes, chosen by the file's extension.</summary>
public enum SampleFormat
{
    Csv,
    Parquet,
}

/// <summary>
/// What to generate. Exactly one of <paramref name="Users"/> (simulate users 1..Users) or <paramref name="Items"/>
/// (simulate users until the one whose orders bring the item count to at least Items) is set. Orders fall in the
/// <paramref name="Years"/> years before <paramref name="EndDate"/> (UTC midnight, exclusive), which is also the
/// "now" that statuses and shipping timestamps describe.
/// </summary>
public sealed record SampleOptions(long? Users, long? Items, int Seed, DateOnly EndDate, int Years = 4);

/// <summary>
/// What was written. <paramref name="Users"/> counts the simulated users, including those who placed no order (about
/// one in five); the dates are those of the earliest and latest <c>created_at</c> written (both
/// <c>EndDate</c> when no row was).
/// </summary>
public sealed record SampleSummary(string Path, SampleFormat Format, long Users, long Orders, long Items, DateOnly FirstDate, DateOnly LastDate);
