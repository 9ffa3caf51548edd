using System.CommandLine;
using System.Text.Json.Nodes;

namespace Pipeline.Runner.Commands;

/// <summary>The trigger's fields as command-line options, shared by the commands that start a run.</summary>
public sealed class TriggerOptions
{
    public Option<string?> RunId { get; } = new("--run-id") { Description = "Run id (letters, digits, _ and -; at most 63). Default: generated from the time." };
    public Option<string?> WindowStart { get; } = new("--window-start") { Description = "First day of the order window, YYYY-MM-DD (inclusive). Default: 365 days before --window-end." };
    public Option<string?> WindowEnd { get; } = new("--window-end") { Description = "Day after the window, YYYY-MM-DD (exclusive). Default: today (UTC)." };
    public Option<string?> AsOf { get; } = new("--as-of") { Description = "Date recency is measured from, YYYY-MM-DD. Default: --window-end." };
    public Option<string?> K { get; } = new("--k") { Description = "Number of segments, 2 to 20, or 'auto' (lowest Davies-Bouldin index on held-out customers among 2..8). Default: 5." };
    public Option<string?> Metrics { get; } = new("--metrics") { Description = "'rfm' (default: cancelled/returned excluded, distinct orders, average order value) or 'lab' (the lab's SQL exactly)." };
    public Option<int?> Seed { get; } = new("--seed") { Description = "Seed of the train/test split and K-means. Default: 42." };
    public Option<double?> TestFraction { get; } = new("--test-fraction") { Description = "Share of customers held out for evaluation, above 0 and at most 0.5. Default: 0.2." };
    public Option<bool> AcceptHeld { get; } = new("--accept-held") { Description = "Complete the run even if it fails the quality gate (the trigger's accept_held); the gate's verdict is still recorded." };

    public void AddTo(Command command)
    {
        foreach (var option in new Option[] { RunId, WindowStart, WindowEnd, AsOf, K, Metrics, Seed, TestFraction, AcceptHeld })
            command.Options.Add(option);
    }

    /// <summary>
    /// The trigger message for the options given: only the fields set, so the functions' own defaults and checks
    /// apply exactly as for a trigger from Cloud Scheduler.
    /// </summary>
    public JsonObject ToTrigger(ParseResult result, string runId)
    {
        var trigger = new JsonObject { ["run_id"] = runId };
        void Set(string name, JsonNode? value)
        {
            if (value is not null) trigger[name] = value;
        }
        Set("window_start", result.GetValue(WindowStart));
        Set("window_end", result.GetValue(WindowEnd));
        Set("as_of", result.GetValue(AsOf));
        var k = result.GetValue(K);
        Set("k", k is null ? null : int.TryParse(k, out var number) ? JsonValue.Create(number) : JsonValue.Create(k));
        Set("metrics", result.GetValue(Metrics));
        Set("seed", result.GetValue(Seed));
        Set("test_fraction", result.GetValue(TestFraction));
        if (result.GetValue(AcceptHeld)) trigger["accept_held"] = true;
        return trigger;
    }
}
