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

    public TestServer(Func<Socket, Task> handler, IPAddress? address = null)
    {
        _handler = handler;
        _listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        _listener.Bind(new IPEndPoint(address ?? IPAddress.Loopback, 0));
        _listener.Listen(2048);
        Port = ((IPEndPoint)_listener.LocalEndPoint!).Port;
        _acceptLoop = AcceptLoopAsync();
    }

    public int Port { get; }

    public string Node => $"127.0.0.1:{Port}";

    public int Accepted => Volatile.Read(ref _accepted);

    public ConcurrentQueue<Exception> Errors { get; } = new();

    public static TestServer Echo() => new(EchoAsync);

    /// <summary>Answers every connection with its name first, then echoes (a server-speaks-first protocol).</summary>
    public static TestServer Named(string name) => new(async s =>
    {
        await s.SendAsync(Encoding.ASCII.GetBytes(name + "\n"));
        await EchoAsync(s);
    });

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
