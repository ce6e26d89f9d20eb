using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;

namespace StreamGate.Logging;

/// <summary>
/// The process's access log: the file (or stdout), a writer thread, and the loops' buffers it drains.
/// Event loops format lines into their own <see cref="AccessLogBuffer"/> (a ring of bytes) and publish
/// them at the end of a turn; the writer thread writes what each loop published with one writev(2) and
/// frees that part of the ring. The loops never block and never wait: a line that finds its loop's ring
/// full is dropped and counted, and the writer warns about the count at most every 10 s.
/// SIGUSR1 reopens the file (nginx's convention for log rotation by rename).
/// </summary>
internal sealed partial class AccessLogWriter : IAsyncDisposable
{
    /// <summary>
    /// Bytes of lines a loop may have waiting for the writer: about 5 000 lines of 200 bytes, a second of a
    /// loop's share of the 10 000 new connections per second docs/benchmarks.md measures on 2 cores, so a
    /// slow disk is ridden out while a stalled stdout costs 1 MiB per loop and no more. A power of two.
    /// </summary>
    internal const int RingSize = 1 << 20;

    // SIGUSR1 on Linux x86_64 and arm64 (raw numbers are allowed on Unix; PosixSignal has no name for it).
    private const int SigUsr1 = 10;

    private static readonly TimeSpan ReportInterval = TimeSpan.FromSeconds(10);

    // Long enough to write out every ring to any working disk; a writer blocked on a stalled stdout is left behind.
    private static readonly TimeSpan DisposeTimeout = TimeSpan.FromSeconds(5);

    private readonly SemaphoreSlim _wake = new(0);
    private readonly TaskCompletionSource _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Lock _buffersLock = new();
    private readonly AccessLogFile _file;
    private readonly ILogger _logger;
    private readonly CountReport _dropReport = new(TimeProvider.System, ReportInterval);
    private readonly PosixSignalRegistration _reopenSignal;
    private AccessLogBuffer[] _buffers = [];
    private long _failedLines;
    private int _lastWriteError;
    private int _parked;
    private int _reopenRequested;
    private volatile bool _stopping;

    /// <summary>Opens <paramref name="path"/> ("stdout" for standard output); throws <see cref="IOException"/> when it cannot.</summary>
    public AccessLogWriter(string path, AccessLogFormat format, ILogger logger)
    {
        Format = format;
        _logger = logger;
        _file = AccessLogFile.Open(path);
        _reopenSignal = PosixSignalRegistration.Create((PosixSignal)SigUsr1, OnReopenSignal);
        // A thread of its own, not a thread-pool task: write(2) blocks for as long as the disk or pipe takes.
        // Background, so a writer stuck on a stalled stdout does not keep the process alive.
        new Thread(Run) { Name = "streamgate-access-log", IsBackground = true }.Start();
    }

    public AccessLogFormat Format { get; }

    /// <summary>Lines lost since start: dropped because the writer was behind, or not written because a write failed.</summary>
    public long DroppedLines
    {
        get
        {
            var total = Interlocked.Read(ref _failedLines);
            foreach (var buffer in Volatile.Read(ref _buffers))
            {
                total += buffer.Dropped;
            }
            return total;
        }
    }

    /// <summary>A buffer for one event loop, used by that loop's thread only; its ring is allocated here, once.</summary>
    public AccessLogBuffer CreateLoopBuffer()
    {
        var buffer = new AccessLogBuffer(this, RingSize);
        lock (_buffersLock)
        {
            Volatile.Write(ref _buffers, [.. _buffers, buffer]);
        }
        return buffer;
    }

    /// <summary>
    /// Asks the writer thread to open the path again (after the file was renamed). Callable from any thread;
    /// lines published after this call returns go to the reopened file.
    /// </summary>
    public void Reopen()
    {
        Interlocked.Exchange(ref _reopenRequested, 1);
        _wake.Release();
    }

    /// <summary>A loop published lines: wake the writer if it sleeps. Never blocks; a plain read when the writer is busy.</summary>
    internal void Wake()
    {
        if (Volatile.Read(ref _parked) != 0 && Interlocked.Exchange(ref _parked, 0) != 0)
        {
            _wake.Release();
        }
    }

    private void OnReopenSignal(PosixSignalContext context)
    {
        // SIGUSR1's default action ends the process.
        context.Cancel = true;
        Reopen();
    }

    private void Run()
    {
        try
        {
            while (true)
            {
                if (WritePublished())
                {
                    ReportDrops(force: false);
                    continue;
                }
                ReopenIfRequested();
                ReportDrops(force: false);
                if (_stopping)
                {
                    // One more look after seeing the flag: whatever was published before the stop is written.
                    if (WritePublished())
                    {
                        continue;
                    }
                    break;
                }
                Park();
            }
            ReportDrops(force: true);
        }
        finally
        {
            _file.Dispose();
            _exited.TrySetResult();
        }
    }

    /// <summary>Writes what every loop has published; false when there was nothing.</summary>
    private bool WritePublished()
    {
        var buffers = Volatile.Read(ref _buffers);
        var any = false;
        foreach (var buffer in buffers)
        {
            any |= buffer.Published != buffer.Consumed;
        }
        if (!any)
        {
            return false;
        }
        // After reading the published positions: a Reopen() made before lines were published is seen here.
        ReopenIfRequested();
        foreach (var buffer in buffers)
        {
            var end = buffer.Published;
            if (end == buffer.Consumed)
            {
                continue;
            }
            var (first, second) = buffer.Pending(end);
            var errno = _file.Write(first.Span, second.Span);
            if (errno != 0)
            {
                Interlocked.Add(ref _failedLines, first.Span.Count((byte)'\n') + second.Span.Count((byte)'\n'));
                _lastWriteError = errno;
            }
            buffer.Consume(end);
        }
        return true;
    }

    private bool AnyPublished()
    {
        foreach (var buffer in Volatile.Read(ref _buffers))
        {
            if (buffer.Published != buffer.Consumed)
            {
                return true;
            }
        }
        return false;
    }

    private void Park()
    {
        // Wake up in time to report drops still unreported (the loops count them, not this thread).
        var due = _dropReport.DueIn(DroppedLines) ?? Timeout.InfiniteTimeSpan;
        Interlocked.Exchange(ref _parked, 1);
        // Checked again after announcing the park (a full fence): a loop that published without seeing the flag is seen here.
        if (!AnyPublished() && Volatile.Read(ref _reopenRequested) == 0 && !_stopping)
        {
            _ = _wake.Wait(due);
        }
        Volatile.Write(ref _parked, 0);
    }

    private void ReopenIfRequested()
    {
        if (Volatile.Read(ref _reopenRequested) == 0 || Interlocked.Exchange(ref _reopenRequested, 0) == 0 || _file.IsStdout)
        {
            return;
        }
        var errno = _file.Reopen();
        if (errno == 0)
        {
            Reopened(_logger, _file.Path);
        }
        else
        {
            ReopenFailed(_logger, _file.Path, Marshal.GetPInvokeErrorMessage(errno));
        }
    }

    private void ReportDrops(bool force)
    {
        var total = DroppedLines;
        if (!_dropReport.TryReport(total, out var added, force))
        {
            return;
        }
        if (_lastWriteError != 0)
        {
            WriteFailed(_logger, _file.Path, added, total, Marshal.GetPInvokeErrorMessage(_lastWriteError));
            _lastWriteError = 0;
        }
        else
        {
            Dropped(_logger, _file.Path, added, total);
        }
    }

    /// <summary>Writes what was published, then closes the file; a writer blocked on its output is given up on after 5 s.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_stopping)
        {
            return;
        }
        _reopenSignal.Dispose();
        _stopping = true;
        _wake.Release();
        try
        {
            await _exited.Task.WaitAsync(DisposeTimeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // The thread is a background thread and may still use the semaphore: leave it undisposed.
            StuckAtExit(_logger, _file.Path, DisposeTimeout.TotalSeconds);
            return;
        }
        _wake.Dispose();
    }

    [LoggerMessage(EventId = 300, Level = LogLevel.Warning, Message = "Access log {Path}: {Dropped} lines dropped ({Total} since start): the writer could not keep up")]
    private static partial void Dropped(ILogger logger, string path, long dropped, long total);

    [LoggerMessage(EventId = 301, Level = LogLevel.Warning, Message = "Access log {Path}: {Dropped} lines lost ({Total} since start); last write error: {Error}")]
    private static partial void WriteFailed(ILogger logger, string path, long dropped, long total, string error);

    [LoggerMessage(EventId = 302, Level = LogLevel.Information, Message = "Access log {Path} reopened")]
    private static partial void Reopened(ILogger logger, string path);

    [LoggerMessage(EventId = 303, Level = LogLevel.Error, Message = "Cannot reopen the access log {Path}: {Error}; writing on to the old file")]
    private static partial void ReopenFailed(ILogger logger, string path, string error);

    [LoggerMessage(EventId = 304, Level = LogLevel.Warning, Message = "Access log {Path}: output still blocked after {Seconds} s at exit; lines not yet written are lost")]
    private static partial void StuckAtExit(ILogger logger, string path, double seconds);
}
