using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Pipeline.Gcp.Tests;

/// <summary>
/// A validator for the subset of Google's API discovery format the backend's requests use: <c>$ref</c>, object
/// properties (an unknown or read-only one is an error), <c>additionalProperties</c> maps, arrays, the scalar types
/// with their formats (int64 and uint64 travel as decimal strings, <c>byte</c> as base64), enums, and a method's
/// path and query parameters, besides the document's global query parameters (<c>fields</c>, <c>uploadType</c>, …).
/// </summary>
internal sealed class DiscoverySchema
{
    private readonly JsonObject _schemas;
    private readonly JsonObject _methods;
    private readonly JsonObject _globalParameters;
    private readonly HashSet<string> _leftOut;

    private DiscoverySchema(JsonObject document)
    {
        _schemas = (JsonObject)document["schemas"]!;
        _methods = (JsonObject)document["methods"]!;
        _globalParameters = document["parameters"] as JsonObject ?? [];
        _leftOut = (document["leftOut"] as JsonArray ?? []).Select(n => (string)n!).ToHashSet(StringComparer.Ordinal);
    }

    public static DiscoverySchema Load(string file) =>
        new((JsonObject)JsonNode.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Schemas", file)))!);

    /// <summary>The problems of <paramref name="body"/> as the request of <paramref name="methodId"/> (none: it validates).</summary>
    public IReadOnlyList<string> ValidateRequest(string methodId, string body)
    {
        var request = (string)Method(methodId)["request"]!["$ref"]!;
        var problems = new List<string>();
        Validate(JsonNode.Parse(body), new JsonObject { ["$ref"] = request }, "$", problems);
        return problems;
    }

    /// <summary>
    /// The problems of a request's query string for <paramref name="methodId"/>: unknown names, wrong types. The
    /// document's global parameters count for every method; <c>alt=media</c> only for a method that
    /// <c>supportsMediaDownload</c>, as the discovery format has it.
    /// </summary>
    public IReadOnlyList<string> ValidateQuery(string methodId, IDictionary<string, WireMock.Types.WireMockList<string>> query)
    {
        var method = Method(methodId);
        var parameters = (JsonObject)method["parameters"]!;
        var problems = new List<string>();
        foreach (var (name, values) in query)
        {
            if ((parameters[name] ?? _globalParameters[name]) is not JsonObject parameter || (string?)parameter["location"] != "query")
            {
                problems.Add($"query parameter '{name}' is not a parameter of {methodId}");
                continue;
            }
            foreach (var value in values)
            {
                if (name == "alt" && value == "media" && (bool?)method["supportsMediaDownload"] == true) continue;
                CheckScalar(JsonValue.Create(value), parameter, $"?{name}", problems, fromQuery: true);
            }
        }
        return problems;
    }

    /// <summary>The problem with <paramref name="value"/> as the path parameter <paramref name="name"/> of the method, or null.</summary>
    public string? ValidatePathParameter(string methodId, string name, string value)
    {
        if (Method(methodId)["parameters"]![name] is not JsonObject parameter || (string?)parameter["location"] != "path")
            return $"'{name}' is not a path parameter of {methodId}";
        return parameter["pattern"] is JsonNode pattern && !System.Text.RegularExpressions.Regex.IsMatch(value, (string)pattern!)
            ? $"'{value}' does not match {name}'s pattern {pattern}"
            : null;
    }

    /// <summary>
    /// Every <c>$ref</c> of the copied schemas that is neither copied nor listed under <c>leftOut</c>: a subset that
    /// lost a schema by mistake shows here, not only when a body happens to use the property.
    /// </summary>
    public IReadOnlyList<string> UnaccountedReferences()
    {
        var references = new SortedSet<string>(StringComparer.Ordinal);
        Collect(_schemas);
        Collect(_methods);
        return references.Where(r => _schemas[r] is null && !_leftOut.Contains(r)).ToList();

        void Collect(JsonNode? node)
        {
            switch (node)
            {
                case JsonObject obj:
                    foreach (var (key, child) in obj)
                    {
                        // A method's response is what the API sends back, not part of what we validate.
                        if (key == "response") continue;
                        if (key == "$ref") references.Add((string)child!);
                        else Collect(child);
                    }
                    break;
                case JsonArray array:
                    foreach (var child in array) Collect(child);
                    break;
            }
        }
    }

    private JsonObject Method(string methodId) =>
        _methods[methodId] as JsonObject ?? throw new ArgumentException($"the schema file has no method {methodId}", nameof(methodId));

    private void Validate(JsonNode? value, JsonObject schema, string path, List<string> problems)
    {
        if (schema["$ref"] is JsonNode reference)
        {
            var name = (string)reference!;
            if (_schemas[name] is not JsonObject resolved)
            {
                problems.Add($"{path}: schema {name} is not in the copied subset");
                return;
            }
            Validate(value, resolved, path, problems);
            return;
        }
        if (value is null) return; // JSON null: the field is unset
        switch ((string?)schema["type"])
        {
            case "object":
                if (value is not JsonObject obj)
                {
                    problems.Add($"{path}: expected an object, got {value.GetValueKind()}");
                    return;
                }
                var properties = schema["properties"] as JsonObject;
                var additional = schema["additionalProperties"] as JsonObject;
                foreach (var (key, child) in obj)
                {
                    if (properties?[key] is JsonObject property)
                    {
                        if ((bool?)property["readOnly"] == true) problems.Add($"{path}.{key}: is output only (readOnly) and must not be sent");
                        Validate(child, property, $"{path}.{key}", problems);
                    }
                    else if (additional is not null) Validate(child, additional, $"{path}.{key}", problems);
                    else problems.Add($"{path}.{key}: unknown property");
                }
                break;
            case "array":
                if (value is not JsonArray array)
                {
                    problems.Add($"{path}: expected an array, got {value.GetValueKind()}");
                    return;
                }
                for (var i = 0; i < array.Count; i++) Validate(array[i], (JsonObject)schema["items"]!, $"{path}[{i}]", problems);
                break;
            case "any":
                break;
            default:
                CheckScalar(value, schema, path, problems, fromQuery: false);
                break;
        }
    }

    private static void CheckScalar(JsonNode value, JsonObject schema, string path, List<string> problems, bool fromQuery)
    {
        var type = (string?)schema["type"];
        var format = (string?)schema["format"];
        var kind = value.GetValueKind();
        var text = kind == JsonValueKind.String ? (string)value! : value.ToJsonString();
        switch (type)
        {
            case "string":
                if (kind != JsonValueKind.String) problems.Add($"{path}: expected a string, got {kind}");
                else if (format is "int64" && !long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _))
                    problems.Add($"{path}: '{text}' is not an int64 in decimal");
                else if (format is "uint64" && !ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out _))
                    problems.Add($"{path}: '{text}' is not a uint64 in decimal");
                else if (format is "byte" && !IsBase64(text)) problems.Add($"{path}: is not base64");
                break;
            case "integer":
                var integral = (fromQuery || kind == JsonValueKind.Number)
                    & long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n);
                if (!integral) problems.Add($"{path}: expected an integer, got {text}");
                else if (format is "uint32" && n is < 0 or > uint.MaxValue) problems.Add($"{path}: {n} is out of uint32's range");
                else if (format is "int32" && n is < int.MinValue or > int.MaxValue) problems.Add($"{path}: {n} is out of int32's range");
                break;
            case "number":
                if (!(kind == JsonValueKind.Number || fromQuery && double.TryParse(text, CultureInfo.InvariantCulture, out _)))
                    problems.Add($"{path}: expected a number, got {text}");
                break;
            case "boolean":
                if (!(kind is JsonValueKind.True or JsonValueKind.False || fromQuery && text is "true" or "false"))
                    problems.Add($"{path}: expected a boolean, got {text}");
                break;
            default:
                problems.Add($"{path}: the schema's type '{type}' is not one this validator knows");
                break;
        }
        if (schema["enum"] is JsonArray allowed && !allowed.Any(a => (string?)a == text))
            problems.Add($"{path}: '{text}' is not one of {string.Join(", ", allowed.Select(a => (string?)a))}");
    }

    private static bool IsBase64(string text)
    {
        var buffer = new byte[text.Length];
        return Convert.TryFromBase64String(text, buffer, out _);
    }
}
