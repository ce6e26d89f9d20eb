using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;

namespace StreamGate.Tests.Proxy.Protocols;

/// <summary>
/// ClientHellos captured from real clients (openssl s_client, .NET's SslStream, curl) by a listener on loopback that
/// reads the first handshake message and closes. The listener frames the records itself, independently of the
/// parser under test. Each capture is made once per test run and shared.
/// </summary>
internal static class RealHellos
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);
    private static readonly ConcurrentDictionary<string, Lazy<Task<byte[]>>> s_cache = new();

    /// <summary>TLS 1.3 (and only 1.3) with SNI and ALPN, from OpenSSL.</summary>
    public static Task<byte[]> OpenSslTls13 => OpenSsl("-servername", "tls13.example.test", "-alpn", "h2,http/1.1", "-tls1_3");

    /// <summary>TLS 1.2 only, with SNI and without ALPN: no supported_versions extension.</summary>
    public static Task<byte[]> OpenSslTls12 => OpenSsl("-servername", "tls12.example.test", "-tls1_2");

    /// <summary>No server_name at all (an IP address to connect to, and -noservername).</summary>
    public static Task<byte[]> OpenSslNoSni => OpenSsl("-noservername", "-alpn", "http/1.1");

    public static Task<byte[]> DotNet => Cached("sslstream", (port, done) => SslStreamClientAsync(port, "dotnet.example.test", done));

    public static Task<byte[]> Curl => Cached("curl", (port, done) => RunAsync("curl", ["-sk", "--http2", "--max-time", "10",
        "--resolve", $"curl.example.test:{port}:127.0.0.1", $"https://curl.example.test:{port}/"], done));

    public static bool CurlInstalled => OnPath("curl");

    /// <summary>Every capture this machine can make, for the tests that hold for any real hello.</summary>
    public static async Task<IReadOnlyList<(string Client, byte[] Hello)>> AllAsync()
    {
        var list = new List<(string, byte[])>
        {
            ("openssl -tls1_3", await OpenSslTls13),
            ("openssl -tls1_2", await OpenSslTls12),
            ("openssl -noservername", await OpenSslNoSni),
            ("SslStream", await DotNet),
        };
        if (CurlInstalled)
        {
            list.Add(("curl", await Curl));
        }
        return list;
    }

    private static Task<byte[]> OpenSsl(params string[] args) =>
        Cached("openssl " + string.Join(' ', args), (port, done) => RunAsync("openssl", ["s_client", "-connect", $"127.0.0.1:{port}", .. args], done));

    private static Task<byte[]> Cached(string key, Func<int, CancellationToken, Task> client) =>
        s_cache.GetOrAdd(key, _ => new Lazy<Task<byte[]>>(() => CaptureAsync(client))).Value;

    private static async Task<byte[]> CaptureAsync(Func<int, CancellationToken, Task> startClient)
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        using var timeout = new CancellationTokenSource(Timeout);
        using var done = new CancellationTokenSource();
        var client = startClient(port, done.Token);
        byte[] hello;
        using (var socket = await listener.AcceptSocketAsync(timeout.Token))
        await using (var stream = new NetworkStream(socket, ownsSocket: false))
        {
            hello = await ReadHandshakeMessageAsync(stream, timeout.Token);
        }
        await done.CancelAsync();
        try
        {
            await client.WaitAsync(timeout.Token);
        }
        catch (Exception e) when (e is IOException or AuthenticationException or SocketException or OperationCanceledException)
        {
            // The listener hung up mid-handshake: the client's failure is expected.
        }
        return hello;
    }

    /// <summary>Reads whole records until they hold the first handshake message (its 24-bit length says when).</summary>
    private static async Task<byte[]> ReadHandshakeMessageAsync(NetworkStream stream, CancellationToken cancel)
    {
        var records = new List<byte>();
        var message = new List<byte>();
        var header = new byte[5];
        while (message.Count < 4 || message.Count < 4 + ((message[1] << 16) | (message[2] << 8) | message[3]))
        {
            await stream.ReadExactlyAsync(header, cancel);
            if (header[0] != 22)
            {
                throw new InvalidDataException($"the client sent record type {header[0]} before its hello ended");
            }
            var payload = new byte[(header[3] << 8) | header[4]];
            await stream.ReadExactlyAsync(payload, cancel);
            records.AddRange(header);
            records.AddRange(payload);
            message.AddRange(payload);
        }
        return [.. records];
    }

    private static async Task SslStreamClientAsync(int port, string host, CancellationToken done)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, port, done);
        await using var tls = new SslStream(tcp.GetStream());
        await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = host,
            ApplicationProtocols = [SslApplicationProtocol.Http2, SslApplicationProtocol.Http11],
        }, done);
    }

    /// <summary>Runs a client program until the listener has its hello (<paramref name="done"/>), then kills it.</summary>
    private static async Task RunAsync(string file, string[] args, CancellationToken done)
    {
        var info = new ProcessStartInfo(file)
        {
            UseShellExecute = false,
            // openssl s_client reads what to send from stdin: an open, silent stdin keeps it waiting, not quitting.
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"cannot start {file}");
        // Drained so a chatty client never blocks on a full pipe; ends when the process does.
        var output = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
        var errors = process.StandardError.ReadToEndAsync(CancellationToken.None);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(done);
        stop.CancelAfter(Timeout);
        try
        {
            await process.WaitForExitAsync(stop.Token);
        }
        catch (OperationCanceledException)
        {
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }
        await output;
        await errors;
    }

    private static bool OnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Any(dir => File.Exists(Path.Combine(dir, program)));
}
