using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Console;
using Pipeline.Hosting.Logging;

namespace Pipeline.Emulator.Tests.Hosting;

/// <summary>What a log line looks like: JSON for Cloud Logging, text for a terminal, the run id in both.</summary>
public sealed class LogFormatTests
{
    private static string Format(ConsoleFormatter formatter, LogLevel level, string message, Exception? exception,
        params Dictionary<string, object>[] scopes)
    {
        var provider = new LoggerExternalScopeProvider();
        var opened = scopes.Select(provider.Push).ToList();
        var entry = new LogEntry<string>(level, "Pipeline.Core.StageExecutor", new EventId(0), message, exception, (s, _) => s);
        using var writer = new StringWriter();
        formatter.Write(entry, provider, writer);
        opened.ForEach(s => s.Dispose());
        return writer.ToString();
    }

    [Fact]
    public void JSON_line_has_severity_message_and_the_run_from_the_executor_scope()
    {
        var line = Format(new CloudLoggingFormatter(), LogLevel.Information, "BuildStats started for run r-1", null,
            new Dictionary<string, object> { ["Function"] = "BuildStats", ["MessageId"] = "17" },
            new Dictionary<string, object> { ["RunId"] = "r-1", ["Stage"] = "BuildStats" });

        Assert.EndsWith("\n", line, StringComparison.Ordinal);
        Assert.Single(line.TrimEnd('\n').Split('\n'));
        using var json = JsonDocument.Parse(line);
        var root = json.RootElement;
        Assert.Equal("INFO", root.GetProperty("severity").GetString());
        Assert.Equal("BuildStats started for run r-1", root.GetProperty("message").GetString());
        Assert.Equal("r-1", root.GetProperty("run_id").GetString());
        Assert.Equal("BuildStats", root.GetProperty("stage").GetString());
        Assert.Equal("17", root.GetProperty("message_id").GetString());
        Assert.Equal("Pipeline.Core.StageExecutor", root.GetProperty("logger").GetString());
    }

    [Fact]
    public void The_innermost_scope_names_the_run()
    {
        var line = Format(new CloudLoggingFormatter(), LogLevel.Warning, "m", null,
            new Dictionary<string, object> { ["RunId"] = "from-attribute" },
            new Dictionary<string, object> { ["RunId"] = "from-message" });

        using var json = JsonDocument.Parse(line);
        Assert.Equal("from-message", json.RootElement.GetProperty("run_id").GetString());
        Assert.Equal("WARNING", json.RootElement.GetProperty("severity").GetString());
    }

    [Fact]
    public void An_exception_stays_on_one_line_with_its_stack_trace_inside_the_message()
    {
        Exception error;
        try
        {
            throw new InvalidOperationException("boom \"quoted\"");
        }
        catch (InvalidOperationException e)
        {
            error = e;
        }

        var line = Format(new CloudLoggingFormatter(), LogLevel.Error, "TrainModel failed", error);

        Assert.Single(line.TrimEnd('\n').Split('\n'));
        using var json = JsonDocument.Parse(line);
        Assert.Equal("ERROR", json.RootElement.GetProperty("severity").GetString());
        var message = json.RootElement.GetProperty("message").GetString()!;
        Assert.StartsWith("TrainModel failed\nSystem.InvalidOperationException: boom \"quoted\"", message, StringComparison.Ordinal);
        Assert.Contains(nameof(An_exception_stays_on_one_line_with_its_stack_trace_inside_the_message), message, StringComparison.Ordinal);
        Assert.False(json.RootElement.TryGetProperty("run_id", out _));
    }

    [Theory]
    [InlineData(LogLevel.Debug, "DEBUG")]
    [InlineData(LogLevel.Information, "INFO")]
    [InlineData(LogLevel.Warning, "WARNING")]
    [InlineData(LogLevel.Error, "ERROR")]
    [InlineData(LogLevel.Critical, "CRITICAL")]
    public void Severity_uses_Cloud_Logging_names(LogLevel level, string severity) =>
        Assert.Equal(severity, CloudLoggingFormatter.Severity(level));

    [Fact]
    public void Text_line_names_the_stage_and_the_run()
    {
        var line = Format(new RunTextFormatter(), LogLevel.Information, "TrainModel completed", null,
            new Dictionary<string, object> { ["Function"] = "TrainModel" },
            new Dictionary<string, object> { ["RunId"] = "r-2", ["Stage"] = "TrainModel" });

        Assert.Matches(@"^\d\d:\d\d:\d\d\.\d{3} info TrainModel run=r-2 \[StageExecutor\] TrainModel completed\n$", line);
    }
}
