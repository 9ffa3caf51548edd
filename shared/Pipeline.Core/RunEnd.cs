namespace Pipeline.Core;

/// <summary>
/// What happens when a run ends (completed, held or failed): the stage protocol calls it once the manifest
/// records the end and before the end is announced, so a reader woken by <c>run-completed</c> or <c>run-failed</c>
/// finds what it wrote. It lives here so that Core does not depend on what it does (the run's report and the
/// bucket's index). An exception is transient: the delivery is retried.
/// </summary>
public interface IRunEndHook
{
    Task RunEndedAsync(RunManifest manifest, CancellationToken cancellationToken);
}
