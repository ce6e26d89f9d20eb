using System.Buffers;
using StreamGate.Proxy.Native;

namespace StreamGate.Proxy.Tcp;

internal sealed unsafe partial class TcpSession
{
    // Reads per direction per turn before yielding to other sessions (fairness under bulk load).
    private const int MaxReadsPerTurn = 8;

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

    /// <summary>Moves what can be moved both ways, then closes the session when both directions are done.</summary>
    public void Pump()
    {
        var up = Transfer(ClientSocket, UpstreamSocket);
        if (up is TransferResult.SourceFailed or TransferResult.DestinationFailed)
        {
            // Client reset: reset the upstream. Upstream refused our write: reset the client.
            Close(up == TransferResult.SourceFailed ? 200 : 502, reset: true);
            return;
        }
        var down = Transfer(UpstreamSocket, ClientSocket);
        if (down is TransferResult.SourceFailed or TransferResult.DestinationFailed)
        {
            Close(down == TransferResult.SourceFailed ? 502 : 200, reset: true);
            return;
        }
        if (Up.Finished && Down.Finished)
        {
            Close(200, reset: false);
            return;
        }
        // An error on a socket nothing reads any more (its direction already ended) is seen only here.
        if ((ClientSocket.ErrorSeen || UpstreamSocket.ErrorSeen) && CloseOnSocketError())
        {
            return;
        }
        if ((up == TransferResult.MoreWork || down == TransferResult.MoreWork) && !Queued)
        {
            _worker.Defer(this);
        }
    }

    /// <summary>
    /// Moves bytes from the flow's source to its destination until one would block. A short read means the
    /// socket's receive queue is empty (edge-triggered epoll reports the next arrival), which saves the extra read
    /// that would only return EAGAIN, as nginx does. A FIN is passed on once everything before it is written.
    /// </summary>
    private TransferResult Transfer(SocketEndpoint source, SocketEndpoint destination)
    {
        ref var flow = ref source.Outbound;
        var scratch = _worker.Scratch;
        for (var reads = 0; ; reads++)
        {
            if (flow.PendingCount > 0)
            {
                if (!destination.Writable)
                {
                    return TransferResult.Idle;
                }
                nint sent;
                int sendError;
                fixed (byte* pending = flow.Pending)
                {
                    sent = destination.Send(pending + flow.PendingOffset, flow.PendingCount, out sendError);
                }
                if (sent < 0)
                {
                    if (sendError == LibC.EAGAIN)
                    {
                        destination.Writable = false;
                        return TransferResult.Idle;
                    }
                    return TransferResult.DestinationFailed;
                }
                flow.BytesWritten += sent;
                flow.PendingOffset += (int)sent;
                flow.PendingCount -= (int)sent;
                if (flow.PendingCount > 0)
                {
                    destination.Writable = false;
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
                    if (!destination.Outbound.Finished)
                    {
                        _ = LibC.Shutdown(destination.Fd, LibC.SHUT_WR);
                    }
                }
                return TransferResult.Idle;
            }
            if (!source.Readable)
            {
                return TransferResult.Idle;
            }
            if (reads == MaxReadsPerTurn)
            {
                return TransferResult.MoreWork;
            }
            var received = source.Receive(scratch, TcpWorker.ScratchSize, out var receiveError);
            if (received < 0)
            {
                if (receiveError == LibC.EAGAIN)
                {
                    source.Readable = false;
                    return TransferResult.Idle;
                }
                if (receiveError == LibC.EINTR)
                {
                    continue;
                }
                return TransferResult.SourceFailed;
            }
            if (received == 0)
            {
                flow.SourceEnded = true;
                source.Readable = false;
                continue;
            }
            flow.BytesRead += received;
            _lastActivity = _worker.Now;
            if (received < TcpWorker.ScratchSize && !source.HangupSeen)
            {
                source.Readable = false;
            }
            nint written = 0;
            if (destination.Writable)
            {
                written = destination.Send(scratch, (int)received, out var sendError);
                if (written < 0)
                {
                    if (sendError != LibC.EAGAIN)
                    {
                        return TransferResult.DestinationFailed;
                    }
                    written = 0;
                }
            }
            flow.BytesWritten += written;
            if (written < received)
            {
                // The destination is full: keep the rest (at most one read's worth) and stop reading the
                // source until it drains, so a slow reader never makes the gateway buffer without bound.
                var rest = (int)(received - written);
                flow.Pending = ArrayPool<byte>.Shared.Rent(rest);
                new ReadOnlySpan<byte>(scratch + written, rest).CopyTo(flow.Pending);
                flow.PendingOffset = 0;
                flow.PendingCount = rest;
                destination.Writable = false;
                return TransferResult.Idle;
            }
        }
    }
}
