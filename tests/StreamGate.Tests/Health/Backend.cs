using System.Net;
using System.Net.Sockets;
using System.Text;

namespace StreamGate.Tests.Health;

/// <summary>
/// A loopback listener for probes to reach: counts the connections it accepts, keeps what each one sent, and answers
/// them as the test says (accept and close, an HTTP status, nothing at all).
/// </summary>
internal sealed class Backend : IAsyncDisposable
{
    private readonly Socket _listener;
    private readonly Func<Socket, Backend, Task> _handler;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private readonly List<Task> _handlers = [];
    private readonly Lock _lock = new();
    private readonly List<string> _requests = [];
    private int _accepted;

    public Backend(Func<Socket, Backend, Task> handler)
    {
        _handler = handler;
        _listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(128);
        Port = ((IPEndPoint)_listener.LocalEndPoint!).Port;
        _loop = AcceptAsync();
    }

    public int Port { get; }

    public int Accepted => Volatile.Read(ref _accepted);

    public IReadOnlyList<string> Requests
    {
        get
        {
            lock (_lock)
            {
                return [.. _requests];
            }
        }
    }

    /// <summary>Accepts and closes: a tcp probe's success.</summary>
    public static Backend AcceptAndClose() => new((_, _) => Task.CompletedTask);

    /// <summary>Accepts and says nothing until the probe gives up.</summary>
    public static Backend Silent() => new(async (socket, _) =>
    {
        var buffer = new byte[1024];
        while (await socket.ReceiveAsync(buffer) > 0)
        {
        }
    });

    /// <summary>Reads what the probe sends until <paramref name="until"/>, keeps it, then sends <paramref name="reply"/> and closes.</summary>
    public static Backend Answering(string reply, string until = "\r\n\r\n") => new(async (socket, backend) =>
    {
        var received = await ReadUntilAsync(socket, until);
        backend.Record(received);
        await socket.SendAsync(Encoding.ASCII.GetBytes(reply));
        socket.Shutdown(SocketShutdown.Both);
    });

    /// <summary>An HTTP server answering every request with <paramref name="status"/>.</summary>
    public static Backend Http(int status) => Answering($"HTTP/1.1 {status} Whatever\r\nContent-Length: 0\r\n\r\n");

    public void Record(string request)
    {
        lock (_lock)
        {
            _requests.Add(request);
        }
    }

    /// <summary>Waits (bounded) until at least <paramref name="count"/> connections were accepted.</summary>
    public async Task WaitForAcceptedAsync(int count, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(10));
        while (Accepted < count)
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"{Accepted} connections accepted, expected {count}");
            }
            await Task.Delay(5);
        }
    }

    public static async Task<string> ReadUntilAsync(Socket socket, string until)
    {
        var buffer = new byte[8192];
        var length = 0;
        while (length < buffer.Length)
        {
            var read = await socket.ReceiveAsync(buffer.AsMemory(length));
            if (read == 0)
            {
                break;
            }
            length += read;
            if (Encoding.ASCII.GetString(buffer, 0, length).Contains(until, StringComparison.Ordinal))
            {
                break;
            }
        }
        return Encoding.ASCII.GetString(buffer, 0, length);
    }

    private async Task AcceptAsync()
    {
        while (true)
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
            var task = Task.Run(async () =>
            {
                try
                {
                    await _handler(client, this);
                }
                catch (Exception e) when (e is SocketException or ObjectDisposedException or IOException)
                {
                }
                finally
                {
                    client.Dispose();
                }
            });
            lock (_lock)
            {
                _handlers.Add(task);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Dispose();
        await _loop;
        _stop.Dispose();
    }
}
