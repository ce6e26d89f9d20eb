using Microsoft.Extensions.Logging;
using StreamGate.Config;
using StreamGate.Logging;
using StreamGate.Proxy.Preread;
using StreamGate.Runtime;

namespace StreamGate.Proxy.Tcp;

/// <summary>The TCP data plane: one worker (event loop) per core, each with its own listening sockets.</summary>
internal sealed class TcpProxyServer : IAsyncDisposable
{
    private readonly TcpWorker[] _workers;
    private readonly ILogger _logger;
    private readonly IReadOnlyList<ListenEntry> _listeners;
    private readonly SnapshotHolder _snapshots;
    private readonly bool _drainOnChange;
    private readonly TaskCompletionSource _allFailed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly int _apiDescriptorReserve;
    private readonly int? _configuredConnections;
    private readonly (ulong Previous, ulong Current) _limits;
    private int _failed;

    /// <param name="apiDescriptorReserve">Descriptors the admin and control APIs may hold at their connection caps.</param>
    /// <param name="listenerHooks">Preread hooks for a listen entry (PROXY protocol, TLS ClientHello); none by default.</param>
    public TcpProxyServer(GatewayConfig config, SnapshotHolder snapshots, AccessLogWriter? accessLog, ILogger logger, int apiDescriptorReserve = 0, Func<ListenEntry, IPrereadHook[]>? listenerHooks = null)
    {
        _logger = logger;
        _snapshots = snapshots;
        _drainOnChange = config.DrainOnChange is not null;
        _listeners = config.TcpListeners;
        var count = _listeners.Count == 0 ? 0 : Math.Max(1, config.Workers);
        _workers = new TcpWorker[count];
        if (count == 0)
        {
            return;
        }
        foreach (var entry in _listeners)
        {
            ListenerSocket.EnsureNotInUse(entry);
        }
        _apiDescriptorReserve = apiDescriptorReserve;
        _configuredConnections = config.WorkerConnections;
        // Raised first, so the listeners and everything started after this may use the whole hard limit.
        _limits = DescriptorBudget.RaiseLimit();
        var drainMs = config.DrainOnChange is { } drain ? (long)drain.TotalMilliseconds : -1;
        try
        {
            for (var i = 0; i < count; i++)
            {
                _workers[i] = new TcpWorker(i, snapshots, accessLog, logger, drainMs);
                _workers[i].Failed += OnWorkerFailed;
                foreach (var entry in _listeners)
                {
                    _workers[i].AddListener(ListenerSocket.Open(entry, listenerHooks?.Invoke(entry) ?? []));
                }
            }
        }
        catch
        {
            foreach (var worker in _workers)
            {
                worker?.Dispose();
            }
            throw;
        }
    }

    /// <summary>The connection caps, computed at <see cref="Start"/> when what the process holds is known.</summary>
    public DescriptorBudget Budget { get; private set; }

    /// <summary>Completes when every event loop has failed: nothing serves traffic any more and the process should exit non-zero.</summary>
    public Task AllLoopsFailed => _allFailed.Task;

    public int ActiveConnections
    {
        get
        {
            var total = 0;
            foreach (var worker in _workers)
            {
                total += worker.ActiveConnections;
            }
            return total;
        }
    }

    private void OnWorkerFailed(TcpWorker worker, string error)
    {
        if (Interlocked.Increment(ref _failed) == _workers.Length)
        {
            Log.NoLoopLeft(_logger);
            _allFailed.TrySetResult();
        }
    }

    private void OnSnapshotApplied(RuntimeSnapshot snapshot)
    {
        foreach (var worker in _workers)
        {
            worker.Post(TcpWorker.CommandConfigChanged);
        }
    }

    public void Start()
    {
        if (_workers.Length == 0)
        {
            return;
        }
        // Counted now, after the store, the admin and control APIs have started: what they opened is taken.
        var budget = Budget = DescriptorBudget.Compute(_limits.Previous, _limits.Current, _workers.Length, DescriptorBudget.CountOpen(), _apiDescriptorReserve, _configuredConnections);
        var change = budget.PreviousLimit == budget.Limit ? "unchanged" : $"raised from {budget.PreviousLimit}";
        Log.DescriptorBudget(_logger, budget.Limit, change, budget.PerLoop, budget.Configured ? "nginx_config.event.worker_connections" : "derived from the open-files limit", budget.Reserve);
        if (budget.Warning is { } warning)
        {
            Log.DescriptorWarning(_logger, warning);
        }
        if (_drainOnChange)
        {
            _snapshots.Applied += OnSnapshotApplied;
        }
        foreach (var worker in _workers)
        {
            worker.MaxConnections = budget.PerLoop;
            worker.Start();
        }
        Log.Listening(_logger, string.Join(", ", _listeners), _workers.Length);
    }

    /// <summary>
    /// First step of a shutdown: every loop takes what waits in its backlogs and closes its listeners. Returns when
    /// all have (or after 5 s), so the admin API and watchers stop only once no new connection can arrive.
    /// </summary>
    public async Task StopAcceptingAsync()
    {
        _snapshots.Applied -= OnSnapshotApplied;
        foreach (var worker in _workers)
        {
            worker.Post(TcpWorker.CommandStopAccepting);
        }
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        while (!timeout.IsCancellationRequested && !AllStoppedAccepting())
        {
            await Task.Delay(10, CancellationToken.None).ConfigureAwait(false);
        }
    }

    private bool AllStoppedAccepting()
    {
        foreach (var worker in _workers)
        {
            // A worker never started (start-up failed later on) has nothing to stop.
            if (worker.Started && !worker.StoppedAccepting && !worker.Exited)
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>
    /// Lets open connections finish for <paramref name="grace"/>, then closes the rest; <paramref name="force"/>
    /// (a second SIGTERM) closes them at once.
    /// </summary>
    public async Task DrainAsync(TimeSpan grace, CancellationToken force)
    {
        var open = ActiveConnections;
        if (open > 0)
        {
            Log.Draining(_logger, grace.TotalSeconds, open);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(force);
            timeout.CancelAfter(grace);
            while (ActiveConnections > 0 && !timeout.IsCancellationRequested)
            {
                try
                {
                    await Task.Delay(50, timeout.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                }
            }
            open = ActiveConnections;
            if (open > 0)
            {
                Log.ClosingRemaining(_logger, open);
                foreach (var worker in _workers)
                {
                    worker.Post(TcpWorker.CommandAbortAll);
                }
            }
        }
        foreach (var worker in _workers)
        {
            worker.Post(TcpWorker.CommandExit);
            worker.Join(TimeSpan.FromSeconds(5));
        }
    }

    public ValueTask DisposeAsync()
    {
        foreach (var worker in _workers)
        {
            if (worker is not null && (worker.Exited || !worker.Started))
            {
                worker.Dispose();
            }
        }
        return ValueTask.CompletedTask;
    }
}
