using System.CommandLine;
using Pipeline.Runner.Commands;

namespace Pipeline.Runner;

/// <summary>
/// The Runner's command line. Every command ends a failure with one line saying what failed and what to do, and
/// a non-zero exit; the stack trace only with <c>--verbose</c>, since a newcomer needs the advice, not the trace.
/// </summary>
public static class RunnerCommandLine
{
    /// <summary>Shows the whole exception (type and stack trace) when a command fails.</summary>
    public static Option<bool> Verbose { get; } = new("--verbose") { Description = "On a failure, print the stack trace too.", Recursive = true };

    public static RootCommand Create()
    {
        var root = new RootCommand(
            "Customer segmentation pipeline: per-customer RFM statistics, K-means segments, a chart and a campaign per segment.\n" +
            "Runs on the embedded backend (DuckDB, a local directory) with no cloud at all, or as Cloud Run functions on GCP.");
        root.Options.Add(Verbose);
        root.Subcommands.Add(RunCommand.Create());
        root.Subcommands.Add(SampleCommand.Create());
        root.Subcommands.Add(ServeCommand.Create());
        root.Subcommands.Add(TriggerCommand.Create());
        root.Subcommands.Add(PlanCommand.Create());
        root.Subcommands.Add(RunsCommand.Create());
        return root;
    }

    public static async Task<int> InvokeAsync(string[] args)
    {
        var parsed = Create().Parse(args);
        try
        {
            return await parsed.InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        }
        catch (OperationCanceledException)
        {
            await Console.Error.WriteLineAsync("Stopped before the command finished.");
            return 130;
        }
        catch (Exception e)
        {
            var command = parsed.CommandResult.Command.Name;
            await Console.Error.WriteLineAsync(e is CommandFailedException
                ? e.Message
                : $"{command} failed: {e.Message}{(parsed.GetValue(Verbose) ? "" : " (--verbose shows where)")}");
            if (parsed.GetValue(Verbose)) await Console.Error.WriteLineAsync(e.ToString());
            return 1;
        }
    }
}

/// <summary>
/// A command's failure, already worded for the person at the terminal: what failed and what to do. Printed as
/// it is, as the command's last line.
/// </summary>
public sealed class CommandFailedException(string message, Exception? inner = null) : Exception(message, inner);
