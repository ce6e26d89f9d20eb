using StreamGate.Routing;

namespace StreamGate.Logging;

/// <summary>What one finished connection reports to the access log, with nginx stream's variable meanings.</summary>
internal struct AccessLogRecord
{
    public IpAddr RemoteAddress;
    public int RemotePort;
    public IpAddr ServerAddress;
    public int ServerPort;
    public int Status;

    /// <summary>$bytes_sent: bytes sent to the client.</summary>
    public long BytesSent;

    /// <summary>$bytes_received: bytes received from the client.</summary>
    public long BytesReceived;

    public long UpstreamBytesSent;
    public long UpstreamBytesReceived;
    public double SessionSeconds;
    public double UpstreamConnectSeconds;
    public string? UpstreamAddress;
    public string? RouteId;
    public long ConnectionNumber;

    /// <summary>
    /// When the connection ended, in milliseconds since the Unix epoch (UTC), for $time_local, $time_iso8601
    /// and $msec. The loop takes it from <c>DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()</c>: a clock read
    /// without the time-zone conversion DateTimeOffset.Now does; the local offset is applied once per second
    /// by <see cref="AccessLogTimeCache"/>.
    /// </summary>
    public long EndUnixMs;
}
