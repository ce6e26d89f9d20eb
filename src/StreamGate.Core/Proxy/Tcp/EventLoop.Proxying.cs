using System.Buffers;
using StreamGate.Logging;
using StreamGate.Proxy.Native;
using StreamGate.Upstreams;

namespace StreamGate.Proxy.Tcp;

internal sealed unsafe partial class EventLoop
{
    private const uint ReadEvents = LibC.EPOLLIN | LibC.EPOLLRDHUP | LibC.EPOLLHUP | LibC.EPOLLERR;
    private const uint WriteEvents = LibC.EPOLLOUT | LibC.EPOLLHUP | LibC.EPOLLERR;
    private const uint HangupEvents = LibC.EPOLLRDHUP | LibC.EPOLLHUP | LibC.EPOLLERR;

    private enum TransferResult
    {
        /// <summary>Nothing more to do until the next readiness event.</summary>
        Idle,

        /// <summary>The turn's read budget ran out with the source still readable.</summary>
        MoreWork,

        /// <summary>The source failed (reset): the destination gets a reset too.</summary>
        SourceFailed,

        /// <summary>The destination failed: the source gets a reset.</summary>
        DestinationFailed,
    }

    private void OnClientEvent(TcpConnection c, uint events)
    {
        if ((events & ReadEvents) != 0)
        {
            c.Up.SourceReadable = true;
            c.Up.SourceHangup |= (events & HangupEvents) != 0;
        }
        if ((events & WriteEvents) != 0)
        {
            c.Down.DestinationWritable = true;
        }
        if (c.State == ConnectionState.Proxying)
        {
            Pump(c);
        }
        else if ((events & LibC.EPOLLERR) != 0)
        {
            // The client went away while its upstream connection was still being made.
            Close(c, 200, reset: true);
        }
    }

    private void OnUpstreamEvent(TcpConnection c, uint events)
    {
        if (c.State == ConnectionState.Connecting)
        {
            if ((events & (LibC.EPOLLOUT | LibC.EPOLLERR | LibC.EPOLLHUP)) == 0)
            {
                return;
            }
            // A failed connect always raises EPOLLERR (the socket's sk_err is set), so writable without an error
            // means connected; only the error case needs SO_ERROR, which also clears it.
            var error = 0;
            if ((events & (LibC.EPOLLERR | LibC.EPOLLHUP)) != 0)
            {
                var length = sizeof(int);
                _ = LibC.GetSockOpt(c.UpstreamFd, LibC.SOL_SOCKET, LibC.SO_ERROR, &error, &length);
                error = error == 0 ? -1 : error;
            }
            if (error == 0)
            {
                OnUpstreamConnected(c, events);
            }
            else
            {
                OnConnectFailed(c);
            }
            return;
        }
        if ((events & ReadEvents) != 0)
        {
            c.Down.SourceReadable = true;
            c.Down.SourceHangup |= (events & HangupEvents) != 0;
        }
        if ((events & WriteEvents) != 0)
        {
            c.Up.DestinationWritable = true;
        }
        Pump(c);
    }

    private void Pump(TcpConnection c)
    {
        var up = Transfer(c.Up, c.Down, c.ClientFd, c.UpstreamFd);
        if (up is TransferResult.SourceFailed or TransferResult.DestinationFailed)
        {
            // Client reset: reset the upstream. Upstream refused our write: reset the client.
            Close(c, up == TransferResult.SourceFailed ? 200 : 502, reset: true);
            return;
        }
        var down = Transfer(c.Down, c.Up, c.UpstreamFd, c.ClientFd);
        if (down is TransferResult.SourceFailed or TransferResult.DestinationFailed)
        {
            Close(c, down == TransferResult.SourceFailed ? 502 : 200, reset: true);
            return;
        }
        if (c.Up.Finished && c.Down.Finished)
        {
            Close(c, 200, reset: false);
            return;
        }
        if ((up == TransferResult.MoreWork || down == TransferResult.MoreWork) && !c.Queued)
        {
            c.Queued = true;
            _ready.Add(c);
        }
    }

    /// <summary>
    /// Moves bytes from source to destination until one would block. A short read means the socket's receive
    /// queue is empty (edge-triggered epoll reports the next arrival), which saves the extra read that would
    /// only return EAGAIN, as nginx does. A FIN is passed on once everything before it is written.
    /// </summary>
    private TransferResult Transfer(Flow flow, Flow opposite, int source, int destination)
    {
        for (var reads = 0; ; reads++)
        {
            if (flow.PendingCount > 0)
            {
                if (!flow.DestinationWritable)
                {
                    return TransferResult.Idle;
                }
                nint sent;
                fixed (byte* pending = flow.Pending)
                {
                    sent = LibC.Send(destination, pending + flow.PendingOffset, flow.PendingCount, LibC.MSG_NOSIGNAL);
                }
                if (sent < 0)
                {
                    if (LibC.Errno == LibC.EAGAIN)
                    {
                        flow.DestinationWritable = false;
                        return TransferResult.Idle;
                    }
                    return TransferResult.DestinationFailed;
                }
                flow.BytesWritten += sent;
                flow.PendingOffset += (int)sent;
                flow.PendingCount -= (int)sent;
                if (flow.PendingCount > 0)
                {
                    flow.DestinationWritable = false;
                    return TransferResult.Idle;
                }
                ArrayPool<byte>.Shared.Return(flow.Pending!);
                flow.Pending = null;
                flow.PendingOffset = 0;
            }
            if (flow.SourceEnded)
            {
                if (!flow.DestinationShut)
                {
                    flow.DestinationShut = true;
                    // When the other direction has already ended, both sockets are closed right after this, and
                    // close() sends the FIN: the shutdown would be a syscall for nothing.
                    if (!opposite.Finished)
                    {
                        _ = LibC.Shutdown(destination, LibC.SHUT_WR);
                    }
                }
                return TransferResult.Idle;
            }
            if (!flow.SourceReadable)
            {
                return TransferResult.Idle;
            }
            if (reads == MaxReadsPerTurn)
            {
                return TransferResult.MoreWork;
            }
            var received = LibC.Recv(source, _scratch, ScratchSize, 0);
            if (received < 0)
            {
                var errno = LibC.Errno;
                if (errno == LibC.EAGAIN)
                {
                    flow.SourceReadable = false;
                    return TransferResult.Idle;
                }
                if (errno == LibC.EINTR)
                {
                    continue;
                }
                return TransferResult.SourceFailed;
            }
            if (received == 0)
            {
                flow.SourceEnded = true;
                flow.SourceReadable = false;
                continue;
            }
            flow.BytesRead += received;
            if (received < ScratchSize && !flow.SourceHangup)
            {
                flow.SourceReadable = false;
            }
            var written = flow.DestinationWritable ? LibC.Send(destination, _scratch, received, LibC.MSG_NOSIGNAL) : 0;
            if (written < 0)
            {
                if (LibC.Errno != LibC.EAGAIN)
                {
                    return TransferResult.DestinationFailed;
                }
                written = 0;
            }
            flow.BytesWritten += written;
            if (written < received)
            {
                // The destination is full: keep the rest (at most one read's worth) and stop reading the
                // source until it drains, so a slow reader never makes the gateway buffer without bound.
                var rest = (int)(received - written);
                flow.Pending = ArrayPool<byte>.Shared.Rent(rest);
                new ReadOnlySpan<byte>(_scratch + written, rest).CopyTo(flow.Pending);
                flow.PendingOffset = 0;
                flow.PendingCount = rest;
                flow.DestinationWritable = false;
                return TransferResult.Idle;
            }
        }
    }

    private void RunReady()
    {
        if (_ready.Count == 0)
        {
            return;
        }
        // Pump may queue a connection again; take this turn's list first.
        var count = _ready.Count;
        for (var i = 0; i < count; i++)
        {
            var c = _ready[i];
            c.Queued = false;
            if (c.State == ConnectionState.Proxying)
            {
                Pump(c);
            }
        }
        _ready.RemoveRange(0, count);
    }

    /// <summary>Timers by sweep: connect timeouts, idle timeouts and the accept back-off, checked every 100 ms.</summary>
    private void Sweep()
    {
        if (_listenersPausedUntil != 0 && _now >= _listenersPausedUntil)
        {
            ResumeListeners();
        }
        for (var i = 0; i < _slotCount; i++)
        {
            var c = _slots[i];
            if (c.DrainDeadline != 0 && _now >= c.DrainDeadline && c.State != ConnectionState.Free)
            {
                Close(c, 200, reset: false);
                continue;
            }
            switch (c.State)
            {
                case ConnectionState.Connecting when c.UpstreamFd >= 0 && _now >= c.ConnectDeadline:
                    OnConnectFailed(c);
                    break;
                case ConnectionState.Proxying:
                    if (c.Up.BytesRead + c.Down.BytesRead != c.ActivityMark)
                    {
                        // Bytes moved since the last sweep: the connection is not idle. Tracking this here
                        // instead of stamping the time on every read keeps the hot path free of it.
                        c.ActivityMark = c.Up.BytesRead + c.Down.BytesRead;
                        c.LastActivity = _now;
                    }
                    else if (_now - c.LastActivity >= c.Route!.Upstream.IdleTimeoutMs)
                    {
                        Close(c, 200, reset: false);
                    }
                    break;
            }
        }
    }

    private void Close(TcpConnection c, int status, bool reset)
    {
        if (c.ClientFd >= 0)
        {
            CloseSocket(c.ClientFd, reset);
        }
        if (c.UpstreamFd >= 0)
        {
            CloseSocket(c.UpstreamFd, reset);
        }
        ReturnPending(c.Up);
        ReturnPending(c.Down);
        if (_accessLog is not null)
        {
            LogConnection(c, status);
        }
        ReturnConnection(c);
    }

    private static void CloseSocket(int fd, bool reset)
    {
        if (reset)
        {
            // SO_LINGER with a zero timeout makes close() send RST instead of FIN.
            var linger = new LibC.Linger { OnOff = 1, Seconds = 0 };
            _ = LibC.SetSockOpt(fd, LibC.SOL_SOCKET, LibC.SO_LINGER, &linger, sizeof(LibC.Linger));
        }
        _ = LibC.Close(fd);
    }

    private static void ReturnPending(Flow flow)
    {
        if (flow.Pending is not null)
        {
            ArrayPool<byte>.Shared.Return(flow.Pending);
            flow.Pending = null;
        }
    }

    private void LogConnection(TcpConnection c, int status)
    {
        var record = new AccessLogRecord
        {
            RemoteAddress = c.Addresses.RemoteAddress,
            RemotePort = c.Addresses.RemotePort,
            ServerAddress = c.Addresses.ServerAddress,
            ServerPort = c.Addresses.ServerPort,
            Status = status,
            BytesSent = c.Down.BytesWritten,
            BytesReceived = c.Up.BytesRead,
            UpstreamBytesSent = c.Up.BytesWritten,
            UpstreamBytesReceived = c.Down.BytesRead,
            SessionSeconds = (_now - c.AcceptedAt) / 1000.0,
            UpstreamConnectSeconds = c.ConnectedAt >= c.AcceptedAt && c.State == ConnectionState.Proxying ? (c.ConnectedAt - c.AcceptedAt) / 1000.0 : 0,
            UpstreamAddress = c.Node?.DisplayAddress,
            RouteId = c.Route?.Id,
            ConnectionNumber = c.ConnectionNumber,
            EndUnixMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
        };
        _accessLog!.Append(record);
    }

    private void LogUnrouted(in ConnectionAddresses addresses)
    {
        var record = new AccessLogRecord
        {
            RemoteAddress = addresses.RemoteAddress,
            RemotePort = addresses.RemotePort,
            ServerAddress = addresses.ServerAddress,
            ServerPort = addresses.ServerPort,
            Status = 404,
            ConnectionNumber = Interlocked.Increment(ref s_connectionNumber),
            EndUnixMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
        };
        _accessLog!.Append(record);
    }
}
