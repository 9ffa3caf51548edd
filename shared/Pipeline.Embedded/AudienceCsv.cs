using System.Buffers.Text;
using System.Numerics;
using Pipeline.Analytics;

namespace Pipeline.Embedded;

/// <summary>
/// Audience files written from Predict's columns in user order: per segment, the bytes DuckDB's
/// <c>COPY (SELECT user_id … WHERE centroid_id = k AND NOT control_group ORDER BY user_id) TO … (FORMAT csv, HEADER true)</c>
/// writes — a <c>user_id</c> header and one id per line, each line ended by <c>\n</c>.
/// </summary>
/// <remarks>
/// Two passes over the rows, each chunk of rows on a core (<see cref="RowChunks"/>): the first measures how many bytes
/// each chunk writes to each segment, so every file is allocated once at its exact size and every chunk knows where
/// its lines go; the second writes them there. Every segment's file comes out of the same two scans.
/// </remarks>
public static class AudienceCsv
{
    private static ReadOnlySpan<byte> Header => "user_id\n"u8;

    /// <summary>One audience per id in <paramref name="segments"/> (in that order).</summary>
    /// <param name="userIds">The customers, in ascending id order (the order the files list them in).</param>
    public static IReadOnlyList<(ReadOnlyMemory<byte> Text, long Customers)> Write(long[] userIds, long[] centroidIds, bool[] controlGroup,
        IReadOnlyList<long> segments)
    {
        if (centroidIds.Length != userIds.Length || controlGroup.Length != userIds.Length)
            throw new ArgumentException($"columns of different lengths: {userIds.Length}, {centroidIds.Length}, {controlGroup.Length}");
        var ids = segments.ToArray();
        var rows = userIds.Length;
        var chunks = RowChunks.Count(rows);
        // [chunk, segment]: the bytes and the lines the chunk writes to the segment's file.
        var bytes = new long[chunks, segments.Count];
        var lines = new long[chunks, segments.Count];
        RowChunks.For(rows, (chunk, from, to) =>
        {
            for (var i = from; i < to; i++)
            {
                if (controlGroup[i] || IndexOf(ids, centroidIds[i]) is not (>= 0 and var k)) continue;
                bytes[chunk, k] += Width(userIds[i]) + 1;
                lines[chunk, k]++;
            }
        });

        // Where each chunk's lines start in each file: after the header and the chunks before it.
        var starts = new int[chunks, segments.Count];
        var texts = new byte[segments.Count][];
        var customers = new long[segments.Count];
        for (var k = 0; k < segments.Count; k++)
        {
            long length = Header.Length;
            for (var chunk = 0; chunk < chunks; chunk++)
            {
                starts[chunk, k] = checked((int)length);
                length += bytes[chunk, k];
                customers[k] += lines[chunk, k];
            }
            texts[k] = new byte[checked((int)length)];
            Header.CopyTo(texts[k]);
        }
        RowChunks.For(rows, (chunk, from, to) =>
        {
            var at = new int[segments.Count];
            for (var k = 0; k < at.Length; k++) at[k] = starts[chunk, k];
            for (var i = from; i < to; i++)
            {
                if (controlGroup[i] || IndexOf(ids, centroidIds[i]) is not (>= 0 and var k)) continue;
                var line = texts[k].AsSpan(at[k]);
                Utf8Formatter.TryFormat(userIds[i], line, out var written);
                line[written] = (byte)'\n';
                at[k] += written + 1;
            }
        });
        return [.. texts.Select((text, k) => ((ReadOnlyMemory<byte>)text, customers[k]))];
    }

    /// <summary>The position of <paramref name="centroidId"/> in <paramref name="segments"/>, or −1: a handful of ids, searched in order.</summary>
    private static int IndexOf(long[] segments, long centroidId)
    {
        for (var k = 0; k < segments.Length; k++)
            if (segments[k] == centroidId) return k;
        return -1;
    }

    /// <summary>The characters a long is written in: its digits, and a minus sign when negative.</summary>
    private static int Width(long value)
    {
        if (value < 0) return value == long.MinValue ? 20 : 1 + Width(-value);
        if (value < 10) return 1;
        // log10 from the bit length (1233 / 4096 ≈ log10 2), one short at most: a power of ten settles it.
        var digits = ((64 - BitOperations.LeadingZeroCount((ulong)value)) * 1233) >> 12;
        return value >= PowersOfTen[digits] ? digits + 1 : digits;
    }

    private static readonly long[] PowersOfTen = [.. Enumerable.Range(0, 19).Select(n => (long)Math.Pow(10, n))];
}
