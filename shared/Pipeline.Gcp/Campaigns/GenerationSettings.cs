namespace Pipeline.Gcp;

/// <summary>
/// How the campaign writer asks a model, chosen by model family. The lab's temperature 0.4 was text-bison's; for
/// Gemini 3 models Google advises leaving temperature (and top-p) at their defaults, which the models' reasoning is
/// tuned for, and controlling effort with the thinking level instead: a low level suits this short, structured task
/// and keeps it fast and cheap. Other models (Gemini 2.x, models behind an OpenAI-compatible endpoint) keep the
/// lab's temperature.
/// </summary>
/// <param name="Temperature">The sampling temperature to send, or null to send none (the model's default).</param>
/// <param name="ThinkingLevel">Vertex AI's <c>thinkingConfig.thinkingLevel</c> (<c>LOW</c>, …), or null to send none.</param>
public sealed record GenerationSettings(float? Temperature, string? ThinkingLevel)
{
    /// <summary>The lab's temperature (for text-bison), kept for models without other guidance.</summary>
    public const float LabTemperature = 0.4f;

    /// <summary>The <see cref="Microsoft.Extensions.AI.ChatOptions.AdditionalProperties"/> key the Vertex client reads the thinking level from.</summary>
    public const string ThinkingLevelKey = "thinkingLevel";

    /// <summary>
    /// The settings for <paramref name="model"/>; a configured temperature (<c>Campaign__Temperature</c>) wins over
    /// the family's default.
    /// </summary>
    public static GenerationSettings For(string writer, string model, float? configuredTemperature)
    {
        var gemini3 = writer == "vertex" && IsGemini3(model);
        return gemini3
            ? new GenerationSettings(configuredTemperature, "LOW")
            : new GenerationSettings(configuredTemperature ?? LabTemperature, null);
    }

    /// <summary>Gemini 3 and later (<c>gemini-3-…</c>, <c>gemini-3.5-flash</c>, <c>gemini-4…</c>), by the model id.</summary>
    public static bool IsGemini3(string model)
    {
        var id = model.Contains('/', StringComparison.Ordinal) ? model[(model.LastIndexOf('/') + 1)..] : model;
        if (!id.StartsWith("gemini-", StringComparison.OrdinalIgnoreCase)) return false;
        var version = id["gemini-".Length..].Split('-', '.')[0];
        return int.TryParse(version, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var major) && major >= 3;
    }
}
