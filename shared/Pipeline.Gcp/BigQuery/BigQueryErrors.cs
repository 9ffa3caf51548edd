using System.Text.Json.Nodes;
using Pipeline.Core;

namespace Pipeline.Gcp;

/// <summary>BigQuery's <c>ErrorProto</c>: a short reason code, where the error occurred, and a message.</summary>
public sealed record BigQueryError(string? Reason, string? Location, string? Message)
{
    public static BigQueryError? From(JsonNode? node) => node is JsonObject error
        ? new BigQueryError((string?)error["reason"], (string?)error["location"], (string?)error["message"])
        : null;

    public override string ToString() => Location is null ? $"{Reason}: {Message}" : $"{Reason} at {Location}: {Message}";
}

/// <summary>
/// A BigQuery failure a retry may fix (5xx, <c>backendError</c>, <c>internalError</c>, <c>rateLimitExceeded</c>): the stage lets
/// it propagate, so the transport delivers the message again.
/// </summary>
public sealed class BigQueryTransientException(string message, string? reason, int? httpStatus, Exception? inner = null)
    : Exception(message, inner)
{
    public string? Reason { get; } = reason;
    public int? HttpStatus { get; } = httpStatus;
}

/// <summary>
/// A BigQuery failure no retry can fix (<c>invalidQuery</c>, <c>notFound</c>, <c>accessDenied</c>, …) or not worth
/// Pub/Sub's redeliveries (<c>quotaExceeded</c>, <c>timeout</c>, <c>stopped</c>): the run is recorded as failed with the message.
/// </summary>
public sealed class BigQueryPermanentException(string message, string? reason, int? httpStatus)
    : PermanentPipelineException(message)
{
    public string? Reason { get; } = reason;
    public int? HttpStatus { get; } = httpStatus;
}

/// <summary>
/// Maps BigQuery errors — an HTTP status with an error body, or a job's <c>status.errorResult</c> — to the host's
/// two kinds of failure, by the reasons of BigQuery's error-messages reference
/// (https://cloud.google.com/bigquery/docs/error-messages).
/// </summary>
/// <remarks>
/// Transient are the reasons the reference says to retry: <c>backendError</c>, <c>internalError</c> (and their
/// <c>job…</c> forms), <c>rateLimitExceeded</c>, <c>jobRateExceeded</c>, <c>tableUnavailable</c>. Permanent are
/// request errors, and three that a retry within the next minutes does not fix, so 20 redeliveries would only
/// repeat the cost: <c>quotaExceeded</c> (a daily or per-project quota: it needs a raised quota or the next day),
/// <c>timeout</c> (the job ran into its own time limit: the same job would again) and <c>stopped</c> (someone
/// cancelled the job).
/// </remarks>
public static class BigQueryErrors
{
    private static readonly HashSet<string> TransientReasons = new(StringComparer.Ordinal)
    {
        "backendError", "internalError", "jobBackendError", "jobInternalError", "rateLimitExceeded", "jobRateExceeded",
        "tableUnavailable",
    };

    private static readonly HashSet<string> PermanentReasons = new(StringComparer.Ordinal)
    {
        "invalidQuery", "invalid", "notFound", "accessDenied", "billingNotEnabled", "billingTierLimitExceeded", "blocked",
        "duplicate", "notImplemented", "resourcesExceeded", "responseTooLarge", "invalidUser", "resourceInUse",
        "quotaExceeded", "timeout", "stopped",
    };

    /// <summary>Whether a reason (or, when the reason is unknown, the HTTP status) means that retrying may succeed.</summary>
    public static bool IsTransient(string? reason, int? httpStatus)
    {
        if (reason is not null && TransientReasons.Contains(reason)) return true;
        if (reason is not null && PermanentReasons.Contains(reason)) return false;
        return httpStatus switch
        {
            null => true, // a job failed for a reason this list does not know: retrying is the safe side
            401 or 408 or 429 or >= 500 => true,
            _ => false,
        };
    }

    /// <summary>The exception for a failure: transient or permanent by <see cref="IsTransient"/>.</summary>
    public static Exception ToException(string context, BigQueryError? error, int? httpStatus, string? fallbackMessage = null)
    {
        var detail = error?.ToString() ?? (httpStatus is { } s ? $"HTTP {s}: {fallbackMessage}" : fallbackMessage ?? "unknown error");
        var message = $"BigQuery {context} failed: {detail}";
        return IsTransient(error?.Reason, httpStatus)
            ? new BigQueryTransientException(message, error?.Reason, httpStatus)
            : new BigQueryPermanentException(message, error?.Reason, httpStatus);
    }

    /// <summary>The first <c>errors[]</c> entry of an HTTP error body (<c>{"error": {"code", "message", "errors": [...]}}</c>).</summary>
    public static BigQueryError? FromErrorBody(JsonNode? body)
    {
        var error = body?["error"];
        if (error is null) return null;
        return BigQueryError.From((error["errors"] as JsonArray)?.FirstOrDefault())
            ?? new BigQueryError((string?)error["status"], null, (string?)error["message"]);
    }
}
