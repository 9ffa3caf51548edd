using System.Text.Json;

namespace Pipeline.Emulator.Tests.Support;

/// <summary>Captured wire payloads under Payloads/ (as functions-framework-dotnet keeps GcfEvents/*.json).</summary>
internal static class Payloads
{
    public static byte[] Read(string name) => File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Payloads", name));

    /// <summary>A captured binary-mode CloudEvent: its HTTP headers, and its body.</summary>
    public static (IReadOnlyDictionary<string, string> Headers, byte[] Body) ReadBinaryCloudEvent(string name)
    {
        using var document = JsonDocument.Parse(Read(name));
        var headers = document.RootElement.GetProperty("headers").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!);
        return (headers, JsonSerializer.SerializeToUtf8Bytes(document.RootElement.GetProperty("body")));
    }
}
