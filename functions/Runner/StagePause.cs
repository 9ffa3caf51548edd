using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Pipeline.Core;

namespace Pipeline.Runner;

/// <summary>
/// A debug setting for fault injection, honoured by <c>run</c> and <c>serve</c> only: with
/// <c>Runner__PauseInStage=TrainModel</c> the process stops inside that stage (claimed, before its work) and says so
/// on standard error, so that a test can kill it there with SIGKILL — or take the Pub/Sub emulator away, which
/// abandons the delivery. Only the first delivery holds: one that comes after an abandoned one does the work, so
/// that the run can be seen to recover in the same process. Never set in a deployment: the functions' own hosts do
/// not read it.
/// </summary>
public sealed class StagePause(string pausedStage) : IStageObserver
{
    private int _held;

    public const string Setting = "Runner:PauseInStage";

    /// <summary>What is printed when the process holds: tests wait for this line.</summary>
    public const string Marker = "PAUSED IN STAGE";

    public static void Register(IServiceCollection services, IConfiguration configuration)
    {
        if (configuration[Setting] is { Length: > 0 } stage) services.AddSingleton<IStageObserver>(new StagePause(stage));
    }

    public async Task StageClaimedAsync(string stage, string runId, CancellationToken cancellationToken)
    {
        if (stage != pausedStage || Interlocked.Exchange(ref _held, 1) == 1) return;
        await Console.Error.WriteLineAsync($"{Marker} {stage} of run {runId} ({Setting}); waiting to be killed or abandoned");
        await Console.Error.FlushAsync(cancellationToken);
        await Task.Delay(Timeout.Infinite, cancellationToken);
    }
}
