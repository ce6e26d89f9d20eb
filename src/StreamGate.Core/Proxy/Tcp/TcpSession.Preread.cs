using System.Buffers;
using StreamGate.Proxy.Native;
using StreamGate.Proxy.Preread;

namespace StreamGate.Proxy.Tcp;

internal sealed partial class TcpSession
{
    /// <summary>
    /// Where a session is in its preread hooks. Created the first time a pooled session meets a hook and kept with
    /// it, so routes without hooks (the common case) carry none of it: memory per idle connection is a figure the
    /// benchmark watches.
    /// </summary>
    private sealed class PrereadState
    {
        public readonly PrereadContext Context = new();
        public PrereadStage Stage;
        public IPrereadHook[] Hooks = [];
        public int HookIndex;
        public long HookStartedAt;
        public bool HookDelayed;
        public int ListenerHooksDone;
        public int RouteHooksDone;

        // The client's first bytes; what no hook consumed is replayed to the upstream.
        public byte[]? Buffer;
        public int Count;
        public int Consumed;
        public int Limit;
        public bool ClientEnded;

        public IPrereadHook? Current => HookIndex < Hooks.Length ? Hooks[HookIndex] : null;

        public void Clear()
        {
            Count = 0;
            Consumed = 0;
            Limit = 0;
            ClientEnded = false;
            Hooks = [];
            HookIndex = 0;
            HookDelayed = false;
        }
    }

    private PrereadState? _preread;

    private void BeginPreread(PrereadStage stage, IPrereadHook[] hooks)
    {
        var p = _preread ??= new();
        State = SessionState.Preread;
        p.Stage = stage;
        p.Hooks = hooks;
        p.HookIndex = 0;
        p.Context.Addresses = Addresses;
        p.Context.Route = Route;
        p.Context.Upstream = Upstream;
        p.Context.LoopIndex = _worker.Index;
        var limit = 0;
        foreach (var hook in hooks)
        {
            limit = Math.Max(limit, hook.MaxBytes);
        }
        // Listener-level hooks may leave bytes that route-level ones also read: the buffer only grows.
        if (limit > p.Limit)
        {
            var grown = ArrayPool<byte>.Shared.Rent(limit);
            if (p.Buffer is not null)
            {
                p.Buffer.AsSpan(0, p.Count).CopyTo(grown);
                ArrayPool<byte>.Shared.Return(p.Buffer);
            }
            p.Buffer = grown;
            p.Limit = limit;
        }
        StartHook(p);
        RunHooks(p);
    }

    private void StartHook(PrereadState p)
    {
        p.HookStartedAt = _worker.Now;
        p.HookDelayed = false;
        if (p.Current is { } hook)
        {
            SetStateDeadline(p.HookStartedAt + hook.TimeoutMs);
        }
    }

    private void OnPrereadEvent()
    {
        if (ClientSocket.ErrorSeen && CloseOnSocketError())
        {
            return;
        }
        if (!_preread!.HookDelayed)
        {
            RunHooks(_preread);
        }
    }

    private void OnPrereadTimer()
    {
        var p = _preread!;
        if (p.HookDelayed)
        {
            p.HookDelayed = false;
            SetStateDeadline(p.HookStartedAt + p.Hooks[p.HookIndex].TimeoutMs);
            RunHooks(p);
            return;
        }
        RunHooks(p, timedOut: true);
    }

    /// <summary>Reads what the client has sent (up to the limit) into the preread buffer; false if the session closed.</summary>
    private unsafe bool ReadClient(PrereadState p)
    {
        while (ClientSocket.Readable && !p.ClientEnded && p.Count < p.Limit)
        {
            nint received;
            int errno;
            fixed (byte* buffer = p.Buffer)
            {
                received = ClientSocket.Receive(buffer + p.Count, p.Limit - p.Count, out errno);
            }
            if (received > 0)
            {
                p.Count += (int)received;
                Up.BytesRead += received;
                continue;
            }
            if (received == 0)
            {
                p.ClientEnded = true;
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
    private void RunHooks(PrereadState p, bool timedOut = false)
    {
        if (!ReadClient(p))
        {
            return;
        }
        while (p.Current is { } hook)
        {
            var final = timedOut || p.ClientEnded || p.Count - p.Consumed >= hook.MaxBytes;
            p.Context.Now = _worker.Now;
            var verdict = hook.Inspect(p.Buffer.AsSpan(p.Consumed, p.Count - p.Consumed), final, p.Context);
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
                    p.Consumed += Math.Clamp(verdict.Value, 0, p.Count - p.Consumed);
                    if (p.Stage == PrereadStage.Listener)
                    {
                        p.ListenerHooksDone++;
                    }
                    else
                    {
                        p.RouteHooksDone++;
                    }
                    p.HookIndex++;
                    timedOut = false;
                    StartHook(p);
                    continue;
                case PrereadAction.Reject:
                    Close(verdict.Value, reset: false);
                    return;
                case PrereadAction.Delay:
                    p.HookDelayed = true;
                    SetStateDeadline(_worker.Now + Math.Max(1, verdict.Value));
                    return;
            }
        }
        FinishStage(p);
    }

    /// <summary>Listener hooks are done: route with what they found. Route hooks are done: connect.</summary>
    private void FinishStage(PrereadState p)
    {
        var context = p.Context;
        if (p.Stage == PrereadStage.Listener)
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
        ReplayPreread(p);
        StartConnect();
    }

    /// <summary>What the hooks read but did not consume goes to the upstream first, as pending bytes of the up flow.</summary>
    private void ReplayPreread(PrereadState p)
    {
        if (p.Buffer is not null && p.Count > p.Consumed)
        {
            Up.Pending = p.Buffer;
            Up.PendingOffset = p.Consumed;
            Up.PendingCount = p.Count - p.Consumed;
        }
        else if (p.Buffer is not null)
        {
            ArrayPool<byte>.Shared.Return(p.Buffer);
        }
        Up.SourceEnded = p.ClientEnded;
        p.Buffer = null;
        p.Clear();
    }

    /// <summary>At close: hooks that returned Done release what they took; an unfinished preread buffer goes back.</summary>
    private void ReleasePreread()
    {
        if (_preread is not { } p)
        {
            return;
        }
        if (p.ListenerHooksDone > 0 && Listener is { } listener)
        {
            for (var i = 0; i < p.ListenerHooksDone; i++)
            {
                listener.PrereadHooks[i].Release(p.Context);
            }
        }
        if (p.RouteHooksDone > 0 && Route is not null)
        {
            for (var i = 0; i < p.RouteHooksDone && i < Route.PrereadHooks.Length; i++)
            {
                Route.PrereadHooks[i].Release(p.Context);
            }
        }
        p.ListenerHooksDone = 0;
        p.RouteHooksDone = 0;
        if (p.Buffer is not null)
        {
            ArrayPool<byte>.Shared.Return(p.Buffer);
            p.Buffer = null;
        }
        p.Clear();
        p.Context.Reset();
    }
}
