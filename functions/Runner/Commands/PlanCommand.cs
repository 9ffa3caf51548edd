using System.CommandLine;
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
        var trigger = new TriggerOptions();
        var backend = new Option<string>("--backend") { Description = "The backend whose statements to print: gcp", DefaultValueFactory = _ => "gcp" };
        var project = new Option<string?>("--project") { Description = "The Google Cloud project (default Gcp:ProjectId from the environment)" };
        var dataset = new Option<string?>("--dataset") { Description = "The BigQuery dataset of the run's tables and models (default Gcp:Dataset)" };
        var location = new Option<string?>("--location") { Description = "The BigQuery location (default Gcp:Location, or US)" };
        var bucket = new Option<string?>("--bucket") { Description = "The Cloud Storage bucket BigQuery exports the Parquet parts into (default Gcp:Bucket)" };
        var source = new Option<string?>("--source-table") { Description = "The order_items table, project.dataset.table (default the public thelook_ecommerce)" };

        var command = new Command("plan", "Print the BigQuery statements of a run (GCP backend), without contacting Google");
        trigger.AddTo(command);
        foreach (var option in new Option[] { backend, project, dataset, location, bucket, source })
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
            var message = trigger.ToTrigger(result, result.GetValue(trigger.RunId) ?? RunId.New(DateTimeOffset.UtcNow));

            RunParameters parameters;
            try
            {
                var now = DateTimeOffset.UtcNow;
                parameters = TriggerParser.Parse(System.Text.Encoding.UTF8.GetBytes(message.ToJsonString()), "", now, DateOnly.FromDateTime(now.UtcDateTime));
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
                Bucket = result.GetValue(bucket) ?? environment.Bucket,
            };
            var problems = new GcpOptionsValidator().Validate(null, options);
            if (problems.Failed)
            {
                foreach (var problem in problems.Failures!)
                    error.WriteLine(problem.Replace("Gcp:ProjectId", "--project (Gcp:ProjectId)").Replace("Gcp:Dataset", "--dataset (Gcp:Dataset)").Replace("Gcp:Bucket", "--bucket (Gcp:Bucket)"));
                return Task.FromResult(2);
            }

            output.Write(new SqlPlan(options, parameters).Render(Pipeline.Functions.RenderChart.Function.MaxPoints));
            return Task.FromResult(0);
        });
        return command;
    }
}
