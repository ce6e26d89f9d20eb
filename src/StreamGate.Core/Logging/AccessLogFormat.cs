using System.Globalization;
using System.Text;
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
    public DateTimeOffset EndTime;
}

/// <summary>
/// An nginx-style log format ("$remote_addr [$time_local] $status ...") compiled once into literal and
/// variable segments, so formatting a line is a walk over an array.
/// </summary>
internal sealed class AccessLogFormat
{
    public static readonly string[] KnownVariables =
    [
        "remote_addr", "remote_port", "server_addr", "server_port", "status", "bytes_sent", "bytes_received",
        "session_time", "upstream_addr", "upstream_bytes_sent", "upstream_bytes_received", "upstream_connect_time",
        "time_local", "time_iso8601", "msec", "protocol", "connection", "route_id",
    ];

    private readonly (string? Literal, int Variable)[] _segments;

    public AccessLogFormat(string format)
    {
        var segments = new List<(string?, int)>();
        foreach (var (literal, variable) in Tokenize(format))
        {
            if (variable is null)
            {
                segments.Add((literal, -1));
                continue;
            }
            var index = Array.IndexOf(KnownVariables, variable);
            if (index < 0)
            {
                throw new ArgumentException($"unknown variable ${variable}", nameof(format));
            }
            segments.Add((null, index));
        }
        _segments = [.. segments];
    }

    public static IEnumerable<string> UnknownVariables(string format) =>
        Tokenize(format).Where(t => t.Variable is not null && Array.IndexOf(KnownVariables, t.Variable) < 0).Select(t => t.Variable!);

    /// <summary>Whether the format prints <paramref name="variable"/> (the data plane skips work nobody reads).</summary>
    public bool Uses(string variable)
    {
        var index = Array.IndexOf(KnownVariables, variable);
        foreach (var (_, v) in _segments)
        {
            if (v == index)
            {
                return true;
            }
        }
        return false;
    }

    public string Format(in AccessLogRecord record)
    {
        var sb = new StringBuilder(128);
        foreach (var (literal, variable) in _segments)
        {
            if (literal is not null)
            {
                sb.Append(literal);
                continue;
            }
            AppendVariable(sb, variable, record);
        }
        return sb.ToString();
    }

    private static void AppendVariable(StringBuilder sb, int variable, in AccessLogRecord r)
    {
        var inv = CultureInfo.InvariantCulture;
        switch (KnownVariables[variable])
        {
            case "remote_addr": sb.Append(r.RemoteAddress.ToString()); break;
            case "remote_port": sb.Append(r.RemotePort); break;
            case "server_addr": sb.Append(r.ServerAddress.ToString()); break;
            case "server_port": sb.Append(r.ServerPort); break;
            case "status": sb.Append(r.Status); break;
            case "bytes_sent": sb.Append(r.BytesSent); break;
            case "bytes_received": sb.Append(r.BytesReceived); break;
            case "session_time": sb.Append(inv, $"{r.SessionSeconds:0.000}"); break;
            case "upstream_addr": sb.Append(r.UpstreamAddress ?? "-"); break;
            case "upstream_bytes_sent": sb.Append(r.UpstreamBytesSent); break;
            case "upstream_bytes_received": sb.Append(r.UpstreamBytesReceived); break;
            case "upstream_connect_time": sb.Append(r.UpstreamAddress is null ? "-" : r.UpstreamConnectSeconds.ToString("0.000", inv)); break;
            case "time_local": sb.Append(r.EndTime.ToLocalTime().ToString("dd/MMM/yyyy:HH:mm:ss zzz", inv).Remove(24, 1)); break;
            case "time_iso8601": sb.Append(r.EndTime.ToLocalTime().ToString("yyyy-MM-ddTHH:mm:sszzz", inv)); break;
            case "msec": sb.Append(inv, $"{r.EndTime.ToUnixTimeMilliseconds() / 1000.0:0.000}"); break;
            case "protocol": sb.Append("TCP"); break;
            case "connection": sb.Append(r.ConnectionNumber); break;
            case "route_id": sb.Append(r.RouteId ?? "-"); break;
        }
    }

    private static IEnumerable<(string? Literal, string? Variable)> Tokenize(string format)
    {
        var i = 0;
        var literal = new StringBuilder();
        while (i < format.Length)
        {
            if (format[i] != '$')
            {
                literal.Append(format[i++]);
                continue;
            }
            var braced = i + 1 < format.Length && format[i + 1] == '{';
            var start = i + (braced ? 2 : 1);
            var end = start;
            while (end < format.Length && (char.IsAsciiLetterOrDigit(format[end]) || format[end] == '_'))
            {
                end++;
            }
            if (end == start || (braced && (end >= format.Length || format[end] != '}')))
            {
                literal.Append(format[i++]);
                continue;
            }
            if (literal.Length > 0)
            {
                yield return (literal.ToString(), null);
                literal.Clear();
            }
            // nginx variable names are case-insensitive: $REMOTE_ADDR is $remote_addr.
            yield return (null, format[start..end].ToLowerInvariant());
            i = end + (braced ? 1 : 0);
        }
        if (literal.Length > 0)
        {
            yield return (literal.ToString(), null);
        }
    }
}
