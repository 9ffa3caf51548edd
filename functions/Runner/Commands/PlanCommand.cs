using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Configuration;
using Pipeline.Core;
using Pipeline.Gcp;

namespace Pipeline.Runner.Commands;

/// <summary>
/// <c>plan</c>: prints every SQL statement the functions would send to BigQuery for a trigger, in order, with the
/// parameters and job ids — without contacting Google — so people can review them or run them in the console.
/// </summary>
public static class PlanCommand
{
    public static Command Create()
    {
        var windowStart = new Option<string?>("--window-start") { Description = "First day of the window (YYYY-MM-DD, inclusive); default 365 days before --window-end" };
        var windowEnd = new Option<string?>("--window-end") { Description = "Day after the window (YYYY-MM-DD, exclusive); default today (UTC)" };
        var asOf = new Option<string?>("--as-of") { Description = "Day recency is measured from (YYYY-MM-DD); default --window-end" };
        var k = new Option<string?>("--k") { Description = "Number of segments, 2 to 20, or \"auto\"; default 5" };
        var metrics = new Option<string?>("--metrics") { Description = "Statistics preset: rfm (default) or lab" };
        var seed = new Option<int?>("--seed") { Description = "Seed of the train/test split; default 42" };
        var testFraction = new Option<double?>("--test-fraction") { Description = "Share of customers held out, above 0 and at most 0.5; default 0.2" };
        var runId = new Option<string?>("--run-id") { Description = "The run id; default one derived from the current time" };
        var backend = new Option<string>("--backend") { Description = "The backend whose statements to print: gcp", DefaultValueFactory = _ => "gcp" };
        var project = new Option<string?>("--project") { Description = "The Google Cloud project (default Gcp:ProjectId from the environment)" };
        var dataset = new Option<string?>("--dataset") { Description = "The BigQuery dataset of the run's tables and models (default Gcp:Dataset)" };
        var location = new Option<string?>("--location") { Description = "The BigQuery location (default Gcp:Location, or US)" };
        var source = new Option<string?>("--source-table") { Description = "The order_items table, project.dataset.table (default the public thelook_ecommerce)" };

        var command = new Command("plan", "Print the BigQuery statements of a run (GCP backend), without contacting Google");
        foreach (var option in new Option[] { windowStart, windowEnd, asOf, k, metrics, seed, testFraction, runId, backend, project, dataset, location, source })
            command.Options.Add(option);

        command.SetAction((ParseResult result, CancellationToken _) =>
        {
            var output = result.InvocationConfiguration.Output;
            var error = result.InvocationConfiguration.Error;
            if (!string.Equals(result.GetValue(backend), "gcp", StringComparison.OrdinalIgnoreCase))
            {
                error.WriteLine("plan prints BigQuery statements: use --backend gcp (the embedded backend runs DuckDB in process)");
                return Task.FromResult(2);
            }

            // The trigger message the options describe, resolved exactly as BuildStats resolves a trigger.
            var trigger = new JsonObject();
            void Field(string name, JsonNode? value) { if (value is not null) trigger[name] = value; }
            Field("run_id", result.GetValue(runId));
            Field("window_start", result.GetValue(windowStart));
            Field("window_end", result.GetValue(windowEnd));
            Field("as_of", result.GetValue(asOf));
            var kText = result.GetValue(k);
            Field("k", kText is null ? null : int.TryParse(kText, NumberStyles.None, CultureInfo.InvariantCulture, out var kValue) ? JsonValue.Create(kValue) : JsonValue.Create(kText));
            Field("metrics", result.GetValue(metrics));
            Field("seed", result.GetValue(seed) is { } s ? JsonValue.Create(s) : null);
            Field("test_fraction", result.GetValue(testFraction) is { } t ? JsonValue.Create(t) : null);

            RunParameters parameters;
            try
            {
                var now = DateTimeOffset.UtcNow;
                parameters = TriggerParser.Parse(System.Text.Encoding.UTF8.GetBytes(trigger.ToJsonString()), "", now, DateOnly.FromDateTime(now.UtcDateTime));
            }
            catch (InvalidMessageException e)
            {
                error.WriteLine($"invalid trigger: {e.Message}");
                return Task.FromResult(2);
            }

            var environment = new ConfigurationBuilder().AddEnvironmentVariables().Build().GetSection(GcpOptions.SectionName).Get<GcpOptions>() ?? new GcpOptions();
            var options = new GcpOptions
            {
                ProjectId = result.GetValue(project) ?? environment.ProjectId,
                Dataset = result.GetValue(dataset) ?? environment.Dataset,
                Location = result.GetValue(location) ?? environment.Location,
                SourceTable = result.GetValue(source) ?? environment.SourceTable,
                TableExpirationDays = environment.TableExpirationDays,
                Bucket = "unused-by-plan",
            };
            var problems = new GcpOptionsValidator().Validate(null, options);
            if (problems.Failed)
            {
                foreach (var problem in problems.Failures!)
                    error.WriteLine(problem.Replace("Gcp:ProjectId", "--project (Gcp:ProjectId)").Replace("Gcp:Dataset", "--dataset (Gcp:Dataset)"));
                return Task.FromResult(2);
            }

            output.Write(new SqlPlan(options, parameters).Render(Pipeline.Functions.RenderChart.Function.MaxPoints));
            return Task.FromResult(0);
        });
        return command;
    }
}
