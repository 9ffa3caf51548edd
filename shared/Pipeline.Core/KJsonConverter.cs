using System.Text.Json;
using System.Text.Json.Serialization;

namespace Pipeline.Core;

/// <summary>Writes and reads k as a number, or the string "auto" for null.</summary>
public sealed class KJsonConverter : JsonConverter<int?>
{
    public override bool HandleNull => true;

    public override int? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        reader.TokenType switch
        {
            JsonTokenType.Number when reader.TryGetInt32(out var k) => k,
            JsonTokenType.String when reader.ValueTextEquals("auto") => null,
            JsonTokenType.Null => null,
            _ => throw new JsonException("k must be a whole number or \"auto\""),
        };

    public override void Write(Utf8JsonWriter writer, int? value, JsonSerializerOptions options)
    {
        if (value is { } k) writer.WriteNumberValue(k);
        else writer.WriteStringValue("auto");
    }
}
