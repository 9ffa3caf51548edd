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

    public static bool Contains(long userId, string salt, double share) =>
        HoldOutSplit.Bucket(userId, SaltSeed(salt)) < Threshold(share);
}
