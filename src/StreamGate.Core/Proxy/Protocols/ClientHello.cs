namespace StreamGate.Proxy.Protocols;

/// <summary>
/// Reads the server name (SNI), the ALPN protocols and the offered versions from the TLS ClientHello at the start
/// of a client's bytes, without consuming them: for passthrough routing (the hello itself is replayed to the
/// upstream) and for choosing a certificate before terminating TLS.
/// </summary>
/// <remarks>
/// <para>
/// <b>Input.</b> The bytes the client sent so far, from its first byte. The hello may be split over several TLS
/// records (handshake messages may span records, RFC 8446 section 5.1; nginx's ssl_preread reassembles them too)
/// and over any number of reads: a prefix gives <see cref="ClientHelloStatus.NeedMore"/>, never a guess. Bytes
/// after the hello's last record (a ChangeCipherSpec, early data) are ignored; <see cref="ClientHelloResult.Length"/>
/// says where the hello ends.
/// </para>
/// <para>
/// <b>Cost.</b> Until the whole hello has arrived only the record headers are walked (a few per hello, at most
/// <c>maxLength / 6</c>), so a client that sends one byte at a time does not make the body parse again and again;
/// the body is parsed once, in one pass. Nothing is allocated: fields are offsets into the buffer.
/// </para>
/// <para>
/// <b>NotTls</b>: the first byte is not 22 (handshake) or the first record's major version is not 3. That includes
/// the SSLv2-compatible hello (a 2-byte header with the high bit set, message type 1): it has no extensions, so
/// neither SNI nor ALPN, and TLS 1.3 peers must not send it (RFC 8446 appendix D.5). nginx recognises it, reports
/// the protocol "SSLv2" and no server name; to a router that is the same as not TLS, which is what this says.
/// </para>
/// <para>
/// <b>Malformed</b>, with a constant reason, when the bytes are a TLS handshake but not a hello that can be
/// routed on safely:
/// a later record is not a handshake record (no interleaving, RFC 8446 5.1); a record is empty or longer than
/// 2^14 bytes (5.1); the handshake message is not a ClientHello, or shorter than its fixed fields;
/// the records would pass <c>maxLength</c> ("too large", known from the length fields before the bytes arrive,
/// like nginx's full preread buffer); the last record holds bytes after the hello (a ClientHello must end on a
/// record boundary, 5.1); any length field disagrees with the one around it or overruns it; session id over 32
/// bytes; no cipher suite or an odd cipher_suites length; no compression method; the same extension twice (RFC 8446
/// 4.2 forbids it, and a router reading the first copy while the server reads the second is a way around routing,
/// so it is refused rather than guessed; nginx and HAProxy take the first); an empty server_name list, two
/// host_name entries (RFC 6066 section 3 allows one per type), a host_name that is empty, has a byte outside
/// printable ASCII (0x21-0x7E), or ends with a dot (RFC 6066: "without a trailing dot"; nginx strips one for its
/// server lookup and HAProxy's req.ssl_sni returns the bytes as sent, checking nothing); an ALPN list that is
/// empty or holds an empty name (RFC 7301 section 3.1; nginx refuses it too); a supported_versions list that is
/// empty or odd.
/// </para>
/// <para>
/// <b>Accepted as sent</b>: GREASE values (RFC 8701) are skipped wherever they appear (extension types, ALPN
/// names, versions); extensions the parser does not read are skipped, zero-length ones included; server_name
/// entries of other name types are skipped by their 16-bit length (RFC 6066 requires future types to start with
/// one); a hello without extensions (TLS 1.2 and older allow it) is complete without a name; host names are not
/// length-capped beyond the hello itself (HostName is &lt;1..2^16-1&gt;; a name over 253 characters cannot match a
/// configured sni anyway), not lower-cased (the caller's copy for matching), and not checked against IP literals.
/// What only the TLS server must check (pre_shared_key last, key shares, cipher choice) is left to it.
/// </para>
/// </remarks>
internal static class ClientHello
{
    /// <summary>The default cap on the hello's records: nginx's preread_buffer_size default (16k), which is also one full record.</summary>
    public const int DefaultMaxLength = 16 * 1024;

    /// <summary>The least <c>maxLength</c> that can hold a hello: a record header, the handshake header and the fixed fields.</summary>
    public const int MinimumMaxLength = RecordHeaderLength + HandshakeHeaderLength + MinimumBodyLength;

    internal const int RecordHeaderLength = 5;

    private const int HandshakeHeaderLength = 4;
    private const byte ContentTypeHandshake = 22;
    private const byte HandshakeTypeClientHello = 1;

    /// <summary>TLSPlaintext.length must not exceed 2^14 (RFC 8446 5.1).</summary>
    private const int MaxRecordPayload = 1 << 14;

    /// <summary>legacy_version (2), random (32), session id length (1), one cipher suite (2 + 2), one compression method (1 + 1).</summary>
    private const int MinimumBodyLength = 2 + 32 + 1 + 2 + 2 + 1 + 1;

    private const int ExtensionServerName = 0;
    private const int ExtensionAlpn = 16;
    private const int ExtensionSupportedVersions = 43;
    private const int Tls13 = 0x0304;

    private const string TooLarge = "too large";

    /// <summary>GREASE values (RFC 8701): 0x0A0A, 0x1A1A ... 0xFAFA, for extension types, versions and two-byte ALPN names alike.</summary>
    public static bool IsGrease(ushort value) => (value & 0x0F0F) == 0x0A0A && (value >> 8) == (value & 0xFF);

    /// <summary>
    /// Parses the ClientHello at the start of <paramref name="data"/> (see the class remarks for what is accepted
    /// and refused). Never throws for any content of <paramref name="data"/>, and reads nothing outside it.
    /// </summary>
    /// <param name="data">The client's bytes so far, from its first byte.</param>
    /// <param name="maxLength">The most bytes the hello's records may take, headers included; a hello whose length fields say more is Malformed ("too large").</param>
    public static ClientHelloResult Parse(ReadOnlySpan<byte> data, int maxLength = DefaultMaxLength)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxLength, MinimumMaxLength);

        var position = 0;        // the record header being looked at
        var collected = 0;       // handshake bytes in the records before it
        var header = 0;          // the handshake header, gathered byte by byte: it may straddle tiny records
        var headerBytes = 0;
        var messageLength = 0;   // 4 + the body length, once the header is known
        var records = 0;
        ushort recordVersion = 0;
        while (true)
        {
            var available = data.Length - position;
            if (available >= 1 && data[position] != ContentTypeHandshake)
            {
                return records == 0
                    ? ClientHelloResult.NotTls(IsSslV2Hello(data) ? "SSLv2-compatible ClientHello" : "not a TLS handshake record")
                    : ClientHelloResult.Malformed("a record of another type inside the ClientHello");
            }
            if (available >= 2 && data[position + 1] != 3)
            {
                return records == 0
                    ? ClientHelloResult.NotTls("record version is not 3.x")
                    : ClientHelloResult.Malformed("record version is not 3.x");
            }
            // Until the handshake header is known, the message is at least its fixed fields long.
            var expected = messageLength > 0 ? messageLength : HandshakeHeaderLength + MinimumBodyLength;
            if (available < RecordHeaderLength)
            {
                var bound = position + RecordHeaderLength + expected - collected;
                return bound > maxLength ? ClientHelloResult.Malformed(TooLarge) : ClientHelloResult.NeedMore(bound);
            }

            var length = (data[position + 3] << 8) | data[position + 4];
            if (length == 0)
            {
                return ClientHelloResult.Malformed("empty handshake record");
            }
            if (length > MaxRecordPayload)
            {
                return ClientHelloResult.Malformed("record longer than 16384 bytes");
            }
            if (records == 0)
            {
                recordVersion = (ushort)((data[position + 1] << 8) | data[position + 2]);
            }

            var payloadAvailable = Math.Min(length, available - RecordHeaderLength);
            for (var i = 0; headerBytes < HandshakeHeaderLength && i < payloadAvailable; i++)
            {
                var b = data[position + RecordHeaderLength + i];
                if (headerBytes == 0 && b != HandshakeTypeClientHello)
                {
                    return ClientHelloResult.Malformed("not a ClientHello");
                }
                header = (header << 8) | b;
                headerBytes++;
                if (headerBytes == HandshakeHeaderLength)
                {
                    var bodyLength = header & 0xFFFFFF;
                    if (bodyLength < MinimumBodyLength)
                    {
                        return ClientHelloResult.Malformed("ClientHello shorter than its fixed fields");
                    }
                    messageLength = HandshakeHeaderLength + bodyLength;
                    expected = messageLength;
                }
            }

            var after = collected + length;
            if (messageLength > 0 && after > messageLength)
            {
                return ClientHelloResult.Malformed("bytes after the ClientHello in its last record");
            }
            var recordEnd = position + RecordHeaderLength + length;
            var minimum = after < expected ? recordEnd + RecordHeaderLength + expected - after : recordEnd;
            if (minimum > maxLength)
            {
                return ClientHelloResult.Malformed(TooLarge);
            }
            if (payloadAvailable < length)
            {
                return ClientHelloResult.NeedMore(minimum);
            }

            collected = after;
            records++;
            position = recordEnd;
            if (collected == messageLength)
            {
                return ParseBody(data, position, records, messageLength, recordVersion);
            }
        }
    }

    /// <summary>nginx's test: a 2-byte SSLv2 header (high bit set), message type 1 (CLIENT-HELLO), version 0.2 or 3.x.</summary>
    private static bool IsSslV2Hello(ReadOnlySpan<byte> data) =>
        data.Length >= 4 && (data[0] & 0x80) != 0 && data[2] == 1 && (data[3] == 0 || data[3] == 3);

    private static ClientHelloResult ParseBody(ReadOnlySpan<byte> data, int length, int records, int end, ushort recordVersion)
    {
        var reader = new HandshakeReader(data);
        reader.Skip(HandshakeHeaderLength);

        // MinimumBodyLength covers everything up to the session id's length byte.
        var legacyVersion = (ushort)reader.ReadUInt16();
        if (legacyVersion >> 8 != 3)
        {
            return ClientHelloResult.Malformed("client version is not 3.x");
        }
        reader.Skip(32);
        var sessionId = reader.ReadByte();
        if (sessionId > 32)
        {
            return ClientHelloResult.Malformed("session id longer than 32 bytes");
        }
        if (end - reader.Offset < sessionId + 2)
        {
            return ClientHelloResult.Malformed("session id overruns the ClientHello");
        }
        reader.Skip(sessionId);

        var cipherSuites = reader.ReadUInt16();
        if (cipherSuites == 0 || (cipherSuites & 1) != 0)
        {
            return ClientHelloResult.Malformed("cipher_suites length is zero or odd");
        }
        if (end - reader.Offset < cipherSuites + 1)
        {
            return ClientHelloResult.Malformed("cipher_suites overruns the ClientHello");
        }
        reader.Skip(cipherSuites);

        var compression = reader.ReadByte();
        if (compression == 0)
        {
            return ClientHelloResult.Malformed("no compression method");
        }
        if (end - reader.Offset < compression)
        {
            return ClientHelloResult.Malformed("compression_methods overruns the ClientHello");
        }
        reader.Skip(compression);

        HelloField serverName = default, alpn = default, versions = default;
        var alpnCount = 0;
        var offersTls13 = false;
        if (reader.Offset == end)
        {
            return new ClientHelloResult(length, records, end, recordVersion, legacyVersion, serverName, alpn, alpnCount, versions, offersTls13);
        }
        if (end - reader.Offset < 2)
        {
            return ClientHelloResult.Malformed("a stray byte after compression_methods");
        }
        if (reader.ReadUInt16() != end - reader.Offset)
        {
            return ClientHelloResult.Malformed("extensions length does not match the ClientHello");
        }

        // One bit per extension type: duplicates are found in one pass whatever the types and however many, where a
        // list would be quadratic in a hostile hello. Zeroing the 8 KiB costs up to ~100 ns, measured beside whole
        // parses of 120-300 ns for the real hellos of the tests: nothing next to a connection's system calls.
        Span<ulong> seen = stackalloc ulong[65536 / 64];
        while (reader.Offset < end)
        {
            if (end - reader.Offset < 4)
            {
                return ClientHelloResult.Malformed("truncated extension header");
            }
            var type = reader.ReadUInt16();
            var extensionLength = reader.ReadUInt16();
            if (extensionLength > end - reader.Offset)
            {
                return ClientHelloResult.Malformed("extension overruns the extensions");
            }
            if (IsGrease((ushort)type))
            {
                reader.Skip(extensionLength);
                continue;
            }
            ref var word = ref seen[type >> 6];
            var bit = 1UL << (type & 63);
            if ((word & bit) != 0)
            {
                return ClientHelloResult.Malformed("duplicate extension");
            }
            word |= bit;

            var reason = type switch
            {
                ExtensionServerName => ReadServerName(ref reader, extensionLength, out serverName),
                ExtensionAlpn => ReadAlpn(ref reader, extensionLength, out alpn, out alpnCount),
                ExtensionSupportedVersions => ReadSupportedVersions(ref reader, extensionLength, out versions, out offersTls13),
                _ => Skip(ref reader, extensionLength),
            };
            if (reason is not null)
            {
                return ClientHelloResult.Malformed(reason);
            }
        }
        return new ClientHelloResult(length, records, end, recordVersion, legacyVersion, serverName, alpn, alpnCount, versions, offersTls13);
    }

    private static string? Skip(ref HandshakeReader reader, int length)
    {
        reader.Skip(length);
        return null;
    }

    /// <summary>RFC 6066 section 3: ServerNameList &lt;1..2^16-1&gt; of (name_type, HostName &lt;1..2^16-1&gt;).</summary>
    private static string? ReadServerName(ref HandshakeReader reader, int length, out HelloField hostName)
    {
        hostName = default;
        if (length < 2)
        {
            return "server_name extension too short";
        }
        var listLength = reader.ReadUInt16();
        if (listLength != length - 2)
        {
            return "server_name list length does not match its extension";
        }
        if (listLength == 0)
        {
            return "empty server_name list";
        }
        var end = reader.Offset + listLength;
        while (reader.Offset < end)
        {
            if (end - reader.Offset < 3)
            {
                return "truncated server_name entry";
            }
            var nameType = reader.ReadByte();
            var nameLength = reader.ReadUInt16();
            if (nameLength > end - reader.Offset)
            {
                return "server name overruns its list";
            }
            if (nameType != 0)
            {
                reader.Skip(nameLength);
                continue;
            }
            if (!hostName.IsEmpty)
            {
                return "two host_name entries";
            }
            if (nameLength == 0)
            {
                return "empty host_name";
            }
            var start = reader.Offset;
            byte last = 0;
            for (var i = 0; i < nameLength; i++)
            {
                last = reader.ReadByte();
                if (last <= 0x20 || last >= 0x7F)
                {
                    return "host_name has a byte outside printable ASCII";
                }
            }
            if (last == '.')
            {
                return "host_name ends with a dot";
            }
            hostName = new HelloField(start, nameLength);
        }
        return null;
    }

    /// <summary>RFC 7301 section 3.1: ProtocolNameList &lt;2..2^16-1&gt; of ProtocolName &lt;1..2^8-1&gt;.</summary>
    private static string? ReadAlpn(ref HandshakeReader reader, int length, out HelloField list, out int count)
    {
        list = default;
        count = 0;
        if (length < 2)
        {
            return "ALPN extension too short";
        }
        var listLength = reader.ReadUInt16();
        if (listLength != length - 2)
        {
            return "ALPN list length does not match its extension";
        }
        if (listLength < 2)
        {
            return "empty ALPN list";
        }
        var start = reader.Offset;
        var end = start + listLength;
        while (reader.Offset < end)
        {
            var nameLength = reader.ReadByte();
            if (nameLength == 0)
            {
                return "empty ALPN protocol name";
            }
            if (nameLength > end - reader.Offset)
            {
                return "ALPN protocol name overruns its list";
            }
            if (nameLength == 2)
            {
                if (!IsGrease((ushort)reader.ReadUInt16()))
                {
                    count++;
                }
            }
            else
            {
                reader.Skip(nameLength);
                count++;
            }
        }
        list = new HelloField(start, listLength);
        return null;
    }

    /// <summary>RFC 8446 section 4.2.1, in a ClientHello: ProtocolVersion versions &lt;2..254&gt;.</summary>
    private static string? ReadSupportedVersions(ref HandshakeReader reader, int length, out HelloField list, out bool offersTls13)
    {
        list = default;
        offersTls13 = false;
        if (length < 1)
        {
            return "supported_versions extension too short";
        }
        var listLength = reader.ReadByte();
        if (listLength != length - 1)
        {
            return "supported_versions list length does not match its extension";
        }
        if (listLength == 0 || (listLength & 1) != 0)
        {
            return "supported_versions list is empty or odd";
        }
        var start = reader.Offset;
        for (var i = 0; i < listLength; i += 2)
        {
            if (reader.ReadUInt16() == Tls13)
            {
                offersTls13 = true;
            }
        }
        list = new HelloField(start, listLength);
        return null;
    }
}
