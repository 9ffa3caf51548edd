namespace Pipeline.Core;

/// <summary>
/// What a stage's work produced: the message for the next topic, and what to add to the manifest.
/// </summary>
/// <param name="CompletesRun">The last stage: the run is completed and <c>latest.json</c> moves to it — or, when the
/// manifest's quality gate did not pass, the run is held.</param>
/// <param name="Gate">The quality gate's verdict, recorded in the manifest (Predict computes it).</param>
public sealed record StageResult(
    string Topic,
    RunMessage Message,
    IReadOnlyDictionary<string, double>? Metrics = null,
    IReadOnlyDictionary<string, string>? Files = null,
    IReadOnlyList<string>? Notes = null,
    bool CompletesRun = false,
    QualityGate? Gate = null);
