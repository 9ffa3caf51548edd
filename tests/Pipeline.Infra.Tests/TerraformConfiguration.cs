using System.ComponentModel;
using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Pipeline.Infra.Tests;

/// <summary>
/// A Terraform configuration as @cdktf/hcl2json renders it: blocks are arrays of objects, expressions stay
/// <c>"${…}"</c> strings. It knows just enough Terraform to list resource instances: <c>for_each</c> over a local
/// map or list of strings, with <c>each.key</c>, <c>each.value.*</c> and string locals bound in the instance's body.
/// </summary>
public sealed partial class TerraformConfiguration(JsonObject root)
{
    /// <summary>The parsed configuration; a test may change a copy of it to show what the checks report.</summary>
    public JsonObject Root { get; } = root;

    /// <summary>Parses every .tf file in <paramref name="directory"/> with infra/tools/hcl2json.mjs.</summary>
    public static TerraformConfiguration Load(string directory)
    {
        EnsureTools();

        var start = new ProcessStartInfo("node")
        {
            ArgumentList = { Path.Combine(RepositoryLayout.InfraTools, "hcl2json.mjs"), directory },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        Process node;
        try
        {
            node = Process.Start(start) ?? throw new InvalidOperationException("node did not start");
        }
        catch (Win32Exception e)
        {
            throw new InvalidOperationException($"cannot run node, which parses the Terraform: {e.Message}", e);
        }

        using (node)
        {
            var output = node.StandardOutput.ReadToEndAsync();
            var errors = node.StandardError.ReadToEndAsync();
            if (!node.WaitForExit(TimeSpan.FromMinutes(1)))
            {
                node.Kill(entireProcessTree: true);
                throw new TimeoutException($"hcl2json took more than a minute on {directory}");
            }

            if (node.ExitCode != 0)
                throw new InvalidOperationException($"hcl2json failed on {directory} (exit {node.ExitCode}): {errors.Result}");
            return new TerraformConfiguration(JsonNode.Parse(output.Result)?.AsObject()
                ?? throw new InvalidOperationException($"hcl2json printed nothing for {directory}"));
        }
    }

    private static readonly Lock ToolsGate = new();

    /// <summary>
    /// Installs infra/tools' pinned packages (npm ci) the first time they are needed, so that `dotnet test` alone
    /// runs these tests on a machine with Node.js; a missing Node.js fails with a clear message.
    /// </summary>
    private static void EnsureTools()
    {
        lock (ToolsGate)
        {
            var package = Path.Combine(RepositoryLayout.InfraTools, "node_modules", "@cdktf", "hcl2json");
            if (Directory.Exists(package)) return;
            var start = new ProcessStartInfo("npm")
            {
                ArgumentList = { "ci", "--no-audit", "--no-fund", "--loglevel=error" },
                WorkingDirectory = RepositoryLayout.InfraTools,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            try
            {
                using var npm = Process.Start(start) ?? throw new InvalidOperationException("npm did not start");
                var errors = npm.StandardError.ReadToEndAsync();
                _ = npm.StandardOutput.ReadToEndAsync();
                if (!npm.WaitForExit(TimeSpan.FromMinutes(5)) || npm.ExitCode != 0)
                    throw new InvalidOperationException($"`npm ci` in {RepositoryLayout.InfraTools} failed: {errors.Result}");
            }
            catch (Win32Exception e)
            {
                throw new InvalidOperationException(
                    $"{package} is missing and npm cannot run ({e.Message}): install Node.js, or run `npm ci --prefix infra/tools`", e);
            }
        }
    }

    /// <summary>Every <c>locals</c> block's entries, merged as Terraform merges them.</summary>
    public JsonObject Locals
    {
        get
        {
            var merged = new JsonObject();
            foreach (var block in Root["locals"]?.AsArray().OfType<JsonObject>() ?? [])
            {
                foreach (var (name, value) in block)
                    merged[name] = value?.DeepClone();
            }

            return merged;
        }
    }

    /// <summary>The default of variable <paramref name="name"/>, when it is a string.</summary>
    public string? VariableDefault(string name) =>
        Root["variable"]?[name]?.AsArray().FirstOrDefault()?["default"] is JsonValue value && value.TryGetValue<string>(out var text)
            ? text
            : null;

    /// <summary>
    /// The instances of every resource of <paramref name="type"/>, their bodies bound to their <c>each</c>.
    /// What cannot be expanded is added to <paramref name="problems"/> rather than skipped in silence.
    /// </summary>
    public IReadOnlyList<ResourceInstance> Instances(string type, ICollection<string> problems)
    {
        if (Root["resource"]?[type] is not JsonObject byName)
            return [];

        var locals = Locals;
        var instances = new List<ResourceInstance>();
        foreach (var (name, blocks) in byName)
        {
            var address = $"{type}.{name}";
            foreach (var block in blocks?.AsArray().OfType<JsonObject>() ?? [])
            {
                if (block["count"] is not null)
                {
                    problems.Add($"{address} uses count, which this check cannot expand: use for_each over a local");
                    continue;
                }

                if (block["for_each"] is not { } forEach)
                {
                    instances.Add(new ResourceInstance(address, null, Bind(block, null, null, locals)));
                    continue;
                }

                var items = ForEachItems(forEach.ToString(), locals);
                if (items is null)
                {
                    problems.Add($"{address}: cannot expand for_each = {forEach}; this check reads for_each over a local map or list only");
                    continue;
                }

                foreach (var (key, value) in items)
                    instances.Add(new ResourceInstance($"{address}[\"{key}\"]", key, Bind(block, key, value, locals)));
            }
        }

        return instances;
    }

    private static IReadOnlyList<(string Key, JsonNode? Value)>? ForEachItems(string expression, JsonObject locals)
    {
        var match = LocalForEach().Match(expression);
        if (!match.Success)
            return null;
        return locals[match.Groups["name"].Value] switch
        {
            JsonObject map => map.Select(entry => (entry.Key, entry.Value)).ToList(),
            JsonArray list when list.All(item => item is JsonValue value && value.TryGetValue<string>(out _)) =>
                list.Select(item => (item!.GetValue<string>(), (JsonNode?)item)).ToList(),
            _ => null,
        };
    }

    private static JsonObject Bind(JsonObject block, string? key, JsonNode? value, JsonObject locals)
    {
        var bound = block.DeepClone().AsObject();
        BindStrings(bound, text => BindText(text, key, value, locals));
        return bound;
    }

    private static void BindStrings(JsonNode node, Func<string, string> bind)
    {
        switch (node)
        {
            case JsonObject obj:
                foreach (var name in obj.Select(entry => entry.Key).ToList())
                {
                    if (obj[name] is JsonValue text && text.TryGetValue<string>(out var s))
                        obj[name] = bind(s);
                    else if (obj[name] is { } child)
                        BindStrings(child, bind);
                }

                break;
            case JsonArray array:
                for (var i = 0; i < array.Count; i++)
                {
                    if (array[i] is JsonValue text && text.TryGetValue<string>(out var s))
                        array[i] = bind(s);
                    else if (array[i] is { } child)
                        BindStrings(child, bind);
                }

                break;
        }
    }

    // "${each.key}" becomes the key itself; each.key inside a larger expression becomes a quoted string, so that
    // google_pubsub_topic.chain[each.value.triggered_by].id reads google_pubsub_topic.chain["stats-ready"].id.
    private static string BindText(string text, string? key, JsonNode? value, JsonObject locals)
    {
        string? Resolve(string path)
        {
            var parts = path.Split('.');
            JsonNode? resolved = parts[0] switch
            {
                "each" when parts is [_, "key"] && key is not null => JsonValue.Create(key),
                "each" when parts is [_, "value"] => value,
                "each" when parts is [_, "value", var field] => value?[field],
                "local" when parts is [_, var name] => locals[name],
                _ => null,
            };
            return resolved is JsonValue literal && literal.TryGetValue<string>(out var s) && !s.Contains("${", StringComparison.Ordinal)
                ? s
                : null;
        }

        text = WholeInterpolation().Replace(text, m => Resolve(m.Groups["path"].Value) ?? m.Value);
        return InnerReference().Replace(text, m => Resolve(m.Value) is { } s ? JsonSerializer.Serialize(s) : m.Value);
    }

    [GeneratedRegex(@"^\$\{(?:toset\()?local\.(?<name>\w+)\)?\}$")]
    private static partial Regex LocalForEach();

    [GeneratedRegex(@"\$\{(?<path>(?:each\.(?:key|value(?:\.\w+)?)|local\.\w+))\}")]
    private static partial Regex WholeInterpolation();

    [GeneratedRegex(@"\b(?:each\.(?:key|value(?:\.\w+)?)|local\.\w+)\b")]
    private static partial Regex InnerReference();
}

/// <summary>One instance of a resource: its address (<c>type.name["key"]</c>), its for_each key, and its bound body.</summary>
public sealed partial record ResourceInstance(string Address, string? Key, JsonObject Body)
{
    /// <summary>
    /// The string at <paramref name="path"/>, stepping into the first block wherever a block is a list of blocks
    /// (<c>Text("push_config", "push_endpoint")</c>).
    /// </summary>
    public string? Text(params string[] path) =>
        Node(path) is JsonValue value ? value.ToString() : null;

    public JsonNode? Node(params string[] path)
    {
        JsonNode? node = Body;
        foreach (var name in path)
        {
            if (node is JsonArray blocks)
                node = blocks.FirstOrDefault();
            node = node?[name];
        }

        return node is JsonArray { Count: > 0 } list && path.Length > 0 && list[0] is JsonObject ? list[0] : node;
    }

    /// <summary>
    /// The instance that <paramref name="expression"/> refers to, when it is one reference such as
    /// <c>${google_pubsub_topic.chain["stats-ready"].id}</c> or <c>serviceAccount:${google_service_account.x.email}</c>.
    /// </summary>
    public static string? ReferencedAddress(string? expression) =>
        expression is not null && Reference().Match(expression) is { Success: true } match ? match.Groups["address"].Value : null;

    [GeneratedRegex(@"^(?:serviceAccount:)?\$\{(?<address>\w+\.\w+(?:\[""[^""]*""\])?)\.\w+\}$")]
    private static partial Regex Reference();
}
