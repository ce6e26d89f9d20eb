using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using StreamGate.Config;
using StreamGate.Proxy.Preread;
using StreamGate.Proxy.Tcp;
using StreamGate.Routing;
using StreamGate.Runtime;
using StreamGate.Upstreams;

namespace StreamGate.Tests.Proxy;

/// <summary>
/// The real TCP data plane (workers, epoll, sockets on loopback) in the test process, so a test can give it
/// routes and preread hooks built in code, which no configuration can name yet.
/// </summary>
internal sealed class InProcessProxy : IAsyncDisposable
{
    private readonly TcpProxyServer _server;

    private InProcessProxy(TcpProxyServer server, SnapshotHolder snapshots, int port)
    {
        _server = server;
        Snapshots = snapshots;
        Port = port;
    }

    public SnapshotHolder Snapshots { get; }

    public int Port { get; }

    public static InProcessProxy Start(IReadOnlyList<StreamRoute> routes, IPrereadHook[]? listenerHooks = null)
    {
        var snapshots = new SnapshotHolder();
        snapshots.Apply(new RuntimeSnapshot(new RouteTable(routes), ConfigSet.Empty, 1));
        var port = FreePort();
        var config = new GatewayConfig
        {
            ConfigPath = Path.Combine(Path.GetTempPath(), "config.yaml"),
            TcpListeners = [new ListenEntry(TestData.Ip("127.0.0.1"), port)],
            Workers = 1,
        };
        var server = new TcpProxyServer(config, snapshots, accessLog: null, NullLogger.Instance, listenerHooks: _ => listenerHooks ?? []);
        server.Start();
        return new InProcessProxy(server, snapshots, port);
    }

    public static StreamRoute Route(string id, Upstream upstream, string? remote = null, params IPrereadHook[] hooks) =>
        new(id, remote is null ? null : TestData.Prefix(remote), null, 0, upstream) { PrereadHooks = hooks };

    public static Upstream UpstreamTo(int port, string id = "u") => TestData.NewUpstream(id, TestData.Node(port));

    public async Task<Socket> ConnectAsync()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, Port), timeout.Token);
        return socket;
    }

    public int ActiveConnections => _server.ActiveConnections;

    private static int FreePort()
    {
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)probe.LocalEndPoint!).Port;
    }

    public async ValueTask DisposeAsync()
    {
        await _server.StopAcceptingAsync();
        await _server.DrainAsync(TimeSpan.Zero, CancellationToken.None);
        await _server.DisposeAsync();
    }
}

/// <summary>A loopback server that records what each connection sent and echoes it (optionally with a banner first).</summary>
internal sealed class RecordingServer : IDisposable
{
    private readonly Socket _listener;
    private readonly CancellationTokenSource _stop = new();

    public RecordingServer(string? banner = null)
    {
        _listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(64);
        Port = ((IPEndPoint)_listener.LocalEndPoint!).Port;
        _ = AcceptAsync(banner);
    }

    public int Port { get; }

    public int Accepted;

    private async Task AcceptAsync(string? banner)
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }
            Interlocked.Increment(ref Accepted);
            _ = Task.Run(async () =>
            {
                using var _ = client;
                try
                {
                    if (banner is not null)
                    {
                        await client.SendAsync(System.Text.Encoding.ASCII.GetBytes(banner));
                    }
                    var buffer = new byte[4096];
                    int n;
                    while ((n = await client.ReceiveAsync(buffer)) > 0)
                    {
                        await client.SendAsync(buffer.AsMemory(0, n));
                    }
                    client.Shutdown(SocketShutdown.Send);
                }
                catch (SocketException)
                {
                }
            });
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Dispose();
    }
}

internal static class SocketText
{
    public static Task<int> SendAsync(this Socket socket, string text) => socket.SendAsync(System.Text.Encoding.ASCII.GetBytes(text));

    /// <summary>Reads until <paramref name="length"/> bytes or the end of the stream; a reset counts as the end.</summary>
    public static async Task<string> ReceiveAsync(this Socket socket, int length)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var buffer = new byte[length];
        var read = 0;
        try
        {
            while (read < length)
            {
                var n = await socket.ReceiveAsync(buffer.AsMemory(read), SocketFlags.None, timeout.Token);
                if (n == 0)
                {
                    break;
                }
                read += n;
            }
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
        {
        }
        return System.Text.Encoding.ASCII.GetString(buffer, 0, read);
    }
}
