using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.Logging;

namespace StreamGate.Admin;

/// <summary>
/// Kestrel's socket transport, with an accept that waits instead of spinning when the process has run out of
/// descriptors (or kernel memory). Kestrel's own listener cannot be wrapped for this: its AcceptAsync catches every
/// SocketException other than OperationAborted as "reset while in the backlog" and calls accept() again at once,
/// so at EMFILE the exception never leaves it and one thread-pool thread spins at 100% (and the heap grows; about
/// 17 MB/s measured here) until descriptors come back or the process dies. An exception that did leave it would be
/// no better: Kestrel's ConnectionDispatcher ends the accept loop for good on any exception from AcceptAsync.
/// So IP endpoints get the listener below, which accepts itself and hands each socket to Kestrel's public
/// <see cref="SocketConnectionContextFactory"/>, so a connection runs exactly as on the default transport; any
/// other endpoint (none today) goes to the default transport unchanged.
/// </summary>
internal sealed class BackoffSocketTransportFactory(
    SocketTransportFactory inner, SocketTransportOptions options, ILoggerFactory kestrelLoggers, ILogger logger, string server, TimeProvider time)
    : IConnectionListenerFactory, IConnectionListenerFactorySelector
{
    public bool CanBind(EndPoint endpoint) => endpoint is IPEndPoint || inner.CanBind(endpoint);

    public ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default)
    {
        if (endpoint is not IPEndPoint)
        {
            return inner.BindAsync(endpoint, cancellationToken);
        }
        // The connection options are the transport's own, so the two transports build identical connections.
        var connections = new SocketConnectionContextFactory(
            new SocketConnectionFactoryOptions
            {
                IOQueueCount = options.IOQueueCount,
                WaitForDataBeforeAllocatingBuffer = options.WaitForDataBeforeAllocatingBuffer,
                MaxReadBufferSize = options.MaxReadBufferSize,
                MaxWriteBufferSize = options.MaxWriteBufferSize,
                UnsafePreferInlineScheduling = options.UnsafePreferInlineScheduling,
            },
            kestrelLoggers.CreateLogger("Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets"));
        try
        {
            return ValueTask.FromResult<IConnectionListener>(BackoffSocketListener.Bind(endpoint, options, connections, logger, server, time));
        }
        catch
        {
            connections.Dispose();
            throw;
        }
    }
}

/// <summary>
/// One listening socket whose accept sorts failures into three tiers, as Garnet's accept loop does: closed (the
/// server is stopping: end), a connection that died in the backlog (try the next at once, as Kestrel does), and
/// everything else, out of descriptors first of all (wait with <see cref="AcceptBackoff"/>, then try again). An
/// unknown error also waits: whatever it is, retrying it at once would spin, and ending would stop the API.
/// </summary>
internal sealed partial class BackoffSocketListener : IConnectionListener
{
    private readonly Socket _socket;
    private readonly SocketConnectionContextFactory _connections;
    private readonly bool _noDelay;
    private readonly ILogger _logger;
    private readonly string _server;
    private readonly TimeProvider _time;
    private readonly AcceptBackoff _backoff;
    private readonly CancellationTokenSource _unbound = new();

    private BackoffSocketListener(Socket socket, SocketConnectionContextFactory connections, bool noDelay, ILogger logger, string server, TimeProvider time)
    {
        _socket = socket;
        _connections = connections;
        _noDelay = noDelay;
        _logger = logger;
        _server = server;
        _time = time;
        _backoff = new AcceptBackoff(time);
        EndPoint = socket.LocalEndPoint!;
    }

    public EndPoint EndPoint { get; }

    public static BackoffSocketListener Bind(EndPoint endpoint, SocketTransportOptions options, SocketConnectionContextFactory connections, ILogger logger, string server, TimeProvider time)
    {
        Socket socket;
        try
        {
            socket = options.CreateBoundListenSocket(endpoint);
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            // What Kestrel's binder turns into "address already in use", as the default transport throws it.
            throw new AddressInUseException(e.Message, e);
        }
        try
        {
            socket.Listen(options.Backlog);
            return new BackoffSocketListener(socket, connections, options.NoDelay, logger, server, time);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>The next connection, or null once the listener is unbound (Kestrel's signal to end its accept loop).</summary>
    public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
    {
        while (true)
        {
            Socket accepted;
            try
            {
                accepted = await _socket.AcceptAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is ObjectDisposedException or OperationCanceledException
                || e is SocketException { SocketErrorCode: SocketError.OperationAborted })
            {
                return null;
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionAborted or SocketError.ConnectionReset)
            {
                continue;
            }
            catch (SocketException e)
            {
                if (!await BackOffAsync(e).ConfigureAwait(false))
                {
                    return null;
                }
                continue;
            }
            if (_backoff.BackingOff)
            {
                var (failures, duration) = _backoff.Succeeded();
                AcceptingAgain(_logger, _server, EndPoint, failures, duration.TotalSeconds);
            }
            try
            {
                accepted.NoDelay = _noDelay;
            }
            catch (SocketException)
            {
                // Reset between accept and here: like one reset in the backlog.
                accepted.Dispose();
                continue;
            }
            return _connections.Create(accepted);
        }
    }

    /// <summary>Waits out one back-off period; false when the listener was unbound meanwhile.</summary>
    private async Task<bool> BackOffAsync(SocketException error)
    {
        var delay = _backoff.Failed(out var warn, out var failures);
        if (warn)
        {
            AcceptFailed(_logger, _server, EndPoint, Describe(error), (long)delay.TotalMilliseconds, failures);
        }
        try
        {
            await Task.Delay(delay, _time, _unbound.Token).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>EMFILE, ENFILE, ENOBUFS, ENOMEM: the process or the kernel is out of something; it comes back by waiting.</summary>
    internal static bool IsResourceExhaustion(SocketException e) =>
        e.SocketErrorCode is SocketError.TooManyOpenSockets or SocketError.NoBufferSpaceAvailable
        || e.NativeErrorCode is 24 or 23 or 105 or 12;

    /// <summary>
    /// The error as an operator should read it. .NET folds EMFILE and ENFILE into one SocketError and reports it
    /// back as ENFILE, "Too many open files in system", which names the wrong limit nearly every time (accept4
    /// returned EMFILE in every run here): both are named instead.
    /// </summary>
    internal static string Describe(SocketException e) => e.SocketErrorCode == SocketError.TooManyOpenSockets
        ? "Too many open files (EMFILE: the process's open-files limit, or ENFILE: the system's)"
        : $"{e.Message} (errno {e.NativeErrorCode}{(IsResourceExhaustion(e) ? "" : ", unexpected")})";

    public ValueTask UnbindAsync(CancellationToken cancellationToken = default)
    {
        // Cancel first: a back-off wait must end now, or Kestrel's stop waits for it (it awaits the accept loop).
        _unbound.Cancel();
        _socket.Dispose();
        return default;
    }

    public ValueTask DisposeAsync()
    {
        _unbound.Cancel();
        _socket.Dispose();
        _connections.Dispose();
        _unbound.Dispose();
        return default;
    }

    [LoggerMessage(EventId = 300, Level = LogLevel.Warning,
        Message = "{Server} on {EndPoint} cannot accept connections: {Error}; waiting {DelayMs} ms before the next try ({Failures} failed so far)")]
    private static partial void AcceptFailed(ILogger logger, string server, EndPoint endPoint, string error, long delayMs, int failures);

    [LoggerMessage(EventId = 301, Level = LogLevel.Information,
        Message = "{Server} on {EndPoint} accepts connections again, after {Failures} failed tries over {Seconds:F1} s")]
    private static partial void AcceptingAgain(ILogger logger, string server, EndPoint endPoint, int failures, double seconds);
}
