using System.Text;

namespace StreamGate.Proxy.Protocols;

/// <summary>What <see cref="ClientHello.Parse"/> made of the bytes it was shown.</summary>
internal enum ClientHelloStatus : byte
{
    /// <summary>A prefix of what may still be a ClientHello: read more (at least <see cref="ClientHelloResult.MinimumLength"/> bytes in all).</summary>
    NeedMore,

    /// <summary>The first record is not a TLS handshake record (content type 22, version 3.x), or is an SSLv2-compatible hello.</summary>
    NotTls,

    /// <summary>A TLS handshake record, but not a ClientHello this parser accepts; <see cref="ClientHelloResult.Reason"/> says why.</summary>
    Malformed,

    /// <summary>A whole ClientHello, checked; its fields are ready.</summary>
    Complete,
}

/// <summary>
/// The answer of <see cref="ClientHello.Parse"/>: a status, and for <see cref="ClientHelloStatus.Complete"/> where
/// the hello's fields lie. Nothing is copied out of the buffer: the fields are <see cref="HelloField"/>s into the
/// handshake message, read with the methods below and the same buffer that was parsed (or any buffer that starts
/// with the same <see cref="Length"/> bytes). Only <see cref="GetServerName"/> and <see cref="GetString"/> allocate.
/// </summary>
internal readonly struct ClientHelloResult
{
    private ClientHelloResult(ClientHelloStatus status, string? reason, int minimumLength)
    {
        Status = status;
        Reason = reason;
        MinimumLength = minimumLength;
    }

    internal ClientHelloResult(
        int length, int records, int messageLength, ushort recordVersion, ushort legacyVersion, HelloField serverName, HelloField alpn,
        int alpnCount, HelloField supportedVersions, bool offersTls13)
    {
        Status = ClientHelloStatus.Complete;
        Length = length;
        Records = records;
        MessageLength = messageLength;
        RecordVersion = recordVersion;
        LegacyVersion = legacyVersion;
        ServerName = serverName;
        Alpn = alpn;
        AlpnCount = alpnCount;
        SupportedVersions = supportedVersions;
        OffersTls13 = offersTls13;
    }

    public ClientHelloStatus Status { get; }

    /// <summary>Why the bytes are <see cref="ClientHelloStatus.NotTls"/> or <see cref="ClientHelloStatus.Malformed"/>: a constant, short, for a log line.</summary>
    public string? Reason { get; }

    /// <summary>
    /// <see cref="ClientHelloStatus.NeedMore"/>: the hello's records take at least this many bytes (a lower bound
    /// from the length fields read so far), so it cannot be Complete with fewer. Always more than the bytes shown,
    /// and never more than the limit passed to <see cref="ClientHello.Parse"/> (past it the answer is Malformed at
    /// once). Bytes that arrive before it may still make the answer Malformed (a wrong next record header).
    /// </summary>
    public int MinimumLength { get; }

    /// <summary><see cref="ClientHelloStatus.Complete"/>: the bytes of the records that carry the hello, headers included. What follows is not the hello's.</summary>
    public int Length { get; }

    /// <summary>How many TLS records carry the hello (1 unless the client fragmented it).</summary>
    public int Records { get; }

    /// <summary>The handshake message's length, its 4-byte header included: the end of every <see cref="HelloField"/>.</summary>
    public int MessageLength { get; }

    /// <summary>The first record's version (0x0301 from most clients, whatever they offer).</summary>
    public ushort RecordVersion { get; }

    /// <summary>ClientHello.legacy_version: the highest version offered by a client without supported_versions; 0x0303 from TLS 1.3 clients.</summary>
    public ushort LegacyVersion { get; }

    /// <summary>The host_name of the server_name extension, as sent (case kept); empty when the client sent none.</summary>
    public HelloField ServerName { get; }

    public bool HasServerName => !ServerName.IsEmpty;

    /// <summary>The ALPN ProtocolNameList (without its length); enumerate it with <see cref="EnumerateAlpn"/>. Empty without ALPN.</summary>
    public HelloField Alpn { get; }

    /// <summary>The ALPN protocols offered, GREASE values not counted.</summary>
    public int AlpnCount { get; }

    /// <summary>The supported_versions list (without its length byte); enumerate it with <see cref="EnumerateSupportedVersions"/>. Empty without the extension.</summary>
    public HelloField SupportedVersions { get; }

    /// <summary>supported_versions lists TLS 1.3 (0x0304). Only that extension offers 1.3: legacy_version stays 0x0303.</summary>
    public bool OffersTls13 { get; }

    internal static ClientHelloResult NeedMore(int minimumLength) => new(ClientHelloStatus.NeedMore, null, minimumLength);

    internal static ClientHelloResult NotTls(string reason) => new(ClientHelloStatus.NotTls, reason, 0);

    internal static ClientHelloResult Malformed(string reason) => new(ClientHelloStatus.Malformed, reason, 0);

    /// <summary>
    /// The field's bytes as one span of <paramref name="data"/>, when they lie inside one record (always so for a
    /// hello in one record); false when the field straddles records: use <see cref="CopyTo"/> then.
    /// </summary>
    public bool TryGetBytes(ReadOnlySpan<byte> data, HelloField field, out ReadOnlySpan<byte> bytes)
    {
        var reader = ReaderAt(data, field);
        return reader.TryRead(field.Length, out bytes);
    }

    /// <summary>Copies the field's bytes, across records if need be, into the start of <paramref name="destination"/>; returns the field's length.</summary>
    public int CopyTo(ReadOnlySpan<byte> data, HelloField field, Span<byte> destination)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(destination.Length, field.Length, nameof(destination));
        var reader = ReaderAt(data, field);
        reader.Read(destination[..field.Length]);
        return field.Length;
    }

    /// <summary>The field's bytes as a string, one char per byte (Latin-1: an ALPN name may be any bytes). Allocates.</summary>
    public string GetString(ReadOnlySpan<byte> data, HelloField field)
    {
        if (TryGetBytes(data, field, out var bytes))
        {
            return Encoding.Latin1.GetString(bytes);
        }
        var copy = new byte[field.Length];
        CopyTo(data, field, copy);
        return Encoding.Latin1.GetString(copy);
    }

    /// <summary>The server name as a string, or null without one. Allocates; the case is the client's (matching lower-cases its own copy).</summary>
    public string? GetServerName(ReadOnlySpan<byte> data)
    {
        EnsureComplete();
        return HasServerName ? GetString(data, ServerName) : null;
    }

    /// <summary>The ALPN protocols in the client's order of preference, GREASE values skipped; each a field to read with the methods above.</summary>
    public AlpnEnumerator EnumerateAlpn(ReadOnlySpan<byte> data) => new(ReaderAt(data, Alpn), Alpn.Offset + Alpn.Length);

    /// <summary>The supported_versions entries in the client's order, GREASE values skipped.</summary>
    public VersionEnumerator EnumerateSupportedVersions(ReadOnlySpan<byte> data) =>
        new(ReaderAt(data, SupportedVersions), SupportedVersions.Offset + SupportedVersions.Length);

    private void EnsureComplete()
    {
        if (Status != ClientHelloStatus.Complete)
        {
            throw new InvalidOperationException($"The ClientHello is {Status}: it has no fields.");
        }
    }

    private HandshakeReader ReaderAt(ReadOnlySpan<byte> data, HelloField field)
    {
        EnsureComplete();
        if (data.Length < Length)
        {
            throw new ArgumentException($"The buffer has {data.Length} bytes; the parsed ClientHello had {Length}.", nameof(data));
        }
        if (field.Offset < 0 || field.Length < 0 || field.Offset + field.Length > MessageLength)
        {
            throw new ArgumentOutOfRangeException(nameof(field), field, $"The ClientHello's message has {MessageLength} bytes.");
        }
        var reader = new HandshakeReader(data);
        reader.Skip(field.Offset);
        return reader;
    }
}

/// <summary>The ALPN ProtocolNameList of a parsed hello, one protocol name at a time (already checked: no empty name, no overrun).</summary>
internal ref struct AlpnEnumerator
{
    private HandshakeReader _reader;
    private readonly int _end;

    internal AlpnEnumerator(HandshakeReader reader, int end)
    {
        _reader = reader;
        _end = end;
    }

    public HelloField Current { get; private set; }

    public readonly AlpnEnumerator GetEnumerator() => this;

    public bool MoveNext()
    {
        while (_reader.Offset < _end)
        {
            var length = _reader.ReadByte();
            var field = new HelloField(_reader.Offset, length);
            if (length == 2)
            {
                var first = _reader.ReadByte();
                var second = _reader.ReadByte();
                if (ClientHello.IsGrease((ushort)((first << 8) | second)))
                {
                    continue;
                }
            }
            else
            {
                _reader.Skip(length);
            }
            Current = field;
            return true;
        }
        return false;
    }
}

/// <summary>The supported_versions list of a parsed hello, one version at a time.</summary>
internal ref struct VersionEnumerator
{
    private HandshakeReader _reader;
    private readonly int _end;

    internal VersionEnumerator(HandshakeReader reader, int end)
    {
        _reader = reader;
        _end = end;
    }

    public ushort Current { get; private set; }

    public readonly VersionEnumerator GetEnumerator() => this;

    public bool MoveNext()
    {
        while (_reader.Offset < _end)
        {
            var version = (ushort)_reader.ReadUInt16();
            if (!ClientHello.IsGrease(version))
            {
                Current = version;
                return true;
            }
        }
        return false;
    }
}
