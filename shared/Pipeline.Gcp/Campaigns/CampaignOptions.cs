using Microsoft.Extensions.Options;

namespace Pipeline.Gcp;

/// <summary>Which writer writes the campaign.</summary>
public enum CampaignWriterKind
{
    /// <summary>The built-in rule-based writer: no network, deterministic (the default).</summary>
    Offline,
    /// <summary>Vertex AI Gemini (<c>generateContent</c>), with Application Default Credentials.</summary>
    Vertex,
    /// <summary>Any OpenAI-compatible chat completions endpoint: Ollama, vLLM, LM Studio, OpenAI.</summary>
    OpenAI,
}

/// <summary>
/// The campaign writer, bound from the <c>Campaign</c> section (environment: <c>Campaign__Writer</c>,
/// <c>Campaign__Model</c>, <c>Campaign__Endpoint</c>, <c>Campaign__ApiKey</c>); both backends use it.
/// </summary>
public sealed class CampaignOptions
{
    public const string SectionName = "Campaign";

    /// <summary>A current Gemini Flash model on Vertex AI (GA since May 2026).</summary>
    public const string DefaultModel = "gemini-3.5-flash";

    public CampaignWriterKind Writer { get; set; } = CampaignWriterKind.Offline;

    /// <summary>The model: a Gemini model id on Vertex AI, or the model name an OpenAI-compatible server knows.</summary>
    public string Model { get; set; } = DefaultModel;

    /// <summary>
    /// For OpenAI: the base URL of the API, e.g. <c>http://localhost:11434/v1</c> (Ollama). For Vertex: an override of
    /// the regional endpoint (tests); normally empty.
    /// </summary>
    public string? Endpoint { get; set; }

    /// <summary>For OpenAI: the API key, if the server wants one (Ollama and vLLM do not). Keep it in Secret Manager.</summary>
    public string? ApiKey { get; set; }

    /// <summary>How long one answer may take before it counts as failed (and is retried once).</summary>
    public int TimeoutSeconds { get; set; } = 90;

    /// <summary>
    /// The sampling temperature; unset, the model family decides (<see cref="GenerationSettings"/>: the model's own
    /// default for Gemini 3, the lab's 0.4 otherwise).
    /// </summary>
    public float? Temperature { get; set; }
}

/// <summary>Checks <see cref="CampaignOptions"/> at start-up, naming what is missing for the chosen writer.</summary>
public sealed class CampaignOptionsValidator(IOptions<GcpOptions> gcp) : IValidateOptions<CampaignOptions>
{
    public ValidateOptionsResult Validate(string? name, CampaignOptions options)
    {
        var problems = new List<string>();
        var section = CampaignOptions.SectionName;
        switch (options.Writer)
        {
            case CampaignWriterKind.Vertex:
                if (string.IsNullOrWhiteSpace(gcp.Value.ProjectId))
                    problems.Add($"{section}:Writer is Vertex but {GcpOptions.SectionName}:ProjectId is not set (environment: {GcpOptions.SectionName}__ProjectId)");
                if (string.IsNullOrWhiteSpace(options.Model))
                    problems.Add($"{section}:Model is not set (environment: {section}__Model, e.g. {CampaignOptions.DefaultModel})");
                break;
            case CampaignWriterKind.OpenAI:
                if (string.IsNullOrWhiteSpace(options.Endpoint) || !Uri.TryCreate(options.Endpoint, UriKind.Absolute, out _))
                    problems.Add($"{section}:Endpoint is not set to an absolute URL (environment: {section}__Endpoint, e.g. http://localhost:11434/v1)");
                if (string.IsNullOrWhiteSpace(options.Model))
                    problems.Add($"{section}:Model is not set (environment: {section}__Model, e.g. llama3.1)");
                break;
        }
        if (options.Endpoint is { Length: > 0 } endpoint && !Uri.TryCreate(endpoint, UriKind.Absolute, out _))
            problems.Add($"{section}:Endpoint '{endpoint}' is not an absolute URL");
        if (options.TimeoutSeconds is < 1 or > 600)
            problems.Add($"{section}:TimeoutSeconds must be from 1 to 600, not {options.TimeoutSeconds}");
        if (options.Temperature is < 0 or > 2)
            problems.Add($"{section}:Temperature must be from 0 to 2, not {options.Temperature}");
        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
    }
}
