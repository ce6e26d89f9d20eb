using System.Buffers;
using StreamGate.Proxy.Native;
using StreamGate.Proxy.Preread;

namespace StreamGate.Proxy.Tcp;

internal sealed partial class TcpSession
{
    private PrereadStage _stage;
    private IPrereadHook[] _hooks = [];
    private int _hookIndex;
    private long _hookStartedAt;
    private bool _hookDelayed;
    private int _listenerHooksDone;
    private int _routeHooksDone;

    // The client's first bytes, rented only by sessions that have hooks; what no hook consumed is replayed.
    private byte[]? _preread;
    private int _prereadCount;
    private int _prereadConsumed;
    private int _prereadLimit;
    private bool _clientEndedInPreread;

    /// <summary>
    /// The context hooks see: created the first time this pooled session meets a hook and kept, so it costs
    /// nothing per connection, and nothing at all on routes without hooks (the common case: memory per idle
    /// connection is the figure the benchmark watches).
    /// </summary>
    public PrereadContext PrereadContext => _prereadContext ??= new();

    private PrereadContext? _prereadContext;

    private void BeginPreread(PrereadStage stage, IPrereadHook[] hooks)
    {
        State = SessionState.Preread;
        _stage = stage;
        _hooks = hooks;
        _hookIndex = 0;
        var context = PrereadContext;
        context.Addresses = Addresses;
        context.Route = Route;
        context.Upstream = Upstream;
        context.LoopIndex = _worker.Index;
        var limit = 0;
        foreach (var hook in hooks)
        {
            limit = Math.Max(limit, hook.MaxBytes);
        }
        // Listener-level hooks may leave bytes that route-level ones also read: the buffer only grows.
        if (limit > _prereadLimit)
        {
            var grown = ArrayPool<byte>.Shared.Rent(limit);
            if (_preread is not null)
            {
                _preread.AsSpan(0, _prereadCount).CopyTo(grown);
                ArrayPool<byte>.Shared.Return(_preread);
            }
            _preread = grown;
            _prereadLimit = limit;
        }
        StartHook();
        RunHooks();
    }

    private void StartHook()
    {
        _hookStartedAt = _worker.Now;
        _hookDelayed = false;
        if (_hookIndex < _hooks.Length)
        {
            SetStateDeadline(_hookStartedAt + _hooks[_hookIndex].TimeoutMs);
        }
    }

    private void OnPrereadEvent()
    {
        if (ClientSocket.ErrorSeen && CloseOnSocketError())
        {
            return;
        }
        if (!_hookDelayed)
        {
            RunHooks();
        }
    }

    private void OnPrereadTimer()
    {
        if (_hookDelayed)
        {
            StartHookAgainAfterDelay();
            return;
        }
        RunHooks(timedOut: true);
    }

    private void StartHookAgainAfterDelay()
    {
        _hookDelayed = false;
        SetStateDeadline(_hookStartedAt + _hooks[_hookIndex].TimeoutMs);
        RunHooks();
    }

    /// <summary>Reads what the client has sent (up to the limit) into the preread buffer; false if the session closed.</summary>
    private unsafe bool ReadClient()
    {
        while (ClientSocket.Readable && !_clientEndedInPreread && _prereadCount < _prereadLimit)
        {
            nint received;
            int errno;
            fixed (byte* buffer = _preread)
            {
                received = ClientSocket.Receive(buffer + _prereadCount, _prereadLimit - _prereadCount, out errno);
            }
            if (received > 0)
            {
                _prereadCount += (int)received;
                Up.BytesRead += received;
                continue;
            }
            if (received == 0)
            {
                _clientEndedInPreread = true;
                ClientSocket.Readable = false;
                break;
            }
            if (errno == LibC.EAGAIN)
            {
                ClientSocket.Readable = false;
                break;
            }
            if (errno != LibC.EINTR)
            {
                Close(200, reset: true);
                return false;
            }
        }
        return true;
    }

    /// <summary>Shows the unconsumed bytes to the current hook and acts on its verdict, hook after hook.</summary>
    private void RunHooks(bool timedOut = false)
    {
        if (!ReadClient())
        {
            return;
        }
        while (true)
        {
            if (_hookIndex == _hooks.Length)
            {
                FinishStage();
                return;
            }
            var hook = _hooks[_hookIndex];
            var final = timedOut || _clientEndedInPreread || _prereadCount - _prereadConsumed >= hook.MaxBytes;
            var context = PrereadContext;
            context.Now = _worker.Now;
            var verdict = hook.Inspect(_preread.AsSpan(_prereadConsumed, _prereadCount - _prereadConsumed), final, context);
            switch (verdict.Action)
            {
                case PrereadAction.NeedMore when final:
                    // nginx answers a full preread buffer with 400; a hook that still wants more at the timeout
                    // or after the client's FIN gets the same.
                    Close(400, reset: false);
                    return;
                case PrereadAction.NeedMore:
                    return;
                case PrereadAction.Done:
                    _prereadConsumed += Math.Clamp(verdict.Value, 0, _prereadCount - _prereadConsumed);
                    if (_stage == PrereadStage.Listener)
                    {
                        _listenerHooksDone++;
                    }
                    else
                    {
                        _routeHooksDone++;
                    }
                    _hookIndex++;
                    timedOut = false;
                    StartHook();
                    continue;
                case PrereadAction.Reject:
                    Close(verdict.Value, reset: false);
                    return;
                case PrereadAction.Delay:
                    _hookDelayed = true;
                    SetStateDeadline(_worker.Now + Math.Max(1, verdict.Value));
                    return;
            }
        }
    }

    /// <summary>Listener hooks are done: route with what they found. Route hooks are done: connect.</summary>
    private void FinishStage()
    {
        var context = PrereadContext;
        if (_stage == PrereadStage.Listener)
        {
            Addresses = context.Addresses;
            var snapshot = _worker.Snapshots.Current;
            var route = snapshot.Routes.Match(Addresses);
            if (route is null)
            {
                Close(404, reset: false);
                return;
            }
            SetRoute(route, snapshot.Version);
            context.Route = route;
            context.Upstream = route.Upstream;
            if (route.PrereadHooks.Length > 0)
            {
                BeginPreread(PrereadStage.Route, route.PrereadHooks);
                return;
            }
        }
        else
        {
            Upstream = context.Upstream ?? Route!.Upstream;
        }
        ReplayPreread();
        StartConnect();
    }

    /// <summary>What the hooks read but did not consume goes to the upstream first, as pending bytes of the up flow.</summary>
    private void ReplayPreread()
    {
        if (_preread is not null && _prereadCount > _prereadConsumed)
        {
            Up.Pending = _preread;
            Up.PendingOffset = _prereadConsumed;
            Up.PendingCount = _prereadCount - _prereadConsumed;
        }
        else if (_preread is not null)
        {
            ArrayPool<byte>.Shared.Return(_preread);
        }
        Up.SourceEnded = _clientEndedInPreread;
        _preread = null;
        ClearPrereadState();
    }

    private void ClearPrereadState()
    {
        _prereadCount = 0;
        _prereadConsumed = 0;
        _prereadLimit = 0;
        _clientEndedInPreread = false;
        _hooks = [];
        _hookIndex = 0;
        _hookDelayed = false;
    }

    /// <summary>At close: hooks that returned Done release what they took; an unfinished preread buffer goes back.</summary>
    private void ReleasePreread()
    {
        if (_listenerHooksDone > 0 || _routeHooksDone > 0)
        {
            ReleaseHooks();
        }
        if (_preread is not null)
        {
            ArrayPool<byte>.Shared.Return(_preread);
            _preread = null;
        }
        ClearPrereadState();
        _prereadContext?.Reset();
    }

    private void ReleaseHooks()
    {
        var context = PrereadContext;
        if (_listenerHooksDone > 0 && Listener is { } listener)
        {
            for (var i = 0; i < _listenerHooksDone; i++)
            {
                listener.PrereadHooks[i].Release(context);
            }
        }
        if (Route is not null)
        {
            for (var i = 0; i < _routeHooksDone && i < Route.PrereadHooks.Length; i++)
            {
                Route.PrereadHooks[i].Release(context);
            }
        }
        _listenerHooksDone = 0;
        _routeHooksDone = 0;
    }
}
