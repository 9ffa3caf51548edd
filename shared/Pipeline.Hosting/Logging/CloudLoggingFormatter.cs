using System.Buffers;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Console;

namespace Pipeline.Hosting.Logging;

/// <summary>
/// One JSON object per line as Cloud Logging reads a Cloud Run container's stdout: <c>severity</c>, <c>message</c>
/// (with the exception's stack trace, so Error Reporting picks it up), <c>time</c>, the logger, and the run, stage,
/// function and message id from the open logging scopes.
/// </summary>
public sealed class CloudLoggingFormatter() : ConsoleFormatter(FormatterName)
{
    public const string FormatterName = "cloud-logging";

    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public override void Write<TState>(in LogEntry<TState> logEntry, IExternalScopeProvider? scopeProvider, TextWriter textWriter)
    {
        var message = logEntry.Formatter(logEntry.State, logEntry.Exception);
        if (string.IsNullOrEmpty(message) && logEntry.Exception is null) return;

        var buffer = new ArrayBufferWriter<byte>(256);
        using (var json = new Utf8JsonWriter(buffer, WriterOptions))
        {
            json.WriteStartObject();
            json.WriteString("severity", Severity(logEntry.LogLevel));
            json.WriteString("message", logEntry.Exception is null ? message : $"{message}\n{logEntry.Exception}");
            json.WriteString("time", DateTimeOffset.UtcNow);
            json.WriteString("logger", logEntry.Category);
            foreach (var (field, value) in LogScopes.Collect(scopeProvider)) json.WriteString(field, value);
            if (LogScopes.Progress(scopeProvider) is { } progress) WriteProgress(json, progress);
            json.WriteEndObject();
        }
        textWriter.Write(Encoding.UTF8.GetString(buffer.WrittenSpan));
        textWriter.Write('\n');
    }

    /// <summary>A stage's progress as numbers, so that a log-based metric or a query can read them.</summary>
    private static void WriteProgress(Utf8JsonWriter json, Pipeline.Core.StageProgress progress)
    {
        json.WriteStartObject("progress");
        json.WriteString("step", progress.Step);
        json.WriteNumber("done", progress.Done);
        if (progress.Total is { } total) json.WriteNumber("total", total);
        json.WriteString("unit", progress.Unit);
        if (progress.Detail is { } detail) json.WriteString("detail", detail);
        json.WriteBoolean("final", progress.Final);
        json.WriteEndObject();
    }

    /// <summary>Cloud Logging's LogSeverity names.</summary>
    public static string Severity(LogLevel level) => level switch
    {
        LogLevel.Trace or LogLevel.Debug => "DEBUG",
        LogLevel.Information => "INFO",
        LogLevel.Warning => "WARNING",
        LogLevel.Error => "ERROR",
        LogLevel.Critical => "CRITICAL",
        _ => "DEFAULT",
    };
}

/// <summary>
/// One line per entry for a person at a terminal: time, level, function or stage and run, message. Several functions
/// share one console under <c>serve</c>, so every line says whose it is.
/// </summary>
public sealed class RunTextFormatter() : ConsoleFormatter(FormatterName)
{
    public const string FormatterName = "run-text";

    public override void Write<TState>(in LogEntry<TState> logEntry, IExternalScopeProvider? scopeProvider, TextWriter textWriter)
    {
        var message = logEntry.Formatter(logEntry.State, logEntry.Exception);
        if (string.IsNullOrEmpty(message) && logEntry.Exception is null) return;

        var fields = LogScopes.Collect(scopeProvider).ToDictionary(f => f.Key, f => f.Value);
        var line = new StringBuilder(128)
            .Append(DateTimeOffset.Now.ToString("HH:mm:ss.fff", System.Globalization.CultureInfo.InvariantCulture))
            .Append(' ').Append(Level(logEntry.LogLevel));
        if ((fields.GetValueOrDefault("stage") ?? fields.GetValueOrDefault("function")) is { } who) line.Append(' ').Append(who);
        if (fields.GetValueOrDefault("run_id") is { } runId) line.Append(" run=").Append(runId);
        line.Append(" [").Append(ShortCategory(logEntry.Category)).Append("] ").Append(message);
        if (logEntry.Exception is not null) line.Append('\n').Append(logEntry.Exception);
        textWriter.Write(line.Append('\n').ToString());
    }

    private static string Level(LogLevel level) => level switch
    {
        LogLevel.Trace => "trce",
        LogLevel.Debug => "dbug",
        LogLevel.Information => "info",
        LogLevel.Warning => "WARN",
        LogLevel.Error => "FAIL",
        LogLevel.Critical => "CRIT",
        _ => "    ",
    };

    private static string ShortCategory(string category) => category[(category.LastIndexOf('.') + 1)..];
}
