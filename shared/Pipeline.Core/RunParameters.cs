using System.Text.Json.Serialization;
using System.Text.RegularExpressions;

namespace Pipeline.Core;

/// <summary>Which statistics BuildStats computes (CONTRACT.md, "Customer statistics").</summary>
public enum StatsPreset
{
    /// <summary>Cancelled and returned items excluded; distinct orders; average order value.</summary>
    Rfm,
    /// <summary>The lab's SQL: every status; line items counted as orders; average item price.</summary>
    Lab,
}

/// <summary>
/// A trigger resolved to a run's full set of parameters: every default filled in, every value checked.
/// It travels with every message of the run and is recorded in its manifest.
/// </summary>
/// <param name="K">The number of segments; null means "auto" (chosen by <c>KSelection</c>).</param>
/// <param name="AcceptHeld">The trigger's <c>accept_held</c>: the run completes even if it fails the quality gate
/// (the gate's verdict is still recorded, with the release).</param>
public sealed record RunParameters(
    string RunId,
    DateOnly WindowStart,
    DateOnly WindowEnd,
    DateOnly AsOf,
    [property: JsonConverter(typeof(KJsonConverter))] int? K,
    StatsPreset Metrics,
    int Seed,
    double TestFraction,
    bool AcceptHeld = false)
{
    public const int MinK = 2;
    public const int MaxK = 20;
    public const int DefaultK = 5;
    public const int DefaultSeed = 42;
    public const double DefaultTestFraction = 0.2;
}

/// <summary>Run ids are path segments, object names and (with '-' as '_') part of BigQuery table names.</summary>
public static partial class RunId
{
    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")]
    private static partial Regex Pattern();

    [GeneratedRegex("[^A-Za-z0-9_-]")]
    private static partial Regex Unsafe();

    public static bool IsValid(string? value) => value is not null && Pattern().IsMatch(value);

    /// <summary>
    /// The run id of a trigger that names none: from the transport's publish time and message id, so a
    /// redelivered trigger is the same run, never a second one.
    /// </summary>
    public static string FromMessage(string messageId, DateTimeOffset publishTime)
    {
        var id = Unsafe().Replace(messageId, "");
        var stamp = publishTime.UtcDateTime.ToString("yyyy-MM-dd'T'HH-mm-ss'Z'", System.Globalization.CultureInfo.InvariantCulture);
        var value = id.Length == 0 ? stamp : $"{stamp}-{id}";
        return value.Length > 63 ? value[..63] : value;
    }

    /// <summary>A new run id for a run started by hand: the time, and a short random suffix.</summary>
    public static string New(DateTimeOffset now) =>
        $"{now.UtcDateTime:yyyy-MM-dd'T'HH-mm-ss'Z'}-{Guid.NewGuid().ToString("N")[..6]}";
}
