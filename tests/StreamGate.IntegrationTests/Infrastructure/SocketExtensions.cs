using System.Net.Sockets;
using System.Text;

namespace StreamGate.IntegrationTests.Infrastructure;

/// <summary>Socket helpers for tests; every wait is bounded so that a hang fails the test instead of CI.</summary>
internal static class SocketExtensions
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(15);

    public static async Task SendTextAsync(this Socket socket, string text) =>
        await socket.SendAsync(Encoding.ASCII.GetBytes(text)).WaitAsync(DefaultTimeout);

    /// <summary>Reads exactly <paramref name="count"/> bytes, or throws when the peer closes first.</summary>
    public static async Task<byte[]> ReceiveExactlyAsync(this Socket socket, int count, TimeSpan? timeout = null)
    {
        var buffer = new byte[count];
        var read = 0;
        using var cts = new CancellationTokenSource(timeout ?? DefaultTimeout);
        while (read < count)
        {
            var n = await socket.ReceiveAsync(buffer.AsMemory(read), SocketFlags.None, cts.Token);
            if (n == 0)
            {
                throw new EndOfStreamException($"peer closed after {read} of {count} bytes");
            }
            read += n;
        }
        return buffer;
    }

    public static async Task<string> ReceiveTextAsync(this Socket socket, int count) =>
        Encoding.ASCII.GetString(await socket.ReceiveExactlyAsync(count));

    /// <summary>Reads until the peer's FIN; returns everything read.</summary>
    public static async Task<byte[]> ReceiveToEndAsync(this Socket socket, TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? DefaultTimeout);
        using var all = new MemoryStream();
        var buffer = new byte[64 * 1024];
        while (true)
        {
            var n = await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
            if (n == 0)
            {
                return all.ToArray();
            }
            all.Write(buffer, 0, n);
        }
    }

    /// <summary>Waits for the connection to end and tells how: FIN (0 bytes read) or reset.</summary>
    public static async Task<ConnectionEnd> WaitForEndAsync(this Socket socket, TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? DefaultTimeout);
        var buffer = new byte[16 * 1024];
        try
        {
            while (await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token) > 0)
            {
            }
            return ConnectionEnd.Closed;
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
        {
            return ConnectionEnd.Reset;
        }
    }

    /// <summary>Closes with RST instead of FIN (SO_LINGER 0).</summary>
    public static void Reset(this Socket socket)
    {
        socket.LingerState = new LingerOption(true, 0);
        socket.Close();
    }
}

internal enum ConnectionEnd
{
    Closed,
    Reset,
}
