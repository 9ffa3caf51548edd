using DuckDB.NET.Data;
using Pipeline.Core;

namespace Pipeline.Embedded;

/// <summary>
/// Reports a long DuckDB statement's progress while it runs: DuckDB's own estimate (the percentage its progress
/// bar shows), polled from another thread. Only when someone listens: otherwise the statement just runs.
/// </summary>
public static class DuckDbProgress
{
    /// <summary>How often the estimate is read; displays throttle further.</summary>
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(200);

    /// <param name="report">Turns DuckDB's percentage (0–100) into the stage's report.</param>
    public static void Run(DuckDBConnection connection, IStageProgress progress, Func<double, StageProgress> report, Action statement)
    {
        if (!progress.Listening)
        {
            statement();
            return;
        }
        // DuckDB keeps the estimate only with its progress bar on; printing it is left to us, and it starts at once
        // (by default DuckDB waits two seconds before the first estimate).
        DuckDb.Execute(connection, "SET enable_progress_bar = true");
        DuckDb.Execute(connection, "SET enable_progress_bar_print = false");
        DuckDb.Execute(connection, "SET progress_bar_time = 0");
        // A thread of its own, not the thread pool's: the statement blocks its caller, and on a process whose pool has not
        // grown yet (a fresh function, two cores) a pooled poller could wait longer than the statement runs.
        using var finished = new ManualResetEventSlim();
        Exception? failure = null;
        var polling = new Thread(() =>
        {
            try
            {
                while (!finished.Wait(PollInterval))
                {
                    var percentage = connection.GetQueryProgress().Percentage;
                    if (percentage >= 0) progress.Report(report(Math.Min(100, percentage)));
                }
            }
            catch (Exception e)
            {
                failure = e;
            }
        }) { IsBackground = true, Name = "DuckDB progress" };
        polling.Start();
        try
        {
            statement();
        }
        finally
        {
            finished.Set();
            // The poller must not read the connection after this returns (the caller may close it).
            polling.Join();
        }
        if (failure is not null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
    }
}
