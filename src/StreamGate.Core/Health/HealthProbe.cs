using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Text;
using System.Text.RegularExpressions;
using StreamGate.Config;

namespace StreamGate.Health;

/// <summary>
/// One active probe of one node, as lua-resty-healthcheck's run_single_check: connect (a refusal is a tcp failure,
/// the timeout a timeout); then for <c>tcp</c> our optional send/expect, for <c>http</c>/<c>https</c> one request
/// whose status line decides. Async sockets on the thread pool, never an event loop's. The HTTP client is written
/// here over the socket (one request, <c>Connection: close</c>, the status line read and nothing more): a probe
/// needs no pool, no redirects and no body, and the request is byte for byte the one APISIX sends.
/// </summary>
/// <remarks>
/// <c>timeout</c> bounds the whole probe (lua-resty-healthcheck's bounds each socket operation, so a probe there
/// can take up to three times as long).
/// </remarks>
internal static partial class HealthProbe
{
    /// <summary>How much of a reply is read for a tcp expect or an HTTP status line before the probe gives up on it.</summary>
    public const int MaxReplyBytes = 4096;

    public static async Task<ProbeResult> RunAsync(NodeHealth health, TimeProvider time, CancellationToken stop)
    {
        var active = health.Checks.Active ?? throw new InvalidOperationException("a node without active checks is not probed");
        if (health.Address is not { } address)
        {
            // The data plane cannot connect there either: keeping it out of the picks is what a failure does.
            return ProbeResult.Failed(FailureKind.Tcp, $"its name {health.Host} did not resolve");
        }
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(active.Timeout), time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(stop, timeout.Token);
        using var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            await socket.ConnectAsync(new IPEndPoint(address, health.ProbePort), linked.Token).ConfigureAwait(false);
            return active.Type switch
            {
                "tcp" => await TcpAsync(socket, active, linked.Token).ConfigureAwait(false),
                "https" => await HttpAsync(socket, health, active, tls: true, linked.Token).ConfigureAwait(false),
                _ => await HttpAsync(socket, health, active, tls: false, linked.Token).ConfigureAwait(false),
            };
        }
        catch (Exception e) when (timeout.IsCancellationRequested && !stop.IsCancellationRequested && e is OperationCanceledException or IOException or SocketException)
        {
            return ProbeResult.Failed(FailureKind.Timeout, $"probe timed out after {active.Timeout.ToString(CultureInfo.InvariantCulture)} s");
        }
        catch (SocketException e) when (!stop.IsCancellationRequested)
        {
            return ProbeResult.Failed(FailureKind.Tcp, $"probe failed: {Describe(e.SocketErrorCode)}");
        }
        catch (AuthenticationException e) when (!stop.IsCancellationRequested)
        {
            // lua-resty-healthcheck counts a failed handshake as a tcp failure.
            return ProbeResult.Failed(FailureKind.Tcp, $"probe's TLS handshake failed: {e.Message}");
        }
        catch (IOException e) when (!stop.IsCancellationRequested)
        {
            return ProbeResult.Failed(FailureKind.Tcp, $"probe failed: {(e.InnerException is SocketException inner ? Describe(inner.SocketErrorCode) : e.Message)}");
        }
    }

    private static async Task<ProbeResult> TcpAsync(Socket socket, ActiveCheckConfig active, CancellationToken cancellation)
    {
        if (active.Send is { Length: > 0 } send)
        {
            await socket.SendAsync(Encoding.UTF8.GetBytes(send), SocketFlags.None, cancellation).ConfigureAwait(false);
        }
        if (active.Expect is not { Length: > 0 } expect)
        {
            return ProbeResult.Success;
        }
        var wanted = Encoding.UTF8.GetBytes(expect);
        var buffer = new byte[Math.Max(MaxReplyBytes, wanted.Length)];
        var length = 0;
        while (true)
        {
            if (length == buffer.Length)
            {
                return ProbeResult.Failed(FailureKind.Tcp, $"probe's reply did not contain the expected text in its first {buffer.Length} bytes");
            }
            var read = await socket.ReceiveAsync(buffer.AsMemory(length), SocketFlags.None, cancellation).ConfigureAwait(false);
            if (read == 0)
            {
                return ProbeResult.Failed(FailureKind.Tcp, "the node closed the probe's connection before the expected reply");
            }
            // Only the bytes that could complete a match are searched again.
            var from = Math.Max(0, length - wanted.Length + 1);
            length += read;
            if (buffer.AsSpan(from, length - from).IndexOf(wanted) >= 0)
            {
                return ProbeResult.Success;
            }
        }
    }

    private static async Task<ProbeResult> HttpAsync(Socket socket, NodeHealth health, ActiveCheckConfig active, bool tls, CancellationToken cancellation)
    {
        var host = active.Host ?? health.Host;
        await using var stream = await OpenAsync(socket, host, active, tls, cancellation).ConfigureAwait(false);
        await stream.WriteAsync(Request(active, host), cancellation).ConfigureAwait(false);
        var buffer = new byte[MaxReplyBytes];
        var length = 0;
        while (true)
        {
            var end = buffer.AsSpan(0, length).IndexOf((byte)'\n');
            if (end >= 0)
            {
                return Classify(active, StatusCode(buffer.AsSpan(0, end)));
            }
            if (length == buffer.Length)
            {
                return Classify(active, 0);
            }
            var read = await stream.ReadAsync(buffer.AsMemory(length), cancellation).ConfigureAwait(false);
            if (read == 0)
            {
                return ProbeResult.Failed(FailureKind.Tcp, "the node closed the probe's connection before a status line");
            }
            length += read;
        }
    }

    private static async Task<Stream> OpenAsync(Socket socket, string host, ActiveCheckConfig active, bool tls, CancellationToken cancellation)
    {
        var stream = new NetworkStream(socket, ownsSocket: false);
        if (!tls)
        {
            return stream;
        }
        var ssl = new SslStream(stream, leaveInnerStreamOpen: false);
        try
        {
            var options = new SslClientAuthenticationOptions
            {
                // The server name (SNI, and the name the certificate must carry): host, or the node's; an IP sends none.
                TargetHost = host.StartsWith('[') ? host[1..^1] : host,
            };
            if (!active.HttpsVerifyCertificate)
            {
#pragma warning disable CA5359 // https_verify_certificate: false is the operator asking for exactly this (APISIX's option).
                options.RemoteCertificateValidationCallback = static (_, _, _, _) => true;
#pragma warning restore CA5359
            }
            await ssl.AuthenticateAsClientAsync(options, cancellation).ConfigureAwait(false);
            return ssl;
        }
        catch
        {
            await ssl.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// lua-resty-healthcheck's request: <c>GET {path} HTTP/1.1</c>, <c>Connection: close</c>, the req_headers lines,
    /// <c>Host</c> (unless a req_headers line sets it), and with a body its Content-Length (APISIX's http_req_body).
    /// </summary>
    public static byte[] Request(ActiveCheckConfig active, string host)
    {
        var request = new StringBuilder(128);
        request.Append(active.HttpMethod).Append(' ').Append(active.HttpPath).Append(" HTTP/1.1\r\nConnection: close\r\n");
        var hostSet = false;
        foreach (var header in active.ReqHeaders)
        {
            request.Append(header).Append("\r\n");
            hostSet |= header.StartsWith("host:", StringComparison.OrdinalIgnoreCase);
        }
        if (!hostSet)
        {
            var bracket = !host.StartsWith('[') && IPAddress.TryParse(host, out var ip) && ip.AddressFamily == AddressFamily.InterNetworkV6;
            request.Append("Host: ").Append(bracket ? $"[{host}]" : host).Append("\r\n");
        }
        var body = Encoding.UTF8.GetBytes(active.HttpReqBody);
        if (body.Length > 0)
        {
            request.Append("Content-Length: ").Append(body.Length.ToString(CultureInfo.InvariantCulture)).Append("\r\n");
        }
        request.Append("\r\n");
        var head = Encoding.UTF8.GetBytes(request.ToString());
        return body.Length == 0 ? head : [.. head, .. body];
    }

    /// <summary>The status of a status line (<c>HTTP/1.1 200 OK</c>), or 0 when it is not one, which counts as an http failure.</summary>
    public static int StatusCode(ReadOnlySpan<byte> line)
    {
        var text = Encoding.ASCII.GetString(line);
        var match = StatusLine().Match(text);
        return match.Success && int.TryParse(match.Groups[1].ValueSpan, NumberStyles.None, CultureInfo.InvariantCulture, out var status) ? status : 0;
    }

    /// <summary>healthy.http_statuses succeed, unhealthy.http_statuses (and no status) fail, any other status is neither.</summary>
    public static ProbeResult Classify(ActiveCheckConfig active, int status)
    {
        if (status != 0 && active.Healthy.HttpStatuses.Contains(status))
        {
            return ProbeResult.Success;
        }
        if (status == 0 || active.Unhealthy.HttpStatuses.Contains(status))
        {
            return ProbeResult.Failed(FailureKind.Http, status == 0 ? "probe got no HTTP status line" : $"probe got HTTP {status}");
        }
        return ProbeResult.Neither;
    }

    private static string Describe(SocketError error) => error switch
    {
        SocketError.ConnectionRefused => "connection refused",
        SocketError.ConnectionReset => "connection reset",
        SocketError.HostUnreachable => "host unreachable",
        SocketError.NetworkUnreachable => "network unreachable",
        SocketError.TimedOut => "timed out",
        _ => error.ToString(),
    };

    [GeneratedRegex(@"^HTTP/\d+\.\d+\s+(\d+)", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex StatusLine();
}

/// <summary>What one probe says: a success, a failure of one kind (with why), or neither (an HTTP status in no list).</summary>
internal readonly record struct ProbeResult(ProbeOutcome Outcome, FailureKind Kind, string? Reason)
{
    public static ProbeResult Success => new(ProbeOutcome.Success, default, null);

    public static ProbeResult Neither => new(ProbeOutcome.Neither, default, null);

    public static ProbeResult Failed(FailureKind kind, string reason) => new(ProbeOutcome.Failure, kind, reason);

    /// <summary>Reports the result to <paramref name="health"/>: per probe nothing is logged, only a change of state.</summary>
    public void ReportTo(NodeHealth health)
    {
        switch (Outcome)
        {
            case ProbeOutcome.Success:
                health.ReportProbeSuccess();
                break;
            case ProbeOutcome.Failure:
                health.ReportProbeFailure(Kind, Reason!);
                break;
        }
    }
}

internal enum ProbeOutcome
{
    Success,
    Failure,
    Neither,
}
