using System.Buffers;
using System.Buffers.Text;

namespace Pipeline.Embedded;

/// <summary>
/// Audience files written from Predict's columns in user order: per segment, the bytes DuckDB's
/// <c>COPY (SELECT user_id … WHERE centroid_id = k AND NOT control_group ORDER BY user_id) TO … (FORMAT csv, HEADER true)</c>
/// writes — a <c>user_id</c> header and one id per line, each line ended by <c>\n</c>.
/// </summary>
public static class AudienceCsv
{
    private static readonly byte[] Header = "user_id\n"u8.ToArray();

    /// <summary>One audience per id in <paramref name="segments"/> (in that order), segments written side by side.</summary>
    /// <param name="userIds">The customers, in ascending id order (the order the files list them in).</param>
    public static IReadOnlyList<(ReadOnlyMemory<byte> Text, long Customers)> Write(long[] userIds, long[] centroidIds, bool[] controlGroup,
        IReadOnlyList<long> segments)
    {
        if (centroidIds.Length != userIds.Length || controlGroup.Length != userIds.Length)
            throw new ArgumentException($"columns of different lengths: {userIds.Length}, {centroidIds.Length}, {controlGroup.Length}");
        var audiences = new (ReadOnlyMemory<byte>, long)[segments.Count];
        Parallel.For(0, segments.Count, k => audiences[k] = Write(userIds, centroidIds, controlGroup, segments[k]));
        return audiences;
    }

    private static (ReadOnlyMemory<byte> Text, long Customers) Write(long[] userIds, long[] centroidIds, bool[] controlGroup, long segment)
    {
        var text = new ArrayBufferWriter<byte>();
        text.Write(Header);
        var customers = 0L;
        for (var i = 0; i < userIds.Length; i++)
        {
            if (centroidIds[i] != segment || controlGroup[i]) continue;
            var line = text.GetSpan(21); // a long's 20 characters at most, and the newline
            Utf8Formatter.TryFormat(userIds[i], line, out var written);
            line[written] = (byte)'\n';
            text.Advance(written + 1);
            customers++;
        }
        return (text.WrittenMemory, customers);
    }
}
