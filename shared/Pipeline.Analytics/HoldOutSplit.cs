namespace Pipeline.Analytics;

/// <summary>
/// The deterministic train/test split (CONTRACT.md, "Model"): a customer is held out by a hash of its user id and
/// the run's seed. The arithmetic stays inside INT64 at every step, so BigQuery SQL computes exactly the same rule.
/// </summary>
public static class HoldOutSplit
{
    public const long Modulus = 4294967296; // 2^32
    public const long SeedMultiplier = 1000003;
    public const long FirstMultiplier = 2146121005;
    public const long SecondMultiplier = 1540483477;
    public const int Buckets = 10000;

    public static bool IsHeldOut(long userId, int seed, double testFraction) =>
        Bucket(userId, seed) < Threshold(testFraction);

    /// <summary><see cref="IsHeldOut"/> of every customer: each mark depends on its own id only, so chunks run on every core.</summary>
    public static bool[] HeldOut(long[] userIds, int seed, double testFraction)
    {
        var threshold = Threshold(testFraction);
        var marks = new bool[userIds.Length];
        RowChunks.For(userIds.Length, (_, from, to) =>
        {
            for (var i = from; i < to; i++) marks[i] = Bucket(userIds[i], seed) < threshold;
        });
        return marks;
    }

    /// <summary>The customer's bucket, 0 to 9,999.</summary>
    public static long Bucket(long userId, int seed)
    {
        var x = (Math.Abs(userId) + seed * SeedMultiplier) % Modulus;
        x ^= x >> 16;
        x = x * FirstMultiplier % Modulus;
        x ^= x >> 15;
        x = x * SecondMultiplier % Modulus;
        x ^= x >> 16;
        return x % Buckets;
    }

    /// <summary>Buckets below this are held out.</summary>
    public static long Threshold(double testFraction) => (long)Math.Round(testFraction * Buckets, MidpointRounding.AwayFromZero);
}
