using System.Globalization;
using System.Text.RegularExpressions;

namespace Pipeline.Hosting.PubSub;

/// <summary>Reads Pub/Sub's RFC 3339 timestamps, which may carry up to nine fractional digits (.NET reads seven).</summary>
public static partial class PubSubTimestamp
{
    [GeneratedRegex(@"(?<=\.\d{7})\d+")]
    private static partial Regex BeyondTicks();

    public static bool TryParse(string? value, out DateTimeOffset timestamp)
    {
        timestamp = default;
        return value is not null && DateTimeOffset.TryParse(BeyondTicks().Replace(value, ""), CultureInfo.InvariantCulture,
            DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out timestamp);
    }

    public static DateTimeOffset Parse(string value) =>
        TryParse(value, out var timestamp) ? timestamp : throw new FormatException($"'{value}' is not an RFC 3339 timestamp");
}
