using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Pipeline.Core;

namespace Pipeline.Runner;

/// <summary>
/// Progress on an interactive terminal: one status line at the bottom, redrawn in place as a stage reports, with
/// everything else the process prints (log lines, the summary) scrolling above it. A step's final report stays as
/// a line of its own. While it is open it stands in for <see cref="Console.Out"/> (and <see cref="Console.Error"/>
/// when that is the terminal too), so that no other write lands in the middle of the status line.
/// </summary>
public sealed class LiveProgressLine : IStageProgress, IDisposable
{
    /// <summary>Erases the terminal's current line and returns to its start (VT100, as every terminal reads it).</summary>
    private const string EraseLine = "\r\u001b[2K";

    /// <summary>Redraws at most this often: a terminal does not need a K-means iteration's every report.</summary>
    private static readonly TimeSpan RedrawInterval = TimeSpan.FromMilliseconds(100);

    private readonly object _gate = new();
    private readonly TextWriter _terminal;
    private readonly TextWriter _originalOut;
    private readonly TextWriter _originalError;
    private readonly TimeProvider _clock;
    private string? _status;
    private bool _shown;
    private bool _atLineStart = true;
    private DateTimeOffset _lastDrawn = DateTimeOffset.MinValue;

    private LiveProgressLine(TimeProvider clock)
    {
        _clock = clock;
        _originalOut = Console.Out;
        _originalError = Console.Error;
        _terminal = _originalOut;
        Console.SetOut(new Passthrough(this, _originalOut));
        if (!Console.IsErrorRedirected) Console.SetError(new Passthrough(this, _originalError));
    }

    /// <summary>
    /// Whether standard output is a terminal that can redraw a line: not redirected to a file or a pipe, and not
    /// declared dumb (<c>TERM=dumb</c>, as Emacs shells and some CI runners set).
    /// </summary>
    public static bool IsSupported() =>
        !Console.IsOutputRedirected && Environment.GetEnvironmentVariable("TERM") is not "dumb";

    /// <summary>
    /// Opens the live line on the terminal; before anything that captures <see cref="Console.Out"/> (the console
    /// logger) is created. Disposing it erases the line and gives the console back.
    /// </summary>
    public static LiveProgressLine Open(TimeProvider? clock = null) => new(clock ?? TimeProvider.System);

    /// <summary>
    /// Registers where the functions' progress goes: this line when one is open, else throttled log lines (what a
    /// redirected output gets: plain lines a file or CI log can keep).
    /// </summary>
    public static void Register(IServiceCollection services, LiveProgressLine? live)
    {
        if (live is null) services.AddSingleton<IStageProgress, LoggedStageProgress>();
        else services.AddSingleton<IStageProgress>(live);
    }

    public void Report(StageProgress progress)
    {
        lock (_gate)
        {
            if (progress.Final)
            {
                // A step's result stays on the screen, above the next status.
                _status = null;
                Erase();
                _terminal.Write(progress.Describe());
                _terminal.Write(Environment.NewLine);
                _atLineStart = true;
                _terminal.Flush();
                return;
            }
            _status = progress.Describe();
            var now = _clock.GetUtcNow();
            if (now - _lastDrawn < RedrawInterval) return;
            _lastDrawn = now;
            Draw();
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _status = null;
            Erase();
            _terminal.Flush();
        }
        Console.SetOut(_originalOut);
        Console.SetError(_originalError);
    }

    /// <summary>Draws the status, cut to the terminal's width: a wrapped line could no longer be erased in place.</summary>
    private void Draw()
    {
        if (_status is null || !_atLineStart) return;
        var width = SafeWidth();
        var text = _status.Length < width ? _status : _status[..Math.Max(0, width - 2)] + "…";
        _terminal.Write(EraseLine);
        _terminal.Write(text);
        _terminal.Flush();
        _shown = true;
    }

    private void Erase()
    {
        if (!_shown) return;
        _terminal.Write(EraseLine);
        _shown = false;
    }

    private static int SafeWidth()
    {
        try
        {
            return Console.WindowWidth is > 10 and var width ? width : 80;
        }
        catch (IOException)
        {
            return 80;
        }
    }

    /// <summary>A write to the console: the status line steps aside, the text is written, and the status comes back under it.</summary>
    private void Write(TextWriter target, ReadOnlySpan<char> text)
    {
        if (text.IsEmpty) return;
        lock (_gate)
        {
            Erase();
            target.Write(text);
            _atLineStart = text[^1] == '\n';
            if (_atLineStart && _status is not null)
            {
                target.Flush();
                Draw();
            }
        }
    }

    /// <summary>What <see cref="Console.Out"/> and <see cref="Console.Error"/> are while the live line is open.</summary>
    private sealed class Passthrough(LiveProgressLine line, TextWriter inner) : TextWriter
    {
        public override Encoding Encoding => inner.Encoding;

        public override void Write(char value) => line.Write(inner, [value]);

        public override void Write(string? value) => line.Write(inner, value);

        public override void Write(char[] buffer, int index, int count) => line.Write(inner, buffer.AsSpan(index, count));

        public override void Write(ReadOnlySpan<char> buffer) => line.Write(inner, buffer);

        public override void WriteLine(string? value) => line.Write(inner, (value ?? "") + NewLine);

        public override void WriteLine() => line.Write(inner, NewLine);

        public override void Flush() => inner.Flush();

        public override Task FlushAsync() => inner.FlushAsync();
    }
}
