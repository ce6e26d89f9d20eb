using StreamGate.Routing;
using StreamGate.Upstreams;

namespace StreamGate.Proxy.Preread;

/// <summary>What a preread hook decided about the bytes it was shown.</summary>
internal readonly record struct PrereadVerdict(PrereadAction Action, int Value)
{
    /// <summary>Show me more bytes (called again after the next read, or with final=true at the timeout or FIN).</summary>
    public static PrereadVerdict NeedMore => new(PrereadAction.NeedMore, 0);

    /// <summary>Done; the first <paramref name="consumed"/> bytes are the hook's (a PROXY header), the rest go to the upstream.</summary>
    public static PrereadVerdict Done(int consumed = 0) => new(PrereadAction.Done, consumed);

    /// <summary>Close the connection; <paramref name="status"/> is what the access log reports (403, 503 ...).</summary>
    public static PrereadVerdict Reject(int status) => new(PrereadAction.Reject, status);

    /// <summary>Ask again after <paramref name="milliseconds"/> (limit-conn's delay), reading nothing meanwhile.</summary>
    public static PrereadVerdict Delay(int milliseconds) => new(PrereadAction.Delay, milliseconds);
}

internal enum PrereadAction : byte
{
    NeedMore,
    Done,
    Reject,
    Delay,
}

/// <summary>Where a hook runs: before routing (it can change what routing sees) or after (it can pick the upstream).</summary>
internal enum PrereadStage : byte
{
    /// <summary>Listener level: a PROXY protocol header, a TLS ClientHello's server name.</summary>
    Listener,

    /// <summary>Route level: mqtt-proxy, ip-restriction, limit-conn, traffic-split.</summary>
    Route,
}

/// <summary>
/// A step a connection passes before it is connected to an upstream. The session reads the client's first bytes
/// into a small buffer (at most <see cref="MaxBytes"/>, for at most <see cref="TimeoutMs"/>) and shows them to
/// each hook in turn; bytes a hook does not consume are replayed to the upstream. Hooks are shared by every
/// connection of a listener or route and are called on the event-loop thread, so they must not block; state
/// of one connection lives in <see cref="PrereadContext"/>.
/// </summary>
internal interface IPrereadHook
{
    string Name { get; }

    /// <summary>The most bytes this hook may need to see (nginx's preread_buffer_size is 16k).</summary>
    int MaxBytes { get; }

    /// <summary>How long to wait for them (nginx's preread_timeout is 30 s).</summary>
    int TimeoutMs { get; }

    /// <summary>
    /// Looks at the unconsumed bytes read so far (possibly none). <paramref name="final"/> is true when no more
    /// will come: the client sent FIN, the timeout passed, or the buffer is full.
    /// </summary>
    PrereadVerdict Inspect(ReadOnlySpan<byte> data, bool final, PrereadContext context);

    /// <summary>The connection ended after this hook returned Done: release what it took (a limit-conn slot).</summary>
    void Release(PrereadContext context)
    {
    }
}

/// <summary>
/// One connection as preread hooks see and shape it. Reused with its session; a hook may replace the
/// addresses (PROXY protocol, before routing), set the server name (ClientHello) or the upstream (after routing).
/// </summary>
internal sealed class PrereadContext
{
    public ConnectionAddresses Addresses;

    /// <summary>The TLS server name from a ClientHello, for routes matching on sni.</summary>
    public string? ServerName;

    /// <summary>The matched route; null while listener-level hooks run.</summary>
    public StreamRoute? Route;

    /// <summary>The upstream the connection goes to: the route's, unless a hook (traffic-split) chose another.</summary>
    public Upstream? Upstream;

    /// <summary>The event loop's index, for hooks that keep per-loop state without locks.</summary>
    public int LoopIndex;

    /// <summary>The reactor clock (milliseconds) when the hook is called.</summary>
    public long Now;

    /// <summary>Free for the hook that runs: e.g. a slot index to release.</summary>
    public long HookState;

    public void Reset()
    {
        Addresses = default;
        ServerName = null;
        Route = null;
        Upstream = null;
        HookState = 0;
    }
}
