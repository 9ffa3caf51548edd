namespace Pipeline.Embedded.SampleData;

/// <summary>
/// SplitMix64 (Steele, Lea and Flood, 2014): a tiny, fast generator whose output is fixed by this code alone, so a
/// seed gives the same file on every runtime version (System.Random makes no such promise across versions).
/// </summary>
internal struct SplitMix64(ulong state)
{
    private const ulong Gamma = 0x9E3779B97F4A7C15;

    private ulong state = state;

    /// <summary>An independent stream for one key (a user, a product) under one seed.</summary>
    public static SplitMix64 For(int seed, long key, ulong purpose) =>
        new(Mix(Mix((ulong)(uint)seed ^ purpose) ^ Mix((ulong)key + Gamma)));

    public ulong NextUInt64() => Mix(state += Gamma);

    /// <summary>Uniform in [0, 1), 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform in [0, bound), by Lemire's multiply-shift (bias below 2^-32 for the small bounds used here).</summary>
    public int NextInt(int bound) => (int)(((NextUInt64() >> 32) * (ulong)bound) >> 32);

    /// <summary>Uniform in [0, bound) for bounds beyond int.</summary>
    public long NextLong(long bound) => (long)Math.BigMul(NextUInt64(), (ulong)bound, out _);

    /// <summary>Standard normal, by Box–Muller (one of the pair).</summary>
    public double NextGaussian()
    {
        var u = 1.0 - NextDouble(); // (0, 1]: keeps Log finite
        var v = NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u)) * Math.Cos(2.0 * Math.PI * v);
    }

    /// <summary>An index drawn with the given cumulative weights (the last must be 1).</summary>
    public int NextIndex(ReadOnlySpan<double> cumulative)
    {
        var u = NextDouble();
        for (var i = 0; i < cumulative.Length - 1; i++)
        {
            if (u < cumulative[i]) return i;
        }
        return cumulative.Length - 1;
    }

    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EB;
        return z ^ (z >> 31);
    }
}
