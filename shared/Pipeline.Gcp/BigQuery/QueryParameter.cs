using System.Globalization;
using System.Text.Json.Nodes;

namespace Pipeline.Gcp;

/// <summary>
/// A named query parameter (<c>parameterMode: NAMED</c>): how every value of a run — dates, seed, fractions, the
/// centroid mapping — travels to BigQuery, never spliced into the SQL text.
/// </summary>
/// <param name="Type">A GoogleSQL type: DATE, INT64, FLOAT64, STRING, BOOL; for arrays the element type.</param>
/// <param name="Value">The scalar value in BigQuery's wire form; null for an array or a deferred value.</param>
/// <param name="ArrayValues">The elements of an ARRAY parameter, in wire form.</param>
/// <param name="DeferredUntil">
/// For the plan only: the value is known only once an earlier stage ran (e.g. the centroid mapping TrainModel
/// writes to model.json); such a statement is never sent.
/// </param>
public sealed record QueryParameter(string Name, string Type, string? Value, IReadOnlyList<string>? ArrayValues = null,
    string? DeferredUntil = null)
{
    public bool IsArray => ArrayValues is not null || (DeferredUntil is not null && Type.StartsWith("ARRAY<", StringComparison.Ordinal));

    public static QueryParameter ForDate(string name, DateOnly value) =>
        new(name, "DATE", value.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));

    public static QueryParameter ForInt64(string name, long value) =>
        new(name, "INT64", value.ToString(CultureInfo.InvariantCulture));

    public static QueryParameter ForFloat64(string name, double value) =>
        new(name, "FLOAT64", value.ToString("R", CultureInfo.InvariantCulture));

    public static QueryParameter ForBool(string name, bool value) => new(name, "BOOL", value ? "true" : "false");

    public static QueryParameter ForString(string name, string value) => new(name, "STRING", value);

    public static QueryParameter ForInt64Array(string name, IEnumerable<long> values) =>
        new(name, "ARRAY<INT64>", null, values.Select(v => v.ToString(CultureInfo.InvariantCulture)).ToList());

    public static QueryParameter ForStringArray(string name, IEnumerable<string> values) =>
        new(name, "ARRAY<STRING>", null, values.ToList());

    /// <summary>A value the plan cannot know yet; see <see cref="DeferredUntil"/>.</summary>
    public static QueryParameter Deferred(string name, string type, string until) => new(name, type, null, null, until);

    /// <summary>The parameter as the REST API's <c>QueryParameter</c> object.</summary>
    public JsonObject ToJson()
    {
        if (DeferredUntil is not null)
            throw new InvalidOperationException($"@{Name} is known only {DeferredUntil}; a statement with it cannot be sent");
        if (ArrayValues is { } values)
        {
            var element = Type["ARRAY<".Length..^1];
            return new JsonObject
            {
                ["name"] = Name,
                ["parameterType"] = new JsonObject { ["type"] = "ARRAY", ["arrayType"] = new JsonObject { ["type"] = element } },
                ["parameterValue"] = new JsonObject
                {
                    ["arrayValues"] = new JsonArray(values.Select(v => (JsonNode)new JsonObject { ["value"] = v }).ToArray()),
                },
            };
        }
        return new JsonObject
        {
            ["name"] = Name,
            ["parameterType"] = new JsonObject { ["type"] = Type },
            ["parameterValue"] = new JsonObject { ["value"] = Value },
        };
    }

    /// <summary>The parameter for people: <c>@seed INT64 = 42</c>.</summary>
    public string Describe()
    {
        if (DeferredUntil is not null) return $"@{Name} {Type} = (known {DeferredUntil})";
        var elementType = IsArray ? Type["ARRAY<".Length..^1] : Type;
        string Literal(string v) => elementType == "STRING" ? $"'{v.Replace("\\", "\\\\").Replace("'", "\\'")}'" : v;
        return ArrayValues is { } values
            ? $"@{Name} {Type} = [{string.Join(", ", values.Select(Literal))}]"
            : $"@{Name} {Type} = {Literal(Value!)}";
    }
}
