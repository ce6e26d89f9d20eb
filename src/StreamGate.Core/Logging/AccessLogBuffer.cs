namespace StreamGate.Logging;

/// <summary>
/// One event loop's access-log lines: a ring of bytes this loop writes and the writer thread reads (one
/// producer, one consumer, no lock). Each finished connection is formatted as UTF-8 and appended;
/// <see cref="Flush"/> at the end of the loop's turn publishes the turn's lines to the writer in one step.
/// The bound is in bytes: a line that does not fit in what the writer has not yet consumed is dropped and
/// counted, so the loop never waits and memory never grows. Nothing is allocated per line.
/// Used by its loop's thread only (as is the time cache inside it).
/// </summary>
internal sealed class AccessLogBuffer
{
    private readonly AccessLogWriter _writer;
    private readonly AccessLogFormat _format;
    private readonly AccessLogTimeCache _time = new();
    private readonly byte[] _ring;
    private readonly long _mask;

    // A line is formatted here, then copied into the ring (in two pieces where the ring wraps): a copy of
    // ~200 bytes keeps the formatter's destination contiguous.
    private byte[] _line = new byte[1024];

    // Positions count bytes since start and only grow; the ring index is position & _mask.
    private long _head;       // the loop's: end of what was appended
    private long _published;  // written by the loop at Flush, read by the writer
    private long _consumed;   // written by the writer after each write, read by the loop
    private long _dropped;    // written by the loop, read by anyone

    internal AccessLogBuffer(AccessLogWriter writer, int size)
    {
        _writer = writer;
        _format = writer.Format;
        _ring = new byte[size];
        _mask = size - 1;
    }

    /// <summary>Lines this loop dropped because the writer had not consumed enough of the ring.</summary>
    internal long Dropped => Volatile.Read(ref _dropped);

    /// <summary>Formats one line and its newline into the ring, or drops and counts it when the ring is full.</summary>
    public void Append(in AccessLogRecord record)
    {
        int length;
        while (!_format.TryFormat(_line.AsSpan(0, _line.Length - 1), record, _time, out length))
        {
            if (_line.Length >= _ring.Length)
            {
                Drop();
                return;
            }
            // A line longer than any before (a very long format or host name): grow once per size.
            _line = new byte[_line.Length * 2];
        }
        _line[length++] = (byte)'\n';
        if (_ring.Length - (_head - Volatile.Read(ref _consumed)) < length)
        {
            // Let the writer start on what is waiting; this line has no room.
            Flush();
            Drop();
            return;
        }
        var start = (int)(_head & _mask);
        var first = Math.Min(length, _ring.Length - start);
        _line.AsSpan(0, first).CopyTo(_ring.AsSpan(start));
        _line.AsSpan(first, length - first).CopyTo(_ring);
        _head += length;
    }

    /// <summary>Called by the loop at the end of each turn: makes the turn's lines visible to the writer and wakes it.</summary>
    public void Flush()
    {
        if (_head == _published)
        {
            return;
        }
        // A full fence, not a release: the writer announces its park and then looks at _published, so this
        // store must not pass the read of its park flag in Wake (a missed wake would hold lines back).
        Interlocked.Exchange(ref _published, _head);
        _writer.Wake();
    }

    private void Drop() => Volatile.Write(ref _dropped, _dropped + 1);

    // The writer thread's side.

    /// <summary>The end of what the loop has published (acquire: the bytes before it are visible).</summary>
    internal long Published => Volatile.Read(ref _published);

    /// <summary>The start of what the writer has not consumed yet.</summary>
    internal long Consumed => _consumed;

    /// <summary>The bytes from <see cref="Consumed"/> to <paramref name="end"/>: two pieces where the ring wraps.</summary>
    internal (ReadOnlyMemory<byte> First, ReadOnlyMemory<byte> Second) Pending(long end)
    {
        var start = (int)(_consumed & _mask);
        var length = (int)(end - _consumed);
        var first = Math.Min(length, _ring.Length - start);
        return (_ring.AsMemory(start, first), _ring.AsMemory(0, length - first));
    }

    /// <summary>The writer is done with the bytes up to <paramref name="end"/>; the loop may reuse them.</summary>
    internal void Consume(long end) => Volatile.Write(ref _consumed, end);
}
