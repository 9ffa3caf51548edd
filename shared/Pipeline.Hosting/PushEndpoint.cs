using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Pipeline.Core;

namespace Pipeline.Hosting;

/// <summary>
/// The function's HTTP surface. <c>POST /</c> turns a delivery into <see cref="IPipelineFunction.HandleAsync"/> and its
/// outcome into the answer Pub/Sub reads as ack or nack: 204 when the function returns (done, duplicate, or a
/// permanent failure it recorded), 400 for a body that is no Pub/Sub delivery at all, 503 while a backend job is
/// still running, 500 for any other exception (a transient failure: Pub/Sub delivers again with backoff).
/// <c>GET /health</c> answers 200 once the host is up.
/// </summary>
public static class PushEndpoint
{
    public static IEndpointRouteBuilder MapPushEndpoint(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapPost("/", HandleAsync);
        // Written as text: serializing an anonymous object would reflect over it on the first health check, which is
        // what a cold start waits for.
        endpoints.MapGet("/health", (FunctionDeclaration function) =>
            Results.Text($$"""{"status":"ok","function":"{{JsonEncodedText.Encode(function.Stage)}}"}""", "application/json", Encoding.UTF8));
        return endpoints;
    }

    private static async Task<IResult> HandleAsync(HttpContext context, IPipelineFunction function, FunctionDeclaration declaration,
        ILoggerFactory loggers)
    {
        var logger = loggers.CreateLogger(typeof(PushEndpoint).FullName!);
        var cancellationToken = context.RequestAborted;
        using var functionScope = logger.BeginScope(new Dictionary<string, object> { ["Function"] = declaration.Stage });

        Delivery delivery;
        try
        {
            delivery = await PushDeliveryReader.ReadAsync(context.Request, cancellationToken);
        }
        catch (MalformedDeliveryException e)
        {
            logger.LogWarning("Rejected a request that is not a Pub/Sub delivery: {Reason}", e.Message);
            return Answer(logger, null, StatusCodes.Status400BadRequest, e.Message, Stopwatch.GetTimestamp());
        }

        var message = delivery.Message;
        var scope = new Dictionary<string, object> { ["MessageId"] = message.MessageId };
        // The run id attribute (every chain message has one) puts the host's own lines under the run too.
        if (message.Attributes.TryGetValue("run_id", out var runId) && RunId.IsValid(runId)) scope["RunId"] = runId;
        using var messageScope = logger.BeginScope(scope);

        var started = Stopwatch.GetTimestamp();
        logger.LogDebug("Delivery {MessageId} ({Format}) from {Subscription}", message.MessageId, delivery.Format, delivery.Subscription);
        try
        {
            await function.HandleAsync(message, cancellationToken);
            return Answer(logger, message.MessageId, StatusCodes.Status204NoContent, null, started);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Pub/Sub gave up waiting (ack deadline) or the instance is shutting down; it will deliver again.
            logger.LogWarning("Delivery {MessageId} was abandoned before the function finished", message.MessageId);
            return Answer(logger, message.MessageId, StatusCodes.Status503ServiceUnavailable, "abandoned", started);
        }
        catch (Exception e) when (e is StageStillRunningException or StageHeldException)
        {
            // Expected, not an error: a backend job still running, or another delivery working on the stage.
            logger.LogInformation("{Reason}; answering 503 so that Pub/Sub delivers {MessageId} again", e.Message, message.MessageId);
            return Answer(logger, message.MessageId, StatusCodes.Status503ServiceUnavailable, e.Message, started);
        }
        catch (Exception e)
        {
            logger.LogError(e, "Delivery {MessageId} failed and will be retried by Pub/Sub: {Reason}", message.MessageId, e.Message);
            return Answer(logger, message.MessageId, StatusCodes.Status500InternalServerError, e.Message, started);
        }
    }

    private static IResult Answer(ILogger logger, string? messageId, int statusCode, string? reason, long started)
    {
        logger.LogInformation("Answered {StatusCode} to delivery {MessageId} after {Milliseconds} ms",
            statusCode, messageId, (long)Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        return reason is null ? Results.StatusCode(statusCode) : Results.Text(reason, statusCode: statusCode);
    }
}
