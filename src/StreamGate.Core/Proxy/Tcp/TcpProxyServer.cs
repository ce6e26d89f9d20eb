using Microsoft.Extensions.Logging;
using StreamGate.Config;
using StreamGate.Logging;
using StreamGate.Proxy.Native;
using StreamGate.Runtime;

namespace StreamGate.Proxy.Tcp;

/// <summary>The TCP data plane: one event loop per worker, each with its own listening sockets.</summary>
internal sealed class TcpProxyServer : IAsyncDisposable
{
    private readonly EventLoop[] _loops;
    private readonly ILogger _logger;
    private readonly IReadOnlyList<ListenEntry> _listeners;
    private readonly SnapshotHolder _snapshots;
    private readonly bool _drainOnChange;

    public TcpProxyServer(GatewayConfig config, SnapshotHolder snapshots, AccessLogWriter? accessLog, ILogger logger)
    {
        _logger = logger;
        _snapshots = snapshots;
        _drainOnChange = config.DrainOnChange is not null;
        _listeners = config.TcpListeners;
        // 10,000 idle connections need 20,000 descriptors; the usual soft limit is 1,024.
        LibC.RaiseOpenFileLimit();
        var workers = _listeners.Count == 0 ? 0 : Math.Max(1, config.Workers);
        _loops = new EventLoop[workers];
        try
        {
            for (var i = 0; i < workers; i++)
            {
                _loops[i] = new EventLoop(i, snapshots, accessLog, logger, config.DrainOnChange is { } drain ? (long)drain.TotalMilliseconds : -1);
                foreach (var entry in _listeners)
                {
                    _loops[i].AddListener(ListenerSocket.Open(entry));
                }
            }
        }
        catch
        {
            foreach (var loop in _loops)
            {
                loop?.Dispose();
            }
            throw;
        }
    }

    public int ActiveConnections => _loops.Sum(l => l.ActiveConnections);

    private void OnSnapshotApplied(RuntimeSnapshot snapshot)
    {
        foreach (var loop in _loops)
        {
            loop.SnapshotChanged();
        }
    }

    public void Start()
    {
        if (_drainOnChange)
        {
            _snapshots.Applied += OnSnapshotApplied;
        }
        foreach (var loop in _loops)
        {
            loop.Start();
        }
        if (_loops.Length > 0)
        {
            Log.Listening(_logger, string.Join(", ", _listeners), _loops.Length);
        }
    }

    /// <summary>Stops accepting at once, lets open connections finish for <paramref name="grace"/>, then closes the rest.</summary>
    public async Task ShutdownAsync(TimeSpan grace)
    {
        _snapshots.Applied -= OnSnapshotApplied;
        foreach (var loop in _loops)
        {
            loop.StopAccepting();
        }
        var open = ActiveConnections;
        if (open > 0)
        {
            Log.Draining(_logger, grace.TotalSeconds, open);
            using var timeout = new CancellationTokenSource(grace);
            while (ActiveConnections > 0 && !timeout.IsCancellationRequested)
            {
                await Task.Delay(50, CancellationToken.None).ConfigureAwait(false);
            }
            open = ActiveConnections;
            if (open > 0)
            {
                Log.ClosingRemaining(_logger, open);
                foreach (var loop in _loops)
                {
                    loop.AbortAll();
                }
            }
        }
        foreach (var loop in _loops)
        {
            loop.Exit();
            loop.Join(TimeSpan.FromSeconds(5));
        }
    }

    public ValueTask DisposeAsync()
    {
        foreach (var loop in _loops)
        {
            if (loop.Exited)
            {
                loop.Dispose();
            }
        }
        return ValueTask.CompletedTask;
    }
}
