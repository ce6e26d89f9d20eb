using Microsoft.Extensions.Logging;

namespace StreamGate.Proxy.Tcp;

/// <summary>
/// Data-plane log events, source-generated with stable ids. None is on the per-byte path; those that can repeat
/// per connection are rate-limited by the caller (<see cref="RateLimit"/>), and the console logger drops rather
/// than blocks when its queue is full, so a loop thread never waits on logging.
/// </summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 100, Level = LogLevel.Critical, Message = "Event loop {Loop} failed and stopped; its listeners are closed: {Error}")]
    public static partial void LoopFailed(ILogger logger, int loop, string error);

    [LoggerMessage(EventId = 101, Level = LogLevel.Warning, Message = "Event loop {Loop}: accept() is out of resources ({Error}); not accepting for {BackoffMs} ms")]
    public static partial void AcceptPaused(ILogger logger, int loop, string error, int backoffMs);

    [LoggerMessage(EventId = 102, Level = LogLevel.Warning, Message = "accept() on {Listener} failed: {Error} ({Suppressed} more not logged)")]
    public static partial void AcceptFailed(ILogger logger, string listener, string error, int suppressed);

    [LoggerMessage(EventId = 103, Level = LogLevel.Warning, Message = "Cannot create an upstream socket: {Error}; the connection is closed ({Suppressed} more not logged in the last 10 s)")]
    public static partial void SocketFailed(ILogger logger, string error, int suppressed);

    [LoggerMessage(EventId = 104, Level = LogLevel.Warning, Message = "Cannot register a connection with epoll: {Error}; the connection is closed ({Suppressed} more not logged in the last 10 s)")]
    public static partial void RegistrationFailed(ILogger logger, string error, int suppressed);

    [LoggerMessage(EventId = 105, Level = LogLevel.Warning, Message = "Event loop {Loop} holds {Max} connections (worker_connections); not accepting until one ends ({Suppressed} more not logged in the last 10 s)")]
    public static partial void AtConnectionCap(ILogger logger, int loop, int max, int suppressed);

    [LoggerMessage(EventId = 106, Level = LogLevel.Warning, Message = "Event loop {Loop} cannot resume its listeners: {Error}; retrying in 5 s")]
    public static partial void ResumeFailed(ILogger logger, int loop, string error);

    [LoggerMessage(EventId = 107, Level = LogLevel.Critical, Message = "No event loop is left; the gateway exits")]
    public static partial void NoLoopLeft(ILogger logger);

    [LoggerMessage(EventId = 108, Level = LogLevel.Warning, Message = "Upstream {Upstream}: node {Host}:{Port} has no address ({Reason}); the connection tries the next node or closes ({Suppressed} more not logged in the last 10 s)")]
    public static partial void NodeHasNoAddress(ILogger logger, string upstream, string host, int port, string reason, int suppressed);

    [LoggerMessage(EventId = 110, Level = LogLevel.Information, Message = "Listening on {Listeners} with {Loops} event loops")]
    public static partial void Listening(ILogger logger, string listeners, int loops);

    [LoggerMessage(EventId = 111, Level = LogLevel.Information, Message = "Stopped accepting; waiting up to {GraceSeconds} s for {Connections} open connections")]
    public static partial void Draining(ILogger logger, double graceSeconds, int connections);

    [LoggerMessage(EventId = 112, Level = LogLevel.Warning, Message = "Grace period over; closing {Connections} connections")]
    public static partial void ClosingRemaining(ILogger logger, int connections);

    [LoggerMessage(EventId = 113, Level = LogLevel.Information, Message = "Open files: {Limit} (soft limit {Change}); worker_connections: {PerLoop} per event loop ({Source}), {Reserve} descriptors kept for the runtime, admin and control APIs")]
    public static partial void DescriptorBudget(ILogger logger, ulong limit, string change, int perLoop, string source, int reserve);

    [LoggerMessage(EventId = 114, Level = LogLevel.Warning, Message = "{Message}")]
    public static partial void DescriptorWarning(ILogger logger, string message);
}
