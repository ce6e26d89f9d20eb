namespace StreamGate.Proxy.Protocols;

/// <summary>
/// Reads the handshake message carried by a chain of TLS records as one run of bytes: <see cref="Offset"/> counts
/// message bytes, and crossing into the next record steps over its 5-byte header. The chain must already have been
/// checked (<see cref="ClientHello.Parse"/> does: every record is a handshake record of 1 byte or more, and every
/// header the reader meets lies inside the data); bounds inside the message are the caller's to keep. Indexing
/// stays bounds-checked, so a mistake throws instead of reading outside the buffer.
/// </summary>
internal ref struct HandshakeReader
{
    private readonly ReadOnlySpan<byte> _data;
    private int _position;
    private int _left;
    private int _offset;

    /// <summary>A reader at message offset 0 of the records starting at <paramref name="records"/>[0].</summary>
    public HandshakeReader(ReadOnlySpan<byte> records)
    {
        _data = records;
        _position = ClientHello.RecordHeaderLength;
        _left = (records[3] << 8) | records[4];
    }

    /// <summary>The message offset of the next byte.</summary>
    public readonly int Offset => _offset;

    public byte ReadByte()
    {
        if (_left == 0)
        {
            NextRecord();
        }
        _left--;
        _offset++;
        return _data[_position++];
    }

    public int ReadUInt16()
    {
        int high = ReadByte();
        return (high << 8) | ReadByte();
    }

    public int ReadUInt24()
    {
        int high = ReadUInt16();
        return (high << 8) | ReadByte();
    }

    public void Skip(int count)
    {
        while (count > 0)
        {
            if (_left == 0)
            {
                NextRecord();
            }
            var n = Math.Min(count, _left);
            _position += n;
            _left -= n;
            _offset += n;
            count -= n;
        }
    }

    /// <summary>The next <paramref name="length"/> bytes as one span, when they lie inside one record; the reader moves past them.</summary>
    public bool TryRead(int length, out ReadOnlySpan<byte> bytes)
    {
        if (length > 0 && _left == 0)
        {
            NextRecord();
        }
        if (length > _left)
        {
            bytes = default;
            return false;
        }
        bytes = _data.Slice(_position, length);
        _position += length;
        _left -= length;
        _offset += length;
        return true;
    }

    /// <summary>Copies the next <paramref name="destination"/>.Length bytes, across records if need be.</summary>
    public void Read(Span<byte> destination)
    {
        while (!destination.IsEmpty)
        {
            if (_left == 0)
            {
                NextRecord();
            }
            var n = Math.Min(destination.Length, _left);
            _data.Slice(_position, n).CopyTo(destination);
            destination = destination[n..];
            _position += n;
            _left -= n;
            _offset += n;
        }
    }

    private void NextRecord()
    {
        _left = (_data[_position + 3] << 8) | _data[_position + 4];
        _position += ClientHello.RecordHeaderLength;
    }
}
