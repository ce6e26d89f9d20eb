using System.Buffers.Text;
using System.Globalization;
using System.Text;

namespace StreamGate.Logging;

/// <summary>
/// An nginx-style log format ("$remote_addr [$time_local] $status ...") compiled once into UTF-8 literals and
/// variable numbers, so formatting a line is a walk over an array that writes bytes straight into the
/// caller's buffer: no string, no boxing, no allocation per line or per field.
/// </summary>
internal sealed class AccessLogFormat
{
    /// <summary>In the order of <see cref="Variable"/>.</summary>
    public static readonly string[] KnownVariables =
    [
        "remote_addr", "remote_port", "server_addr", "server_port", "status", "bytes_sent", "bytes_received",
        "session_time", "upstream_addr", "upstream_bytes_sent", "upstream_bytes_received", "upstream_connect_time",
        "time_local", "time_iso8601", "msec", "protocol", "connection", "route_id",
    ];

    private readonly Segment[] _segments;

    public AccessLogFormat(string format)
    {
        var segments = new List<Segment>();
        foreach (var (literal, variable) in Tokenize(format))
        {
            if (variable is null)
            {
                segments.Add(new Segment(Encoding.UTF8.GetBytes(literal!), default));
                continue;
            }
            var index = Array.IndexOf(KnownVariables, variable);
            if (index < 0)
            {
                throw new ArgumentException($"unknown variable ${variable}", nameof(format));
            }
            segments.Add(new Segment(null, (Variable)index));
        }
        _segments = [.. segments];
    }

    private enum Variable
    {
        RemoteAddr, RemotePort, ServerAddr, ServerPort, Status, BytesSent, BytesReceived,
        SessionTime, UpstreamAddr, UpstreamBytesSent, UpstreamBytesReceived, UpstreamConnectTime,
        TimeLocal, TimeIso8601, Msec, Protocol, Connection, RouteId,
    }

    public static IEnumerable<string> UnknownVariables(string format) =>
        Tokenize(format).Where(t => t.Variable is not null && Array.IndexOf(KnownVariables, t.Variable) < 0).Select(t => t.Variable!);

    /// <summary>Whether the format prints <paramref name="variable"/> (the data plane skips work nobody reads).</summary>
    public bool Uses(string variable)
    {
        var index = Array.IndexOf(KnownVariables, variable);
        foreach (var segment in _segments)
        {
            if (segment.Literal is null && (int)segment.Variable == index)
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>
    /// One line as a string (without the newline), for tests and anything off the hot path; the same code
    /// as <see cref="TryFormat"/>, with its own time cache.
    /// </summary>
    public string Format(in AccessLogRecord record)
    {
        var time = new AccessLogTimeCache();
        var buffer = new byte[256];
        int written;
        while (!TryFormat(buffer, record, time, out written))
        {
            buffer = new byte[buffer.Length * 2];
        }
        return Encoding.UTF8.GetString(buffer, 0, written);
    }

    /// <summary>
    /// Writes one line (without the newline) as UTF-8 into <paramref name="destination"/>; false, with nothing
    /// meaningful written, when it does not fit. <paramref name="time"/> caches the time strings per second.
    /// </summary>
    public bool TryFormat(Span<byte> destination, in AccessLogRecord record, AccessLogTimeCache time, out int written)
    {
        written = 0;
        foreach (var segment in _segments)
        {
            int length;
            var fits = segment.Literal is { } literal
                ? TryWrite(literal, destination[written..], out length)
                : TryWrite(segment.Variable, record, time, destination[written..], out length);
            if (!fits)
            {
                written = 0;
                return false;
            }
            written += length;
        }
        return true;
    }

    private static bool TryWrite(Variable variable, in AccessLogRecord r, AccessLogTimeCache time, Span<byte> d, out int n)
    {
        switch (variable)
        {
            case Variable.RemoteAddr: return r.RemoteAddress.TryFormat(d, out n);
            case Variable.RemotePort: return Utf8Formatter.TryFormat(r.RemotePort, d, out n);
            case Variable.ServerAddr: return r.ServerAddress.TryFormat(d, out n);
            case Variable.ServerPort: return Utf8Formatter.TryFormat(r.ServerPort, d, out n);
            case Variable.Status: return Utf8Formatter.TryFormat(r.Status, d, out n);
            case Variable.BytesSent: return Utf8Formatter.TryFormat(r.BytesSent, d, out n);
            case Variable.BytesReceived: return Utf8Formatter.TryFormat(r.BytesReceived, d, out n);
            case Variable.SessionTime: return TryWriteSeconds(r.SessionSeconds, d, out n);
            case Variable.UpstreamAddr: return TryWrite(r.UpstreamAddress, d, out n);
            case Variable.UpstreamBytesSent: return Utf8Formatter.TryFormat(r.UpstreamBytesSent, d, out n);
            case Variable.UpstreamBytesReceived: return Utf8Formatter.TryFormat(r.UpstreamBytesReceived, d, out n);
            case Variable.UpstreamConnectTime:
                return r.UpstreamAddress is null ? TryWrite("-"u8, d, out n) : TryWriteSeconds(r.UpstreamConnectSeconds, d, out n);
            case Variable.TimeLocal:
                time.Set(r.EndUnixMs);
                return TryWrite(time.TimeLocal, d, out n);
            case Variable.TimeIso8601:
                time.Set(r.EndUnixMs);
                return TryWrite(time.TimeIso8601, d, out n);
            case Variable.Msec:
                time.Set(r.EndUnixMs);
                return time.TryWriteMsec(d, out n);
            case Variable.Protocol: return TryWrite("TCP"u8, d, out n);
            case Variable.Connection: return Utf8Formatter.TryFormat(r.ConnectionNumber, d, out n);
            case Variable.RouteId: return TryWrite(r.RouteId, d, out n);
            default:
                n = 0;
                return true;
        }
    }

    /// <summary>nginx's seconds with millisecond resolution ("1.235"); IUtf8SpanFormattable, so no string.</summary>
    private static bool TryWriteSeconds(double seconds, Span<byte> destination, out int written) =>
        seconds.TryFormat(destination, out written, "F3", CultureInfo.InvariantCulture);

    private static bool TryWrite(ReadOnlySpan<byte> bytes, Span<byte> destination, out int written)
    {
        written = bytes.Length;
        return bytes.TryCopyTo(destination);
    }

    /// <summary>An existing string (route id, upstream address) encoded in place; "-" when absent, as nginx.</summary>
    private static bool TryWrite(string? text, Span<byte> destination, out int written) =>
        text is null ? TryWrite("-"u8, destination, out written) : Encoding.UTF8.TryGetBytes(text, destination, out written);

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

    /// <summary>A literal's UTF-8 bytes, or (when null) a variable.</summary>
    private readonly record struct Segment(byte[]? Literal, Variable Variable);
}
