using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;

namespace Pipeline.Hosting.Logging;

/// <summary>Console logging for a function: JSON for Cloud Logging on Cloud Run, readable lines elsewhere.</summary>
public static class LoggingSetup
{
    /// <summary>
    /// JSON lines when <c>K_SERVICE</c> is set (Cloud Run sets it) or <c>FunctionHost:LogFormat</c> is <c>json</c>;
    /// plain lines otherwise or when it is <c>text</c>. Either way every line of a run carries its run id.
    /// </summary>
    public static ILoggingBuilder AddPipelineConsole(this ILoggingBuilder logging, IConfiguration configuration)
    {
        var json = configuration["FunctionHost:LogFormat"]?.ToLowerInvariant() switch
        {
            "json" => true,
            "text" => false,
            _ => !string.IsNullOrEmpty(configuration["K_SERVICE"]),
        };
        logging.ClearProviders();
        logging.AddConsole(options => options.FormatterName = json ? CloudLoggingFormatter.FormatterName : RunTextFormatter.FormatterName);
        logging.AddConsoleFormatter<CloudLoggingFormatter, ConsoleFormatterOptions>(options => options.IncludeScopes = true);
        logging.AddConsoleFormatter<RunTextFormatter, ConsoleFormatterOptions>(options => options.IncludeScopes = true);
        // ASP.NET Core's two lines per request say less than the function's own; keep them unless asked for.
        if (configuration["Logging:LogLevel:Microsoft.AspNetCore"] is null)
            logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        return logging;
    }
}
