using System.Text;

namespace Pipeline.Analytics;

/// <summary>
/// The marketing control group (CONTRACT.md, "Segments over time"): a customer is in it by a hash of the user id and
/// a salt, so it stays in or out from run to run whatever its segment. The same integer mix as
/// <see cref="HoldOutSplit"/>, with the salt in place of the seed, so BigQuery SQL and DuckDB SQL pick the same
/// customers as this class.
/// </summary>
public static class ControlGroup
{
    /// <summary>The salt as the hash's seed: FNV-1a (32 bits) of its UTF-8 bytes, kept to 31 bits.</summary>
    public static int SaltSeed(string salt)
    {
        uint hash = 2166136261;
        foreach (var b in Encoding.UTF8.GetBytes(salt))
        {
            hash ^= b;
            hash *= 16777619;
        }
        return (int)(hash & 0x7FFFFFFF);
    }

    /// <summary>Buckets below this form the control group.</summary>
    public static long Threshold(double share) => HoldOutSplit.Threshold(share);

    /// <summary>
    /// The id is first reduced to 32 bits, so ids near the 64-bit limit do not overflow the SQL's INT64 arithmetic
    /// (for ids below 2^32 this is <see cref="HoldOutSplit.Bucket"/> exactly).
    /// </summary>
    public static bool Contains(long userId, string salt, double share) => Contains(userId, SaltSeed(salt), Threshold(share));

    /// <summary>Whether each of <paramref name="userIds"/> is in the control group, on every core.</summary>
    public static bool[] Of(long[] userIds, string salt, double share)
    {
        var (seed, threshold) = (SaltSeed(salt), Threshold(share));
        var members = new bool[userIds.Length];
        RowChunks.For(userIds.Length, (_, from, to) =>
        {
            for (var i = from; i < to; i++) members[i] = Contains(userIds[i], seed, threshold);
        });
        return members;
    }

    /// <summary><see cref="Contains(long, string, double)"/> with the salt's seed and the threshold worked out once, for millions of ids.</summary>
    public static bool Contains(long userId, int saltSeed, long threshold) =>
        HoldOutSplit.Bucket(Math.Abs(userId) % HoldOutSplit.Modulus, saltSeed) < threshold;
}
