namespace Pipeline.Core;

/// <summary>
/// What a stage's work produced: the message for the next topic, and what to add to the manifest.
/// </summary>
/// <param name="CompletesRun">The last stage: the run is completed and <c>latest.json</c> moves to it.</param>
public sealed record StageResult(
    string Topic,
    RunMessage Message,
    IReadOnlyDictionary<string, double>? Metrics = null,
    IReadOnlyDictionary<string, string>? Files = null,
    IReadOnlyList<string>? Notes = null,
    bool CompletesRun = false);
