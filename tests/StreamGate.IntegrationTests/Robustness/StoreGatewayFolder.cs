using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using StreamGate.IntegrationTests.Infrastructure;

namespace StreamGate.IntegrationTests.Robustness;

/// <summary>
/// A folder holding a traditional-mode config.yaml (admin API + embedded SQLite store under data/) that outlives
/// the gateway processes started on it (<see cref="GatewayProcess.StartInAsync"/>), so a test can kill one and
/// start the next on the same database.
/// </summary>
internal sealed class StoreGatewayFolder : IDisposable
{
    private StoreGatewayFolder(string directory, int proxyPort, int adminPort, int controlPort, string adminKey)
    {
        Directory = directory;
        ProxyPort = proxyPort;
        AdminPort = adminPort;
        ControlPort = controlPort;
        AdminKey = adminKey;
    }

    public string Directory { get; }

    public int ProxyPort { get; }

    public int AdminPort { get; }

    public int ControlPort { get; }

    public string AdminKey { get; }

    public string ConfigPath => Path.Combine(Directory, "config.yaml");

    public string DatabasePath => Path.Combine(Directory, "data", "streamgate.db");

    /// <param name="apisixExtra">Lines added under <c>apisix:</c> (indented two spaces).</param>
    /// <param name="adminExtra">Lines added under <c>deployment.admin:</c> (indented four spaces).</param>
    public static StoreGatewayFolder Create(string apisixExtra = "", string adminExtra = "")
    {
        var directory = Path.Combine(Path.GetTempPath(), "streamgate-robust-" + Guid.NewGuid().ToString("N")[..12]);
        System.IO.Directory.CreateDirectory(directory);
        var folder = new StoreGatewayFolder(directory, Ports.GetFree(), Ports.GetFree(), Ports.GetFree(), "robust-" + Guid.NewGuid().ToString("N"));
        var config = string.Join('\n',
            "apisix:",
            "  proxy_mode: stream",
            "  stream_proxy:",
            $"    tcp: [\"127.0.0.1:{folder.ProxyPort}\"]",
            $"  control: {{ip: 127.0.0.1, port: {folder.ControlPort}}}",
            apisixExtra,
            "deployment:",
            "  role: traditional",
            "  role_traditional: {config_provider: sqlite}",
            "  sqlite: {path: data/streamgate.db}",
            "  admin:",
            $"    admin_key: [{{name: admin, key: {folder.AdminKey}, role: admin}}]",
            $"    admin_listen: {{ip: 127.0.0.1, port: {folder.AdminPort}}}",
            adminExtra,
            "");
        File.WriteAllText(folder.ConfigPath, config);
        return folder;
    }

    public void Dispose()
    {
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>A response of the admin (or control) API: status and body text; <see cref="Json"/> parses the body.</summary>
internal sealed record HttpReply(int Status, string Body)
{
    public bool IsSuccess => Status is >= 200 and < 300;

    public JsonNode? Json => JsonNode.Parse(Body);

    public override string ToString() => $"{Status} {(Body.Length > 300 ? Body[..300] + "..." : Body)}";
}

/// <summary>
/// HTTP client for the admin API with X-API-KEY. Paths are sent as given (no dot-segment removal, no escaping)
/// so tests can send hostile paths exactly.
/// </summary>
internal sealed class AdminHttp : IDisposable
{
    private static readonly UriCreationOptions Raw = new() { DangerousDisablePathAndQueryCanonicalization = true };

    private readonly HttpClient _client;
    private readonly string _origin;
    private readonly string? _key;

    public AdminHttp(int port, string? key, TimeSpan? timeout = null)
    {
        // Expect: 100-continue waits for the server's word before sending a body; the default 1 s is shorter than a
        // cold gateway's first answer, after which the client sends anyway.
        _client = new HttpClient(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5), Expect100ContinueTimeout = TimeSpan.FromSeconds(10) })
        {
            Timeout = timeout ?? TimeSpan.FromSeconds(15),
        };
        _origin = $"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}";
        _key = key;
    }

    public static AdminHttp For(StoreGatewayFolder folder) => new(folder.AdminPort, folder.AdminKey);

    public Task<HttpReply> SendAsync(string method, string pathAndQuery, string? body = null, CancellationToken cancellation = default) =>
        SendAsync(method, pathAndQuery, body is null ? null : Encoding.UTF8.GetBytes(body), chunked: false, cancellation: cancellation);

    public async Task<HttpReply> SendAsync(string method, string pathAndQuery, byte[]? body, bool chunked, bool expectContinue = false, CancellationToken cancellation = default)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), new Uri(_origin + pathAndQuery, Raw));
        request.Headers.ExpectContinue = expectContinue;
        // A server may answer before reading a large body and then close the connection instead of draining it
        // (Kestrel does past max_body_bytes): never reuse such a connection, or the next request races that close.
        request.Headers.ConnectionClose = body is { Length: > 64 * 1024 };
        if (_key is not null)
        {
            request.Headers.TryAddWithoutValidation("X-API-KEY", _key);
        }
        if (body is not null)
        {
            HttpContent content = chunked ? new StreamContent(new UnknownLengthStream(body)) : new ByteArrayContent(body);
            content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            request.Content = content;
        }
        using var response = await _client.SendAsync(request, cancellation);
        var text = await response.Content.ReadAsStringAsync(cancellation);
        return new HttpReply((int)response.StatusCode, text);
    }

    public Task<HttpReply> GetAsync(string pathAndQuery) => SendAsync("GET", pathAndQuery);

    public Task<HttpReply> PutAsync(string pathAndQuery, string body) => SendAsync("PUT", pathAndQuery, body);

    /// <summary>Every object of a collection, read page by page (page_size 500), keyed by its store key.</summary>
    public async Task<Dictionary<string, JsonObject>> ListAllAsync(string resource)
    {
        var all = new Dictionary<string, JsonObject>(StringComparer.Ordinal);
        for (var page = 1; ; page++)
        {
            var reply = await GetAsync($"/apisix/admin/{resource}?page={page}&page_size=500");
            Assert.True(reply.Status == 200, $"listing {resource} page {page}: {reply}");
            var json = reply.Json!.AsObject();
            var list = json["list"]!.AsArray();
            foreach (var item in list)
            {
                var envelope = item!.AsObject();
                Assert.True(all.TryAdd(envelope["key"]!.GetValue<string>(), envelope), $"{resource}: key {envelope["key"]} listed twice");
            }
            var total = json["total"]!.GetValue<int>();
            if (list.Count < 500 || all.Count >= total)
            {
                Assert.Equal(total, all.Count);
                return all;
            }
        }
    }

    public void Dispose() => _client.Dispose();

    /// <summary>A read-only stream that does not report its length, so HttpClient sends the body chunked.</summary>
    private sealed class UnknownLengthStream(byte[] data) : MemoryStream(data, writable: false)
    {
        public override bool CanSeek => false;
    }
}

/// <summary>The control API (read-only): what the data plane serves now.</summary>
internal static class ControlHttp
{
    public static async Task<JsonObject> ConfigAsync(int controlPort)
    {
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var text = await client.GetStringAsync(new Uri($"http://127.0.0.1:{controlPort.ToString(CultureInfo.InvariantCulture)}/v1/config"));
        return JsonNode.Parse(text)!.AsObject();
    }

    /// <summary>The control API's Prometheus text (GET /v1/metrics), one sample line per entry: "name{labels} value".</summary>
    public static async Task<string[]> MetricsAsync(int controlPort)
    {
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        using var response = await client.GetAsync(new Uri($"http://127.0.0.1:{controlPort.ToString(CultureInfo.InvariantCulture)}/v1/metrics"));
        Assert.Equal("text/plain; version=0.0.4; charset=utf-8", response.Content.Headers.ContentType?.ToString());
        var text = await response.Content.ReadAsStringAsync();
        return [.. text.Split('\n').Where(l => l.Length > 0 && l[0] != '#')];
    }
}

/// <summary>Reads the marker a <see cref="TestServer.Named"/> backend sends first, through the gateway; null if the gateway closes instead.</summary>
internal static class Through
{
    public static async Task<string?> FirstLineAsync(int port)
    {
        try
        {
            using var client = await GatewayProcess.ConnectAsync(IPAddress.Loopback, port);
            var bytes = await client.ReceiveToEndOrLineAsync();
            return bytes;
        }
        catch (Exception e) when (e is System.Net.Sockets.SocketException or EndOfStreamException or OperationCanceledException)
        {
            return null;
        }
    }

    /// <summary>Polls new connections until one reads <paramref name="marker"/> (bounded).</summary>
    public static async Task WaitForMarkerAsync(int port, string marker, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        string? last = null;
        while (DateTime.UtcNow < deadline)
        {
            last = await FirstLineAsync(port);
            if (last == marker)
            {
                return;
            }
            await Task.Delay(20);
        }
        Assert.Fail($"no connection through port {port} read \"{marker}\" within {timeout}; last read: {last ?? "(closed)"}");
    }

    private static async Task<string?> ReceiveToEndOrLineAsync(this System.Net.Sockets.Socket socket)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        var buffer = new byte[256];
        var read = 0;
        while (read < buffer.Length)
        {
            var n = await socket.ReceiveAsync(buffer.AsMemory(read), System.Net.Sockets.SocketFlags.None, cts.Token);
            if (n == 0)
            {
                break;
            }
            read += n;
            var newline = Array.IndexOf(buffer, (byte)'\n', 0, read);
            if (newline >= 0)
            {
                return Encoding.ASCII.GetString(buffer, 0, newline);
            }
        }
        return read == 0 ? null : Encoding.ASCII.GetString(buffer, 0, read);
    }
}
