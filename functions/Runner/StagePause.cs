using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Pipeline.Core;

namespace Pipeline.Runner;

/// <summary>
/// A debug setting for fault injection, honoured by <c>run</c> and <c>serve</c> only: with
/// <c>Runner__PauseInStage=TrainModel</c> the process stops inside that stage (claimed, before its work) and says so
/// on standard error, so that a test can kill it there with SIGKILL. Never set in a deployment: the functions'
/// own hosts do not read it.
/// </summary>
public sealed class StagePause(string pausedStage) : IStageObserver
{
    public const string Setting = "Runner:PauseInStage";

    /// <summary>What is printed when the process holds: tests wait for this line.</summary>
    public const string Marker = "PAUSED IN STAGE";

    public static void Register(IServiceCollection services, IConfiguration configuration)
    {
        if (configuration[Setting] is { Length: > 0 } stage) services.AddSingleton<IStageObserver>(new StagePause(stage));
    }

    public async Task StageClaimedAsync(string stage, string runId, CancellationToken cancellationToken)
    {
        if (stage != pausedStage) return;
        await Console.Error.WriteLineAsync($"{Marker} {stage} of run {runId} ({Setting}); waiting to be killed");
        await Console.Error.FlushAsync(cancellationToken);
        await Task.Delay(Timeout.Infinite, cancellationToken);
    }
}
