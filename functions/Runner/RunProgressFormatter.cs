using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Console;
using Microsoft.Extensions.Options;

namespace Pipeline.Runner;

/// <summary>Options of <see cref="RunProgressFormatter"/>.</summary>
public sealed class RunProgressFormatterOptions : ConsoleFormatterOptions
{
    /// <summary>Adds each logged exception's stack trace (<c>--verbose</c>).</summary>
    public bool StackTraces { get; set; }
}

/// <summary>
/// <c>run</c>'s progress on the console, one line an entry as the simple console's single-line format writes it
/// (<c>HH:mm:ss info: Category[0] message</c>), but a logged exception's stack trace only with <c>--verbose</c>:
/// every message already carries its reason, and a user who sees a retry or a failure reads a line, not a trace.
/// </summary>
public sealed class RunProgressFormatter(IOptionsMonitor<RunProgressFormatterOptions> options) : ConsoleFormatter(FormatterName)
{
    public const string FormatterName = "run-progress";

    public override void Write<TState>(in LogEntry<TState> logEntry, IExternalScopeProvider? scopeProvider, TextWriter textWriter)
    {
        var message = logEntry.Formatter(logEntry.State, logEntry.Exception);
        if (string.IsNullOrEmpty(message)) message = logEntry.Exception?.Message;
        if (string.IsNullOrEmpty(message)) return;
        textWriter.Write(DateTimeOffset.Now.ToString("HH:mm:ss ", CultureInfo.InvariantCulture));
        textWriter.Write(Level(logEntry.LogLevel));
        textWriter.Write(": ");
        textWriter.Write(logEntry.Category);
        textWriter.Write(string.Create(CultureInfo.InvariantCulture, $"[{logEntry.EventId.Id}] "));
        textWriter.Write(message.ReplaceLineEndings(" "));
        if (options.CurrentValue.StackTraces && logEntry.Exception is { } exception)
        {
            textWriter.Write(' ');
            textWriter.Write(exception.ToString().ReplaceLineEndings(" "));
        }
        textWriter.Write(Environment.NewLine);
    }

    private static string Level(LogLevel level) => level switch
    {
        LogLevel.Trace => "trce",
        LogLevel.Debug => "dbug",
        LogLevel.Information => "info",
        LogLevel.Warning => "warn",
        LogLevel.Error => "fail",
        LogLevel.Critical => "crit",
        _ => "none",
    };
}
