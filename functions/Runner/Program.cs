using System.CommandLine;
using Pipeline.Runner.Commands;

var root = new RootCommand(
    "Customer segmentation pipeline: per-customer RFM statistics, K-means segments, a chart and a campaign per segment.\n" +
    "Runs on the embedded backend (DuckDB, a local directory) with no cloud at all, or as Cloud Run functions on GCP.");
root.Subcommands.Add(RunCommand.Create());
root.Subcommands.Add(SampleCommand.Create());
root.Subcommands.Add(ServeCommand.Create());
root.Subcommands.Add(TriggerCommand.Create());
root.Subcommands.Add(PlanCommand.Create());
root.Subcommands.Add(RunsCommand.Create());
return await root.Parse(args).InvokeAsync();
