using System.Numerics;
using System.Runtime.InteropServices;

namespace Pipeline.Analytics;

/// <summary>
/// The values a sort would put at given positions, without sorting: a most-significant-digit radix select on the
/// doubles' bits, mapped so that unsigned order is numeric order. Each round counts the values per digit, keeps only
/// the buckets that hold a wanted position and goes on inside them, so a thousand quantiles of millions of values
/// cost about two passes where a sort costs six.
/// </summary>
public static class RadixSelect
{
    /// <summary>A digit's widest width in bits (65,536 buckets, whose counts stay in the second-level cache).</summary>
    private const int MaxDigitBits = 16;

    /// <summary>
    /// A digit leaves about 2^this many keys a bucket: a round over a few thousand keys then counts into a few hundred
    /// buckets instead of clearing and scanning tens of thousands.
    /// </summary>
    private const int KeysPerBucketBits = 4;

    /// <summary>At most this many values are sorted outright instead of counted.</summary>
    private const int SortedBelow = 64;

    private const ulong SignBit = 1UL << 63;

    /// <summary>
    /// The values sorting <paramref name="values"/> ascending would put at <paramref name="positions"/> (ascending,
    /// repeats allowed), the same doubles to the bit; none may be NaN (−0 comes before +0). <paramref name="values"/>
    /// is used as scratch space: its contents are undefined afterwards.
    /// </summary>
    public static double[] Select(double[] values, IReadOnlyList<int> positions) => Selected(ToKeys(values, positions), positions);

    /// <summary>
    /// As <see cref="Select(double[], IReadOnlyList{int})"/>, but <paramref name="values"/> keeps its values, only
    /// their order may change: so several selections can be made over parts of one array and then over the whole.
    /// </summary>
    public static double[] SelectKeepingValues(Span<double> values, IReadOnlyList<int> positions)
    {
        var keys = ToKeys(values, positions);
        var selected = Selected(keys, positions);
        foreach (ref var key in keys) key = Bits(key);
        return selected;
    }

    /// <summary>The values at <paramref name="positions"/> among <paramref name="keys"/>, whose order may change.</summary>
    private static double[] Selected(Span<ulong> keys, IReadOnlyList<int> positions)
    {
        var selected = new ulong[positions.Count];
        Select(keys, [.. positions], selected);
        return [.. selected.Select(key => BitConverter.UInt64BitsToDouble(Bits(key)))];
    }

    /// <summary>Checks the positions and turns the values into keys in place.</summary>
    private static Span<ulong> ToKeys(Span<double> values, IReadOnlyList<int> positions)
    {
        for (var p = 0; p < positions.Count; p++)
            if (positions[p] < 0 || positions[p] >= values.Length || (p > 0 && positions[p] < positions[p - 1]))
                throw new ArgumentException($"positions must be ascending within 0..{values.Length - 1}", nameof(positions));
        var keys = MemoryMarshal.Cast<double, ulong>(values);
        foreach (ref var key in keys) key = Key(key);
        return keys;
    }

    /// <summary>Writes the keys at <paramref name="positions"/> (ascending, relative to <paramref name="keys"/>) to <paramref name="selected"/>.</summary>
    private static void Select(Span<ulong> keys, ReadOnlySpan<int> positions, Span<ulong> selected)
    {
        if (positions.IsEmpty) return;
        if (keys.Length <= SortedBelow)
        {
            keys.Sort();
            for (var p = 0; p < positions.Length; p++) selected[p] = keys[positions[p]];
            return;
        }
        var (min, max) = (ulong.MaxValue, ulong.MinValue);
        foreach (var key in keys) (min, max) = (Math.Min(min, key), Math.Max(max, key));
        if (min == max)
        {
            selected[..positions.Length].Fill(min);
            return;
        }

        // The digit is the highest bits in which the keys differ: every bit above them is the same in all keys.
        var bits = Math.Clamp(BitOperations.Log2((uint)keys.Length) - KeysPerBucketBits, 1, MaxDigitBits);
        var shift = Math.Max(0, 64 - BitOperations.LeadingZeroCount(min ^ max) - bits);
        var mask = (1UL << bits) - 1;
        var counts = new int[1 << bits];
        foreach (var key in keys) counts[(int)(key >> shift & mask)]++;

        // Each bucket's first sorted position; the buckets holding a wanted position get a place in the kept keys.
        var places = new int[counts.Length];
        var kept = 0;
        for (int bucket = 0, start = 0, p = 0; bucket < counts.Length; start += counts[bucket++])
        {
            var wanted = p < positions.Length && positions[p] < start + counts[bucket];
            places[bucket] = wanted ? kept : -1;
            if (wanted) kept += counts[bucket];
            while (p < positions.Length && positions[p] < start + counts[bucket]) p++;
        }
        var keptKeys = new ulong[kept];
        foreach (var key in keys)
        {
            var bucket = (int)(key >> shift & mask);
            if (places[bucket] >= 0) keptKeys[places[bucket]++] = key;
        }

        for (int bucket = 0, start = 0, p = 0; p < positions.Length; start += counts[bucket++])
        {
            var first = p;
            while (p < positions.Length && positions[p] < start + counts[bucket]) p++;
            if (p == first) continue;
            var relative = new int[p - first];
            for (var i = 0; i < relative.Length; i++) relative[i] = positions[first + i] - start;
            // The gathering moved each kept bucket's place to its end.
            Select(keptKeys.AsSpan(places[bucket] - counts[bucket], counts[bucket]), relative, selected[first..p]);
        }
    }

    /// <summary>A double's bits turned so that unsigned order is numeric order: negatives flipped, positives signed.</summary>
    private static ulong Key(ulong bits) => (bits & SignBit) != 0 ? ~bits : bits | SignBit;

    private static ulong Bits(ulong key) => (key & SignBit) != 0 ? key & ~SignBit : ~key;
}
