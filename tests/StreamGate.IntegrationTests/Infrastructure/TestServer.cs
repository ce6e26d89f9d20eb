using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace StreamGate.IntegrationTests.Infrastructure;

/// <summary>
/// A real TCP server on loopback whose per-connection behaviour a test supplies (echo, banner first, reset ...).
/// Records every accepted connection so tests can see what reached the upstream.
/// </summary>
internal sealed class TestServer : IAsyncDisposable
{
    private readonly Socket _listener;
    private readonly Func<Socket, Task> _handler;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _acceptLoop;
    private readonly ConcurrentBag<Task> _handlers = [];
    private int _accepted;

    /// <param name="port">0: any free port; else that one (SO_REUSEADDR: a server restarted on its old port, as a backend that comes back).</param>
    public TestServer(Func<Socket, Task> handler, IPAddress? address = null, int port = 0)
    {
        _handler = handler;
        Address = address ?? IPAddress.Loopback;
        _listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        _listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        _listener.Bind(new IPEndPoint(Address, port));
        _listener.Listen(2048);
        Port = ((IPEndPoint)_listener.LocalEndPoint!).Port;
        _acceptLoop = AcceptLoopAsync();
    }

    public int Port { get; }

    public IPAddress Address { get; }

    public string Node => $"{Address}:{Port}";

    public int Accepted => Volatile.Read(ref _accepted);

    public ConcurrentQueue<Exception> Errors { get; } = new();

    public static TestServer Echo(IPAddress? address = null, int port = 0) => new(EchoAsync, address, port);

    /// <summary>Answers every connection with its name first, then echoes (a server-speaks-first protocol).</summary>
    public static TestServer Named(string name, IPAddress? address = null, int port = 0) => new(async s =>
    {
        await s.SendAsync(Encoding.ASCII.GetBytes(name + "\n"));
        await EchoAsync(s);
    }, address, port);

    public static async Task EchoAsync(Socket socket)
    {
        var buffer = new byte[64 * 1024];
        while (true)
        {
            var n = await socket.ReceiveAsync(buffer);
            if (n == 0)
            {
                socket.Shutdown(SocketShutdown.Send);
                return;
            }
            await socket.SendAsync(buffer.AsMemory(0, n));
        }
    }

    private async Task AcceptLoopAsync()
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
            Interlocked.Increment(ref _accepted);
            _handlers.Add(Task.Run(async () =>
            {
                try
                {
                    await _handler(client);
                }
                catch (Exception e) when (e is SocketException or ObjectDisposedException or IOException)
                {
                    Errors.Enqueue(e);
                }
                finally
                {
                    client.Dispose();
                }
            }));
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Dispose();
        await _acceptLoop;
        _stop.Dispose();
    }
}
