using Microsoft.Extensions.Logging;

namespace StreamGate.Proxy.Tcp;

/// <summary>Data-plane log events, source-generated with stable ids; none of them is on the per-byte path.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 100, Level = LogLevel.Critical, Message = "Event loop {Loop} stopped: epoll_wait failed: {Error}")]
    public static partial void LoopFailed(ILogger logger, int loop, string error);

    [LoggerMessage(EventId = 101, Level = LogLevel.Warning, Message = "accept() is out of resources ({Error}); not accepting for {BackoffMs} ms")]
    public static partial void AcceptPaused(ILogger logger, string error, int backoffMs);

    [LoggerMessage(EventId = 102, Level = LogLevel.Warning, Message = "accept() on {Listener} failed: {Error}")]
    public static partial void AcceptFailed(ILogger logger, string listener, string error);

    [LoggerMessage(EventId = 103, Level = LogLevel.Warning, Message = "Cannot create an upstream socket: {Error}")]
    public static partial void SocketFailed(ILogger logger, string error);

    [LoggerMessage(EventId = 110, Level = LogLevel.Information, Message = "Listening on {Listeners} with {Loops} event loops")]
    public static partial void Listening(ILogger logger, string listeners, int loops);

    [LoggerMessage(EventId = 111, Level = LogLevel.Information, Message = "Stopped accepting; waiting up to {GraceSeconds} s for {Connections} open connections")]
    public static partial void Draining(ILogger logger, double graceSeconds, int connections);

    [LoggerMessage(EventId = 112, Level = LogLevel.Warning, Message = "Grace period over; closing {Connections} connections")]
    public static partial void ClosingRemaining(ILogger logger, int connections);
}
