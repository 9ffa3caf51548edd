using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Console;
using Pipeline.Core;
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
    public void A_progress_line_carries_the_step_s_numbers_as_fields()
    {
        var provider = new LoggerExternalScopeProvider();
        using var writer = new StringWriter();
        var clock = new FixedClock();
        using (provider.Push(new Dictionary<string, object> { ["RunId"] = "r-1", ["Stage"] = "TrainModel" }))
        {
            var logger = new FormattingLogger(new CloudLoggingFormatter(), provider, writer);
            var progress = new LoggedStageProgress(logger, clock);
            progress.Report(new StageProgress("r-1", "TrainModel", "k-means k = 4, start 2 of 3", 7, 20, "iterations", "loss 0.412345", Final: true));
        }

        using var json = JsonDocument.Parse(writer.ToString());
        var root = json.RootElement;
        Assert.Equal("INFO", root.GetProperty("severity").GetString());
        Assert.Equal("TrainModel progress: k-means k = 4, start 2 of 3, 7 of 20 iterations, loss 0.412345 (done)", root.GetProperty("message").GetString());
        Assert.Equal("r-1", root.GetProperty("run_id").GetString());
        var fields = root.GetProperty("progress");
        Assert.Equal("k-means k = 4, start 2 of 3", fields.GetProperty("step").GetString());
        Assert.Equal(7, fields.GetProperty("done").GetInt64());
        Assert.Equal(20, fields.GetProperty("total").GetInt64());
        Assert.Equal("iterations", fields.GetProperty("unit").GetString());
        Assert.True(fields.GetProperty("final").GetBoolean());
    }

    private sealed class FixedClock : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    }

    /// <summary>A logger that writes through a console formatter, with the scopes it is given, as the console logger does.</summary>
    private sealed class FormattingLogger(ConsoleFormatter formatter, IExternalScopeProvider scopes, TextWriter writer) : ILogger<LoggedStageProgress>
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => scopes.Push(state);

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> format) =>
            formatter.Write(new LogEntry<TState>(logLevel, typeof(LoggedStageProgress).FullName!, eventId, state, exception, format), scopes, writer);
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
