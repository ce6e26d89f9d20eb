using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using StreamGate.IntegrationTests.Infrastructure;

namespace StreamGate.IntegrationTests.Admin;

/// <summary>How a traditional-mode gateway for admin tests is configured; the defaults are the common case.</summary>
internal sealed record AdminGatewayOptions
{
    public string ProxyMode { get; init; } = "stream";

    /// <summary>The YAML flow list for deployment.admin.allow_admin.</summary>
    public string AllowAdmin { get; init; } = "[127.0.0.0/24]";

    public bool Encrypt { get; init; } = true;

    /// <summary>deployment.sqlite.path; relative paths land in the gateway's temporary folder.</summary>
    public string SqlitePath { get; init; } = "data/streamgate.db";

    public long? MaxBodyBytes { get; init; }

    /// <summary>Runs the gateway under <c>ulimit -n</c> of this value (see <see cref="GatewayProcess.StartAsync"/>).</summary>
    public int? OpenFilesLimit { get; init; }
}

/// <summary>One admin API answer: status, parsed JSON body (null when not JSON) and the raw text.</summary>
internal sealed record AdminResponse(HttpStatusCode Status, JsonNode? Body, string Text, string? ContentType)
{
    public string? ErrorMessage => Body?["error_msg"]?.GetValue<string>();

    public string? Description => Body?["description"]?.GetValue<string>();

    /// <summary>Our explanation of a refused object (ours, beside APISIX's error_msg), or null.</summary>
    public string? Hint => Body?["hint"]?.GetValue<string>();

    public long ModifiedIndex => Body?["modifiedIndex"]?.GetValue<long>() ?? throw new InvalidOperationException($"no modifiedIndex in {Text}");

    public override string ToString() => $"{(int)Status} {Text}";
}

/// <summary>
/// The real gateway in traditional mode (admin API on an SQLite store, control API, one TCP listener), on free
/// loopback ports, with HTTP clients for the admin and control APIs and helpers to wait until a write is served.
/// </summary>
internal sealed class AdminGateway : IAsyncDisposable
{
    public const string AdminKey = "sg-it-admin-6b1f0c9e2d";
    public const string ViewerKey = "sg-it-viewer-3a7d5e8f14";
    public const string Keyring = "0123456789abcdef-keyring";

    /// <summary>How long a write may take to reach the data plane before a test fails (the target is 100 ms).</summary>
    public static readonly TimeSpan ApplyTimeout = TimeSpan.FromSeconds(5);

    private readonly HttpClient _http;
    private readonly HttpClient _control;

    private AdminGateway(GatewayProcess process, int proxyPort, int adminPort, int controlPort)
    {
        Process = process;
        ProxyPort = proxyPort;
        AdminPort = adminPort;
        ControlPort = controlPort;
        _http = CreateClient(adminPort);
        _control = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{controlPort}/"), Timeout = TimeSpan.FromSeconds(15) };
    }

    public GatewayProcess Process { get; }

    public int ProxyPort { get; }

    public int AdminPort { get; }

    public int ControlPort { get; }

    public string DataDirectory => Path.Combine(Process.Directory, "data");

    public static string Config(int proxyPort, int adminPort, int controlPort, AdminGatewayOptions options)
    {
        var maxBody = options.MaxBodyBytes is { } max ? $"\n    max_body_bytes: {max.ToString(CultureInfo.InvariantCulture)}" : "";
        var encryption = options.Encrypt ? $"\n  data_encryption: {{keyring: [\"{Keyring}\"]}}" : "";
        return $$"""
            apisix:
              proxy_mode: {{options.ProxyMode}}
              stream_proxy:
                tcp: ["127.0.0.1:{{proxyPort}}"]
              control: {ip: 127.0.0.1, port: {{controlPort}}}{{encryption}}
            deployment:
              role: traditional
              role_traditional: {config_provider: sqlite}
              sqlite: {path: "{{options.SqlitePath}}"}
              admin:
                admin_key:
                  - {name: admin, key: {{AdminKey}}, role: admin}
                  - {name: viewer, key: {{ViewerKey}}, role: viewer}
                admin_listen: {ip: 127.0.0.1, port: {{adminPort}}}
                allow_admin: {{options.AllowAdmin}}{{maxBody}}

            """;
    }

    public static async Task<AdminGateway> StartAsync(AdminGatewayOptions? options = null)
    {
        for (var attempt = 1; ; attempt++)
        {
            var proxyPort = Ports.GetFree();
            var adminPort = Ports.GetFree();
            var controlPort = Ports.GetFree();
            try
            {
                // Traditional mode reads no apisix.yaml; an empty one is written and ignored.
                options ??= new AdminGatewayOptions();
                var process = await GatewayProcess.StartAsync(Config(proxyPort, adminPort, controlPort, options), "", options.OpenFilesLimit);
                return new AdminGateway(process, proxyPort, adminPort, controlPort);
            }
            catch (InvalidOperationException e) when (attempt < 3 && e.Message.Contains("address already in use", StringComparison.OrdinalIgnoreCase))
            {
                // A free port was taken between probing and binding (parallel tests open connections too): new ports.
            }
        }
    }

    /// <summary>An HTTP client for the admin API, optionally connecting from a given loopback source address.</summary>
    public static HttpClient CreateClient(int adminPort, IPAddress? from = null)
    {
        var handler = new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromSeconds(30) };
        if (from is not null)
        {
            handler.ConnectCallback = async (context, cancellation) =>
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                try
                {
                    socket.Bind(new IPEndPoint(from, 0));
                    await socket.ConnectAsync(context.DnsEndPoint, cancellation);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            };
        }
        return new HttpClient(handler, disposeHandler: true)
        {
            BaseAddress = new Uri($"http://127.0.0.1:{adminPort}/apisix/admin/"),
            Timeout = TimeSpan.FromSeconds(15),
        };
    }

    /// <summary>Sends one admin request with the given key (admin by default, none when null).</summary>
    public Task<AdminResponse> SendAsync(HttpMethod method, string path, string? body = null, string? key = AdminKey) =>
        SendAsync(_http, method, path, body, key);

    public static async Task<AdminResponse> SendAsync(HttpClient client, HttpMethod method, string path, string? body = null, string? key = AdminKey)
    {
        using var request = new HttpRequestMessage(method, path);
        if (key is not null)
        {
            request.Headers.Add("X-API-KEY", key);
        }
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        }
        using var response = await client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        JsonNode? json = null;
        try
        {
            json = text.Length == 0 ? null : JsonNode.Parse(text);
        }
        catch (System.Text.Json.JsonException)
        {
        }
        return new AdminResponse(response.StatusCode, json, text, response.Content.Headers.ContentType?.MediaType);
    }

    public Task<AdminResponse> GetAsync(string path, string? key = AdminKey) => SendAsync(HttpMethod.Get, path, null, key);

    public Task<AdminResponse> PutAsync(string path, string body, string? key = AdminKey) => SendAsync(HttpMethod.Put, path, body, key);

    public Task<AdminResponse> PostAsync(string path, string body, string? key = AdminKey) => SendAsync(HttpMethod.Post, path, body, key);

    public Task<AdminResponse> PatchAsync(string path, string body, string? key = AdminKey) => SendAsync(HttpMethod.Patch, path, body, key);

    public Task<AdminResponse> DeleteAsync(string path, string? key = AdminKey) => SendAsync(HttpMethod.Delete, path, null, key);

    /// <summary>Writes (PUT or PATCH), asserts success, and waits until the data plane serves that write.</summary>
    public async Task<AdminResponse> WriteAndWaitAsync(HttpMethod method, string path, string body)
    {
        var written = await SendAsync(method, path, body);
        Assert.True(written.Status is HttpStatusCode.OK or HttpStatusCode.Created, $"{method} {path}: {written}");
        var stored = await GetAsync(path);
        Assert.Equal(HttpStatusCode.OK, stored.Status);
        await WaitForRevisionAsync(stored.ModifiedIndex);
        return written;
    }

    /// <summary>GET on the control API (no key: it is read-only and on its own port).</summary>
    public async Task<(HttpStatusCode Status, JsonNode? Body)> ControlAsync(string path)
    {
        using var response = await _control.GetAsync(new Uri(path, UriKind.Relative));
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text));
    }

    public async Task<long> RevisionAsync()
    {
        var (status, body) = await ControlAsync("v1/config");
        Assert.Equal(HttpStatusCode.OK, status);
        return body!["revision"]!.GetValue<long>();
    }

    /// <summary>Waits (bounded) until the data plane serves store revision <paramref name="revision"/> or later.</summary>
    public Task WaitForRevisionAsync(long revision) =>
        WaitForControlAsync("v1/config", (_, body) => body?["revision"]?.GetValue<long>() >= revision, $"revision {revision}");

    /// <summary>Polls a control API path until <paramref name="condition"/> holds, for at most <see cref="ApplyTimeout"/>.</summary>
    public async Task WaitForControlAsync(string path, Func<HttpStatusCode, JsonNode?, bool> condition, string what)
    {
        var watch = Stopwatch.StartNew();
        while (true)
        {
            var (status, body) = await ControlAsync(path);
            if (condition(status, body))
            {
                return;
            }
            if (watch.Elapsed > ApplyTimeout)
            {
                Assert.Fail($"the data plane did not reach {what} within {ApplyTimeout}; control {path}: {(int)status} {body?.ToJsonString()}");
            }
            await Task.Delay(20);
        }
    }

    /// <summary>
    /// Connects to the gateway's TCP listener and reads the first line a <see cref="TestServer.Named"/> upstream
    /// sends; null when the gateway closed the connection without sending a byte (no route).
    /// </summary>
    public Task<string?> FirstLineAsync(IPAddress? from = null) => FirstLineAsync(ProxyPort, from);

    public static async Task<string?> FirstLineAsync(int port, IPAddress? from = null)
    {
        using var client = await GatewayProcess.ConnectAsync(IPAddress.Loopback, port, from);
        return await ReadLineOrNullAsync(client);
    }

    public static async Task<string?> ReadLineOrNullAsync(Socket client)
    {
        var line = new StringBuilder();
        var buffer = new byte[1];
        using var timeout = new CancellationTokenSource(SocketExtensions.DefaultTimeout);
        while (true)
        {
            int n;
            try
            {
                n = await client.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset && line.Length == 0)
            {
                return null;
            }
            if (n == 0)
            {
                return line.Length == 0 ? null : throw new EndOfStreamException($"closed after \"{line}\" without a newline");
            }
            if (buffer[0] == (byte)'\n')
            {
                return line.ToString();
            }
            line.Append((char)buffer[0]);
        }
    }

    /// <summary>Every byte of the SQLite store (database, WAL and shared-memory files) as Latin-1 text.</summary>
    public string StoreBytes()
    {
        var text = new StringBuilder();
        foreach (var file in Directory.EnumerateFiles(DataDirectory))
        {
            using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var memory = new MemoryStream();
            stream.CopyTo(memory);
            text.Append(Encoding.Latin1.GetString(memory.ToArray()));
        }
        return text.ToString();
    }

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        _control.Dispose();
        await Process.DisposeAsync();
    }
}

/// <summary>One gateway shared by the tests of a class; each test uses its own ids so they do not interfere.</summary>
public sealed class AdminGatewayFixture : IAsyncLifetime
{
    private AdminGateway? _gateway;

    internal AdminGateway Gateway => _gateway ?? throw new InvalidOperationException("the gateway is not started");

    /// <summary>Small enough to test the body cap, big enough for a certificate and its key.</summary>
    internal const long MaxBodyBytes = 16 * 1024;

    public async Task InitializeAsync() => _gateway = await AdminGateway.StartAsync(new AdminGatewayOptions { MaxBodyBytes = MaxBodyBytes });

    public async Task DisposeAsync()
    {
        if (_gateway is not null)
        {
            await _gateway.DisposeAsync();
        }
    }
}
