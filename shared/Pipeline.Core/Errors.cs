namespace Pipeline.Core;

/// <summary>
/// A failure that no retry can fix: a bad message, bad data, too few customers for k. The stage records the run as
/// failed with <see cref="Exception.Message"/> as the reason, publishes <c>run-failed</c> and acknowledges.
/// Any other exception is treated as transient and makes the transport deliver again.
/// </summary>
public class PermanentPipelineException : Exception
{
    public PermanentPipelineException(string message) : base(message) { }
    public PermanentPipelineException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>A message that cannot be read as what its topic carries.</summary>
public sealed class InvalidMessageException : PermanentPipelineException
{
    public InvalidMessageException(string message, string? runId = null) : base(message) => RunId = runId;
    public InvalidMessageException(string message, Exception inner, string? runId = null) : base(message, inner) => RunId = runId;

    /// <summary>The run the message names, when it names a valid one; the failure is recorded under it.</summary>
    public string? RunId { get; }
}

/// <summary>A conditional write lost a race with another writer; the caller reads again and retries.</summary>
public sealed class ConcurrentUpdateException(string objectName)
    : Exception($"'{objectName}' was changed by another writer")
{
    public string ObjectName { get; } = objectName;
}

/// <summary>
/// A backend job is still running after the stage's wait budget; the delivery is answered non-2xx so that the
/// next delivery picks the same job up (CONTRACT.md, "Delivery semantics").
/// </summary>
public sealed class StageStillRunningException(string stage, string jobId)
    : Exception($"{stage} is still waiting for job {jobId}; a later delivery will pick it up")
{
    public string JobId { get; } = jobId;
}

/// <summary>
/// Another delivery holds the stage (<see cref="StageClaim"/>): this one is answered as a transient failure, so that
/// it comes back when the holder has finished — or, if the holder crashed, when its lease has run out.
/// </summary>
public sealed class StageHeldException(string stage, string runId, StageClaim claim)
    : Exception($"{stage} of run {runId} is being worked on by {claim.Holder} (lease until {claim.LeaseUntil:O}); delivered again later")
{
    public StageClaim Claim { get; } = claim;
}
