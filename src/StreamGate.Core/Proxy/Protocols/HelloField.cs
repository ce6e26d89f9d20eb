namespace StreamGate.Proxy.Protocols;

/// <summary>
/// A run of bytes inside a parsed ClientHello: <see cref="Offset"/> counts bytes of the handshake message (its
/// 4-byte header is offset 0), not of the buffer, because a hello may be split over several TLS records and a
/// field may straddle two of them. Read it through <see cref="ClientHelloResult"/>, which steps over the record
/// headers. <see cref="Length"/> 0 means absent.
/// </summary>
internal readonly record struct HelloField(int Offset, int Length)
{
    public bool IsEmpty => Length == 0;
}
