using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Microsoft.Extensions.Time.Testing;
using StreamGate.Config;
using StreamGate.Health;

namespace StreamGate.Tests.Health;

/// <summary>One probe against real loopback listeners: what counts as a success, a tcp failure, a timeout, an http failure.</summary>
public class HealthProbeTests
{
    private const int TestTimeoutMs = 30_000;

    private static NodeHealth Node(int port, ActiveCheckConfig active, string host = "127.0.0.1", IPAddress? address = null) =>
        new(new ChecksConfig(active, null), host, port, TimeProvider.System) { Address = address ?? IPAddress.Loopback };

    private static readonly ActiveCheckConfig Tcp = new() { Type = "tcp", Timeout = 5 };

    private static Task<ProbeResult> Probe(NodeHealth health, TimeProvider? time = null) =>
        HealthProbe.RunAsync(health, time ?? TimeProvider.System, CancellationToken.None);

    [Fact(Timeout = TestTimeoutMs)]
    public async Task TcpConnectIsASuccess()
    {
        await using var backend = Backend.AcceptAndClose();
        var result = await Probe(Node(backend.Port, Tcp));
        Assert.Equal(ProbeOutcome.Success, result.Outcome);
        await backend.WaitForAcceptedAsync(1);
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task ARefusedConnectIsATcpFailure()
    {
        using var closed = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        closed.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var result = await Probe(Node(((IPEndPoint)closed.LocalEndPoint!).Port, Tcp));
        Assert.Equal(ProbeOutcome.Failure, result.Outcome);
        Assert.Equal(FailureKind.Tcp, result.Kind);
        Assert.Contains("connection refused", result.Reason, StringComparison.Ordinal);
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task ANodeWithoutAnAddressIsATcpFailure()
    {
        var health = new NodeHealth(new ChecksConfig(Tcp, null), "db.invalid", 5432, TimeProvider.System);
        var result = await Probe(health);
        Assert.Equal(FailureKind.Tcp, result.Kind);
        Assert.Contains("did not resolve", result.Reason, StringComparison.Ordinal);
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task SendThenExpectSucceedsWhenTheReplyContainsIt()
    {
        await using var backend = Backend.Answering("+PONG\r\n", until: "PING\r\n");
        var result = await Probe(Node(backend.Port, Tcp with { Send = "PING\r\n", Expect = "PONG" }));
        Assert.Equal(ProbeOutcome.Success, result.Outcome);
        Assert.Equal(["PING\r\n"], backend.Requests);
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task ExpectMatchesAcrossReads()
    {
        await using var backend = new Backend(async (socket, _) =>
        {
            await socket.SendAsync(Encoding.ASCII.GetBytes("220 mail.example ES"));
            await Task.Delay(50);
            await socket.SendAsync(Encoding.ASCII.GetBytes("MTP ready\r\n"));
            await Task.Delay(1000);
        });
        var result = await Probe(Node(backend.Port, Tcp with { Expect = "ESMTP" }));
        Assert.Equal(ProbeOutcome.Success, result.Outcome);
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task AReplyWithoutTheExpectedTextThatEndsIsATcpFailure()
    {
        await using var backend = Backend.Answering("-ERR\r\n", until: "PING\r\n");
        var result = await Probe(Node(backend.Port, Tcp with { Send = "PING\r\n", Expect = "PONG" }));
        Assert.Equal(FailureKind.Tcp, result.Kind);
        Assert.Contains("closed", result.Reason, StringComparison.Ordinal);
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task ExpectReadsAtMostFourKibibytes()
    {
        await using var backend = new Backend(async (socket, _) =>
        {
            await socket.SendAsync(new byte[64 * 1024]);
            await Task.Delay(2000);
        });
        var result = await Probe(Node(backend.Port, Tcp with { Expect = "never" }));
        Assert.Equal(FailureKind.Tcp, result.Kind);
        Assert.Contains("4096 bytes", result.Reason, StringComparison.Ordinal);
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task ANodeThatNeverAnswersTheExpectTimesOut()
    {
        var time = new FakeTimeProvider();
        await using var backend = Backend.Silent();
        var probe = Probe(Node(backend.Port, Tcp with { Timeout = 2, Expect = "hello" }), time);
        await backend.WaitForAcceptedAsync(1);
        Assert.False(probe.IsCompleted);
        time.Advance(TimeSpan.FromSeconds(1.9));
        Assert.False(probe.IsCompleted);
        time.Advance(TimeSpan.FromSeconds(0.1));
        var result = await probe;
        Assert.Equal(FailureKind.Timeout, result.Kind);
        Assert.Contains("timed out after 2 s", result.Reason, StringComparison.Ordinal);
    }

    [Theory(Timeout = TestTimeoutMs)]
    [InlineData(200, "Success", null)]
    [InlineData(302, "Success", null)]
    [InlineData(500, "Failure", "Http")]
    [InlineData(404, "Failure", "Http")]
    [InlineData(418, "Neither", null)]
    [InlineData(201, "Neither", null)]
    public async Task HttpStatusesAreClassifiedByTheLists(int status, string outcome, string? kind)
    {
        await using var backend = Backend.Http(status);
        var result = await Probe(Node(backend.Port, new ActiveCheckConfig { Timeout = 5 }));
        Assert.Equal(Enum.Parse<ProbeOutcome>(outcome), result.Outcome);
        if (kind is not null)
        {
            Assert.Equal(Enum.Parse<FailureKind>(kind), result.Kind);
            Assert.Equal($"probe got HTTP {status}", result.Reason);
        }
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task TheHttpRequestIsApisixs()
    {
        await using var backend = Backend.Http(200);
        var active = new ActiveCheckConfig { Timeout = 5, HttpPath = "/status?x=1", ReqHeaders = ["User-Agent: probe/1", "X-Check: yes"] };
        Assert.Equal(ProbeOutcome.Success, (await Probe(Node(backend.Port, active))).Outcome);
        Assert.Equal("GET /status?x=1 HTTP/1.1\r\nConnection: close\r\nUser-Agent: probe/1\r\nX-Check: yes\r\nHost: 127.0.0.1\r\n\r\n", Assert.Single(backend.Requests));
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task HostMethodAndBodyAreSent()
    {
        await using var backend = Backend.Answering("HTTP/1.0 200 OK\r\n\r\n", until: "ping");
        var active = new ActiveCheckConfig { Timeout = 5, Host = "api.example", HttpMethod = "POST", HttpReqBody = "ping" };
        Assert.Equal(ProbeOutcome.Success, (await Probe(Node(backend.Port, active))).Outcome);
        Assert.Equal("POST / HTTP/1.1\r\nConnection: close\r\nHost: api.example\r\nContent-Length: 4\r\n\r\nping", Assert.Single(backend.Requests));
    }

    [Fact]
    public void AHostHeaderInReqHeadersReplacesOurs()
    {
        var request = Encoding.ASCII.GetString(HealthProbe.Request(new ActiveCheckConfig { ReqHeaders = ["host: other"] }, "127.0.0.1"));
        Assert.Equal("GET / HTTP/1.1\r\nConnection: close\r\nhost: other\r\n\r\n", request);
        Assert.Contains("Host: [::1]\r\n", Encoding.ASCII.GetString(HealthProbe.Request(new ActiveCheckConfig(), "::1")), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("HTTP/1.1 200 OK", 200)]
    [InlineData("http/1.0 503", 503)]
    [InlineData("HTTP/1.1  204 No Content", 204)]
    [InlineData("SSH-2.0-OpenSSH_9.6", 0)]
    [InlineData("HTTP/1.1 OK", 0)]
    [InlineData("", 0)]
    public void StatusLines(string line, int status)
    {
        Assert.Equal(status, HealthProbe.StatusCode(Encoding.ASCII.GetBytes(line)));
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task AnythingButAStatusLineIsAnHttpFailure()
    {
        await using var backend = new Backend(async (socket, _) =>
        {
            await socket.SendAsync(Encoding.ASCII.GetBytes("SSH-2.0-OpenSSH_9.6\r\n"));
            await Backend.ReadUntilAsync(socket, "\r\n\r\n");
        });
        var result = await Probe(Node(backend.Port, new ActiveCheckConfig { Timeout = 5 }));
        Assert.Equal(FailureKind.Http, result.Kind);
        Assert.Equal("probe got no HTTP status line", result.Reason);
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task AConnectionClosedBeforeAStatusLineIsATcpFailure()
    {
        await using var backend = Backend.AcceptAndClose();
        var result = await Probe(Node(backend.Port, new ActiveCheckConfig { Timeout = 5 }));
        Assert.Equal(ProbeOutcome.Failure, result.Outcome);
        Assert.Equal(FailureKind.Tcp, result.Kind);
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task HttpsWithoutVerificationSucceedsOnASelfSignedCertificate()
    {
        using var certificate = SelfSigned("api.example");
        var names = new List<string>();
        await using var backend = TlsHttp(certificate, names);
        var active = new ActiveCheckConfig { Type = "https", Timeout = 5, Host = "api.example", HttpsVerifyCertificate = false };
        var result = await Probe(Node(backend.Port, active));
        Assert.Equal(ProbeOutcome.Success, result.Outcome);
        // The server name is host: SNI, as lua-resty-healthcheck sends it.
        Assert.Equal(["api.example"], names);
        Assert.Contains("Host: api.example\r\n", Assert.Single(backend.Requests), StringComparison.Ordinal);
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task HttpsWithVerificationFailsOnAnUntrustedCertificateAsATcpFailure()
    {
        using var certificate = SelfSigned("api.example");
        await using var backend = TlsHttp(certificate, []);
        var active = new ActiveCheckConfig { Type = "https", Timeout = 5, Host = "api.example" };
        var result = await Probe(Node(backend.Port, active));
        Assert.Equal(FailureKind.Tcp, result.Kind);
        Assert.Contains("TLS handshake failed", result.Reason, StringComparison.Ordinal);
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task ProbePortOverridesTheNodesPort()
    {
        await using var backend = Backend.AcceptAndClose();
        var result = await Probe(Node(1, Tcp with { Port = backend.Port }));
        Assert.Equal(ProbeOutcome.Success, result.Outcome);
        Assert.Equal(1, backend.Accepted);
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task StoppingAProbeThrowsInsteadOfReporting()
    {
        var time = new FakeTimeProvider();
        await using var backend = Backend.Silent();
        using var stop = new CancellationTokenSource();
        var probe = HealthProbe.RunAsync(Node(backend.Port, Tcp with { Expect = "x" }), time, stop.Token);
        await backend.WaitForAcceptedAsync(1);
        await stop.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => probe);
    }

    private static Backend TlsHttp(X509Certificate2 certificate, List<string> names) => new(async (socket, backend) =>
    {
        await using var tls = new SslStream(new NetworkStream(socket, ownsSocket: false));
        await tls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions
        {
            ServerCertificateSelectionCallback = (_, name) =>
            {
                lock (names)
                {
                    names.Add(name ?? "");
                }
                return certificate;
            },
        });
        var buffer = new byte[4096];
        var read = await tls.ReadAsync(buffer);
        backend.Record(Encoding.ASCII.GetString(buffer, 0, read));
        await tls.WriteAsync(Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\n\r\n"));
    });

    private static X509Certificate2 SelfSigned(string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName(name);
        request.CertificateExtensions.Add(san.Build());
        using var created = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        return X509CertificateLoader.LoadPkcs12(created.Export(X509ContentType.Pfx), null);
    }
}
