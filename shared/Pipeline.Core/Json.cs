using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace Pipeline.Core;

/// <summary>The one JSON dialect of the pipeline: snake_case, strict on read, indented for files people open.</summary>
public static class PipelineJson
{
    /// <summary>For messages and files: unknown members and missing required members are errors.</summary>
    public static JsonSerializerOptions Options { get; } = Create(indented: false);

    /// <summary>The same dialect, indented, for files in the bucket.</summary>
    public static JsonSerializerOptions Indented { get; } = Create(indented: true);

    private static JsonSerializerOptions Create(bool indented)
    {
        var options = new JsonSerializerOptions
        {
            PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
            DictionaryKeyPolicy = null,
            UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
            RespectNullableAnnotations = true,
            RespectRequiredConstructorParameters = true,
            // Nulls are written: a reader of a manifest sees "finished_at": null rather than a missing field.
            DefaultIgnoreCondition = JsonIgnoreCondition.Never,
            WriteIndented = indented,
            Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
            NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        };
        options.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower, allowIntegerValues: false));
        // The pipeline's own documents and messages from generated metadata; anything else by reflection, as before.
        options.TypeInfoResolver = JsonTypeInfoResolver.Combine(PipelineJsonContext.Default, new DefaultJsonTypeInfoResolver());
        options.MakeReadOnly();
        return options;
    }

    /// <summary>Serializes by the value's runtime type, so a message typed as its base record keeps every field.</summary>
    public static byte[] Serialize<T>(T value, bool indented = false) =>
        JsonSerializer.SerializeToUtf8Bytes(value, value?.GetType() ?? typeof(T), indented ? Indented : Options);

    public static T Deserialize<T>(ReadOnlySpan<byte> utf8) =>
        JsonSerializer.Deserialize<T>(utf8, Options) ?? throw new JsonException("the JSON is null");
}

/// <summary>
/// The serialization metadata of the bucket's documents and the chain's messages, generated at build time. A process
/// that reads or writes its first manifest would otherwise reflect over every record and emit and compile an accessor
/// per property first, which is much of a short run's start-up. The names, converters and strictness still come
/// from <see cref="PipelineJson"/>'s options, so the JSON is the same either way.
/// </summary>
[JsonSerializable(typeof(RunManifest))]
[JsonSerializable(typeof(LatestRun))]
[JsonSerializable(typeof(RunHistory))]
[JsonSerializable(typeof(SegmentMigration))]
[JsonSerializable(typeof(SegmentModel))]
[JsonSerializable(typeof(ProfilesDocument))]
[JsonSerializable(typeof(RunParameters))]
[JsonSerializable(typeof(RunTriggered))]
[JsonSerializable(typeof(StatsReady))]
[JsonSerializable(typeof(ModelTrained))]
[JsonSerializable(typeof(PredictionsReady))]
[JsonSerializable(typeof(ChartRendered))]
[JsonSerializable(typeof(RunCompleted))]
[JsonSerializable(typeof(RunFailed))]
internal sealed partial class PipelineJsonContext : JsonSerializerContext;
