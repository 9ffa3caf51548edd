using DuckDB.NET.Data;

namespace Pipeline.Embedded;

/// <summary>
/// A later run's movement columns merged in process: this run's customers and the previous run's predictions are
/// both in user order, so one pass over the two gives each customer its previous segment and <c>segment_since</c>,
/// where a join and a sort by user cost DuckDB more than writing the predictions.
/// </summary>
public static class PreviousSegments
{
    /// <summary>The previous segment of a customer the previous run did not have (centroid ids are 1..k).</summary>
    public const long New = 0;

    /// <summary>
    /// Each customer's previous segment (<see cref="New"/> when new) and <c>segment_since</c> in days since
    /// 1970-01-01 (carried over while the customer stays in the same segment, else <paramref name="asOf"/>), and
    /// how many of the previous run's customers are gone (not among <paramref name="userIds"/>), by their previous
    /// segment; null when the previous run's rows are not in strictly increasing user order (then only a join will do).
    /// </summary>
    /// <param name="previousSegments">A query of (user_id, centroid_id, segment_since), as the join reads it.</param>
    /// <param name="userIds">This run's customers, in user order.</param>
    /// <param name="centroidIds">Their segments, in the same order.</param>
    public static (long[] PreviousSegmentIds, long[] SinceDays, IReadOnlyDictionary<long, long> GoneBySegment)? Merge(DuckDBConnection connection, string previousSegments,
        long[] userIds, long[] centroidIds, DateOnly asOf)
    {
        var count = DuckDb.Scalar<long>(connection, $"SELECT count(*) FROM ({previousSegments})");
        var (ids, segments, since) = (new long[count], new long[count], new long[count]);
        // Streamed in the parts' order, as they were written, a DATE as its days since 1970-01-01. Predict never writes a
        // null user id, centroid id or segment_since, so the reader's refusal of nulls is never met.
        DuckDbColumnReader.Read(connection, $"""
            SELECT CAST(user_id AS BIGINT), CAST(centroid_id AS BIGINT), {DaysSql("segment_since")} FROM ({previousSegments})
            """, [new(ids), new(segments), new(since)]);
        for (var j = 1; j < ids.Length; j++)
            if (ids[j - 1] >= ids[j]) return null;

        long today = asOf.DayNumber - Epoch.DayNumber; // DuckDB's DATE counts days of the same proleptic Gregorian calendar
        var previousSegmentIds = new long[userIds.Length];
        var sinceDays = new long[userIds.Length];
        var gone = new Dictionary<long, long>();
        var (p, matched) = (0, -1); // matched: the last previous row a customer was found at
        for (var i = 0; i < userIds.Length; i++)
        {
            for (; p < ids.Length && ids[p] < userIds[i]; p++)
                if (p != matched) gone[segments[p]] = gone.GetValueOrDefault(segments[p]) + 1;
            var found = p < ids.Length && ids[p] == userIds[i];
            if (found) matched = p;
            previousSegmentIds[i] = found ? segments[p] : New;
            sinceDays[i] = found && segments[p] == centroidIds[i] ? since[p] : today;
        }
        for (; p < ids.Length; p++)
            if (p != matched) gone[segments[p]] = gone.GetValueOrDefault(segments[p]) + 1;
        return (previousSegmentIds, sinceDays, gone);
    }

    private static readonly DateOnly Epoch = new(1970, 1, 1);

    /// <summary>A DATE as days since 1970-01-01, as SQL.</summary>
    private static string DaysSql(string date) => $"CAST({date} - DATE '1970-01-01' AS BIGINT)";

    /// <summary>Days since 1970-01-01 back to a DATE, as SQL: the inverse of the days <see cref="Merge"/> returns.</summary>
    public static string DateSql(string days) => $"DATE '1970-01-01' + CAST({days} AS INTEGER)";
}
