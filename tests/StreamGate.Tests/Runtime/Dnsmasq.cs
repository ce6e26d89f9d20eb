using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace StreamGate.Tests.Runtime;

/// <summary>
/// A dnsmasq (Debian's dnsmasq package; scripts/test.sh installs it) serving only what a test gives it, on a free
/// loopback port: no upstream servers, no /etc/hosts, names under <c>test</c> local (an unknown one is NXDOMAIN).
/// Records are <c>--host-record=name,address[,ttl]</c>, or lines of a hosts directory it re-reads on change
/// (answered with <c>--local-ttl</c>).
/// </summary>
internal sealed class Dnsmasq : IAsyncDisposable
{
    private readonly Process _process;
    private bool _disposed;

    private Dnsmasq(Process process, int port, string directory)
    {
        _process = process;
        Port = port;
        Directory = directory;
    }

    public int Port { get; }

    public IPEndPoint EndPoint => new(IPAddress.Loopback, Port);

    /// <summary>A folder of the test's own (the hosts directory is inside it as <c>hosts.d</c>).</summary>
    public string Directory { get; }

    public string HostsDirectory => Path.Combine(Directory, "hosts.d");

    public static async Task<Dnsmasq> StartAsync(params string[] arguments)
    {
        const string Binary = "/usr/sbin/dnsmasq";
        Assert.True(File.Exists(Binary), "dnsmasq is not installed: apt-get install -y dnsmasq (scripts/test.sh installs it)");
        var directory = Path.Combine(Path.GetTempPath(), "streamgate-dnsmasq-" + Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(Path.Combine(directory, "hosts.d"));
        for (var attempt = 0; ; attempt++)
        {
            var port = FreeUdpPort();
            var start = new ProcessStartInfo(Binary)
            {
                RedirectStandardError = true,
                RedirectStandardOutput = true,
                UseShellExecute = false,
            };
            foreach (var argument in (string[])[
                "--no-daemon", "--conf-file=/dev/null", $"--port={port}", "--listen-address=127.0.0.1", "--bind-interfaces",
                "--no-resolv", "--no-hosts", "--local=/test/", $"--pid-file={Path.Combine(directory, "dnsmasq.pid")}",
                $"--hostsdir={Path.Combine(directory, "hosts.d")}", "--user=root", .. arguments])
            {
                start.ArgumentList.Add(argument);
            }
            var process = Process.Start(start)!;
            var server = new Dnsmasq(process, port, directory);
            if (await server.AnswersAsync())
            {
                return server;
            }
            var error = process.HasExited ? await process.StandardError.ReadToEndAsync() : "no answer";
            await server.DisposeAsync();
            if (attempt == 4)
            {
                Assert.Fail($"dnsmasq did not start on port {port}: {error}");
            }
        }
    }

    /// <summary>Asks for <c>ready.test</c> until any answer comes (NXDOMAIN is one): the server is listening.</summary>
    private async Task<bool> AnswersAsync()
    {
        using var socket = new UdpClient(AddressFamily.InterNetwork);
        byte[] query = [0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 5, .. "ready"u8, 4, .. "test"u8, 0, 0, 1, 0, 1];
        for (var i = 0; i < 50 && !_process.HasExited; i++)
        {
            await socket.SendAsync(query, EndPoint);
            using var wait = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
            try
            {
                await socket.ReceiveAsync(wait.Token);
                return true;
            }
            catch (OperationCanceledException)
            {
            }
        }
        return false;
    }

    private static int FreeUdpPort()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }

    /// <summary>Writes a hosts file into the watched directory (dnsmasq reads it again within a moment, by inotify).</summary>
    public async Task WriteHostsAsync(string text)
    {
        var path = Path.Combine(HostsDirectory, "records");
        var temporary = path + ".tmp";
        await File.WriteAllTextAsync(temporary, text);
        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>Stops the server; a test that takes the resolver away mid-test may call it before its <c>await using</c> does.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        if (!_process.HasExited)
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
