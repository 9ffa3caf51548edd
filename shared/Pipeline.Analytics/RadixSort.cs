using System.Runtime.InteropServices;

namespace Pipeline.Analytics;

/// <summary>
/// Sorts doubles in linear time: a least-significant-digit radix sort of their bits, mapped so that unsigned order
/// is numeric order. Millions of a feature's values sort several times faster than with a comparison sort, and
/// digits all values share (the low mantissa bits of whole numbers) cost nothing.
/// </summary>
public static class RadixSort
{
    private const int DigitBits = 11; // six passes; 2,048 buckets stay in the first-level caches
    private const int Digits = (sizeof(ulong) * 8 + DigitBits - 1) / DigitBits;
    private const int Radix = 1 << DigitBits;
    private const ulong SignBit = 1UL << 63;

    /// <summary>Sorts <paramref name="values"/> ascending in place; they must not be NaN (−0 comes before +0).</summary>
    public static void Sort(double[] values)
    {
        var keys = MemoryMarshal.Cast<double, ulong>(values.AsSpan());
        for (var i = 0; i < keys.Length; i++) keys[i] = Key(keys[i]);

        var counts = new int[Digits * Radix];
        foreach (var key in keys)
            for (var digit = 0; digit < Digits; digit++)
                counts[digit * Radix + (int)(key >> (digit * DigitBits) & (Radix - 1))]++;

        var buffer = new ulong[keys.Length];
        Span<ulong> source = keys, target = buffer;
        for (var digit = 0; digit < Digits; digit++)
        {
            var digitCounts = counts.AsSpan(digit * Radix, Radix);
            if (digitCounts.Contains(keys.Length)) continue; // every value has the same digit here
            var offset = 0;
            for (var d = 0; d < Radix; d++) (digitCounts[d], offset) = (offset, offset + digitCounts[d]);
            foreach (var key in source) target[digitCounts[(int)(key >> (digit * DigitBits) & (Radix - 1))]++] = key;
            var swap = source;
            source = target;
            target = swap;
        }
        if (source != keys) source.CopyTo(keys);
        for (var i = 0; i < keys.Length; i++) keys[i] = Bits(keys[i]);
    }

    /// <summary>A double's bits turned so that unsigned order is numeric order: negatives flipped, positives signed.</summary>
    private static ulong Key(ulong bits) => (bits & SignBit) != 0 ? ~bits : bits | SignBit;

    private static ulong Bits(ulong key) => (key & SignBit) != 0 ? key & ~SignBit : ~key;
}
