using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Pipeline.Core;

/// <summary>
/// Reads a trigger message (CONTRACT.md, "Trigger message") strictly and resolves it to <see cref="RunParameters"/>:
/// every field optional, every default filled, anything else a permanent error naming the problem.
/// </summary>
public static class TriggerParser
{
    private static readonly HashSet<string> Known =
        ["run_id", "window_start", "window_end", "as_of", "k", "metrics", "seed", "test_fraction", "accept_held"];

    /// <param name="data">The message body (UTF-8 JSON; empty means "all defaults").</param>
    /// <param name="messageId">The transport's message id, which names the run when the trigger does not.</param>
    /// <param name="publishTime">The transport's publish time, likewise.</param>
    /// <param name="today">Today's date in UTC, for the default window.</param>
    public static RunParameters Parse(ReadOnlySpan<byte> data, string messageId, DateTimeOffset publishTime, DateOnly today)
    {
        var derivedRunId = RunId.FromMessage(messageId, publishTime);
        if (data.Trim((byte)' ').IsEmpty)
            return Resolve(new Dictionary<string, JsonElement>(), derivedRunId, today);

        // JSON parses invalid UTF-8 inside strings and fails only when the string is read, which would look transient.
        if (FirstInvalidUtf8(data) is { } bad)
            throw new InvalidMessageException(
                $"the trigger is not UTF-8 text: byte 0x{data[bad]:X2} at position {bad} is not valid UTF-8; send the JSON encoded as UTF-8", derivedRunId);

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(data.ToArray());
        }
        catch (JsonException e)
        {
            throw new InvalidMessageException($"the trigger is not valid JSON: {e.Message}", derivedRunId);
        }

        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
                throw new InvalidMessageException(
                    $"the trigger must be a JSON object, not {document.RootElement.ValueKind.ToString().ToLowerInvariant()}", derivedRunId);

            var fields = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
            foreach (var property in document.RootElement.EnumerateObject())
                if (!fields.TryAdd(property.Name, property.Value.Clone()))
                    // JSON leaves a repeated name undefined; taking the last one would silently ignore the first.
                    throw new InvalidMessageException($"the trigger has the field {Truncate(property.Name)} more than once", derivedRunId);

            // Name the run first, so that every later error is recorded under the run the sender asked for.
            var runId = derivedRunId;
            if (fields.TryGetValue("run_id", out var runIdElement) && runIdElement.ValueKind != JsonValueKind.Null)
            {
                if (runIdElement.ValueKind != JsonValueKind.String)
                    throw new InvalidMessageException("run_id must be a string", derivedRunId);
                var requested = runIdElement.GetString()!;
                if (!RunId.IsValid(requested))
                    throw new InvalidMessageException(
                        $"run_id '{Truncate(requested)}' is invalid: use 1 to 63 letters, digits, '_' or '-', starting with a letter or digit",
                        derivedRunId);
                runId = requested;
            }

            var unknown = fields.Keys.Where(name => !Known.Contains(name)).Order(StringComparer.Ordinal).ToList();
            if (unknown.Count > 0)
                throw new InvalidMessageException(
                    $"unknown field{(unknown.Count > 1 ? "s" : "")} in the trigger: {string.Join(", ", unknown)} (known: {string.Join(", ", Known)})",
                    runId);

            return Resolve(fields, runId, today);
        }
    }

    private static RunParameters Resolve(Dictionary<string, JsonElement> fields, string runId, DateOnly today)
    {
        InvalidMessageException Error(string reason) => new(reason, runId);

        DateOnly? Date(string name)
        {
            if (!fields.TryGetValue(name, out var e) || e.ValueKind == JsonValueKind.Null) return null;
            if (e.ValueKind == JsonValueKind.String &&
                DateOnly.TryParseExact(e.GetString(), "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var d))
                return d;
            throw Error($"{name} must be a date as \"YYYY-MM-DD\", not {e.GetRawText()}");
        }

        var windowEnd = Date("window_end") ?? today;
        var windowStart = Date("window_start") ?? windowEnd.AddDays(-365);
        if (windowEnd <= windowStart)
            throw Error($"window_end ({windowEnd:yyyy-MM-dd}) must be after window_start ({windowStart:yyyy-MM-dd})");
        var asOf = Date("as_of") ?? windowEnd;
        if (asOf < windowEnd)
            throw Error($"as_of ({asOf:yyyy-MM-dd}) must not be before window_end ({windowEnd:yyyy-MM-dd}), or recency would be negative");

        int? k = RunParameters.DefaultK;
        if (fields.TryGetValue("k", out var kElement) && kElement.ValueKind != JsonValueKind.Null)
        {
            if (kElement.ValueKind == JsonValueKind.String && kElement.GetString() == "auto") k = null;
            else if (kElement.ValueKind == JsonValueKind.Number && kElement.TryGetInt32(out var value))
                k = value is >= RunParameters.MinK and <= RunParameters.MaxK
                    ? value
                    : throw Error($"k must be from {RunParameters.MinK} to {RunParameters.MaxK}, not {value}");
            else throw Error($"k must be a whole number from {RunParameters.MinK} to {RunParameters.MaxK} or \"auto\", not {kElement.GetRawText()}");
        }

        var metrics = StatsPreset.Rfm;
        if (fields.TryGetValue("metrics", out var m) && m.ValueKind != JsonValueKind.Null)
            metrics = m.ValueKind == JsonValueKind.String ? m.GetString() switch
            {
                "rfm" => StatsPreset.Rfm,
                "lab" => StatsPreset.Lab,
                _ => throw Error($"metrics must be \"rfm\" or \"lab\", not {m.GetRawText()}"),
            } : throw Error($"metrics must be \"rfm\" or \"lab\", not {m.GetRawText()}");

        var seed = RunParameters.DefaultSeed;
        if (fields.TryGetValue("seed", out var s) && s.ValueKind != JsonValueKind.Null)
            seed = s.ValueKind == JsonValueKind.Number && s.TryGetInt32(out var value) && value >= 0
                ? value
                : throw Error($"seed must be a whole number from 0 to {int.MaxValue}, not {s.GetRawText()}");

        var testFraction = RunParameters.DefaultTestFraction;
        if (fields.TryGetValue("test_fraction", out var t) && t.ValueKind != JsonValueKind.Null)
            testFraction = t.ValueKind == JsonValueKind.Number && t.TryGetDouble(out var value) && value > 0 && value <= 0.5
                ? value
                : throw Error($"test_fraction must be a number greater than 0 and at most 0.5, not {t.GetRawText()}");

        var acceptHeld = false;
        if (fields.TryGetValue("accept_held", out var a) && a.ValueKind != JsonValueKind.Null)
            acceptHeld = a.ValueKind switch
            {
                JsonValueKind.True => true,
                JsonValueKind.False => false,
                _ => throw Error($"accept_held must be true or false, not {a.GetRawText()}"),
            };

        return new RunParameters(runId, windowStart, windowEnd, asOf, k, metrics, seed, testFraction, acceptHeld);
    }

    private static int? FirstInvalidUtf8(ReadOnlySpan<byte> data)
    {
        for (var i = 0; i < data.Length;)
        {
            if (System.Text.Rune.DecodeFromUtf8(data[i..], out _, out var consumed) != System.Buffers.OperationStatus.Done) return i;
            i += consumed;
        }
        return null;
    }

    private static string Truncate(string value) => value.Length <= 80 ? value : value[..80] + "…";

    /// <summary>A trigger message that resolves to exactly these parameters, every field explicit (replaying a run).</summary>
    public static byte[] Format(RunParameters parameters) => Encoding.UTF8.GetBytes(JsonSerializer.Serialize(parameters, PipelineJson.Options));
}
