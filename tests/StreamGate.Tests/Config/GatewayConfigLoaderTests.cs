using System.Text.Json.Nodes;
using StreamGate.Config;
using StreamGate.Routing;

namespace StreamGate.Tests.Config;

public class GatewayConfigLoaderTests
{
    private const string DataPlane = """
        deployment:
          role: data_plane
          role_data_plane:
            config_provider: yaml

        """;

    private static GatewayConfig Parse(string yaml) => GatewayConfigLoader.Parse(yaml, "/etc/streamgate/config.yaml");

    private static IReadOnlyList<ConfigError> Errors(string yaml) => ConfigAssert.Throws(() => Parse(yaml));

    private static string Tcp(params string[] entries) =>
        DataPlane + "apisix:\n  proxy_mode: stream\n  stream_proxy:\n    tcp:\n" + string.Concat(entries.Select(e => $"      - {e}\n"));

    [Fact]
    public void EmptyFileGivesDefaultsButAnAdminKey()
    {
        // The default role runs the admin API, which never runs without a key (AdminKeyConfigTests).
        ConfigAssert.Has(Errors(""), "deployment.admin.admin_key", "would run without a key");
        var config = Parse("deployment:\n  admin:\n    admin_key: [{name: admin, key: a-long-secret-for-tests, role: admin}]\n");
        // APISIX's default proxy_mode is http: stream only when config.yaml asks for it.
        Assert.Equal("http", config.ProxyMode);
        Assert.False(config.StreamEnabled);
        Assert.Empty(config.TcpListeners);
        Assert.False(config.AccessLog.Enabled);
        Assert.Equal(AccessLogOptions.DefaultFormat, config.AccessLog.Format);
        Assert.Equal(TimeSpan.FromSeconds(30), config.ShutdownGrace);
        Assert.Equal(Environment.ProcessorCount, config.Workers);
        Assert.Equal("/etc/streamgate/config.yaml", config.ConfigPath);
        Assert.Equal("/etc/streamgate/apisix.yaml", config.StandalonePath);
    }

    [Theory]
    [InlineData("9100", null, 9100)]
    [InlineData("\"127.0.0.1:9101\"", "127.0.0.1", 9101)]
    [InlineData("\"[::1]:9102\"", "::1", 9102)]
    [InlineData("\"9103\"", null, 9103)]
    [InlineData("{addr: 9104}", null, 9104)]
    [InlineData("{addr: \"10.0.0.1:9105\", tls: false}", "10.0.0.1", 9105)]
    [InlineData("65535", null, 65535)]
    public void TcpEntryForms(string entry, string? address, int port)
    {
        var listener = Assert.Single(Parse(Tcp(entry)).TcpListeners);
        Assert.Equal(port, listener.Port);
        if (address is null)
        {
            Assert.Null(listener.Address);
        }
        else
        {
            Assert.True(IpAddr.TryParse(address, out var expected));
            Assert.Equal(expected, listener.Address);
        }
    }

    [Fact]
    public void PortRangesExpandToEveryPort()
    {
        var listeners = Parse(Tcp("\"9100-9102\"", "\"127.0.0.1:9200-9201\"", "\"[::1]:9300-9300\"")).TcpListeners;
        Assert.Equal(["*:9100", "*:9101", "*:9102", "127.0.0.1:9200", "127.0.0.1:9201", "[::1]:9300"], listeners.Select(l => l.ToString()));
    }

    [Theory]
    [InlineData("0")]
    [InlineData("70000")]
    [InlineData("\"abc\"")]
    [InlineData("\"localhost:9100\"")]
    [InlineData("\"9102-9100\"")]
    [InlineData("\"9100-\"")]
    [InlineData("\"-9100\"")]
    [InlineData("\"1.2.3.4:\"")]
    [InlineData("\"10:9100\"")]
    [InlineData("\"1-2000\"")]
    [InlineData("\"+9100\"")]
    [InlineData("\"::1:9100\"")]
    public void InvalidTcpEntryNamesItsIndex(string entry)
    {
        var errors = Errors(Tcp("9000", entry));
        ConfigAssert.Single(errors, "apisix.stream_proxy.tcp[1]", "invalid stream_proxy.tcp entry");
    }

    [Theory]
    [InlineData("apisix:\n  stream_proxy:\n    tcp:\n      - {tls: false}\n", "apisix.stream_proxy.tcp[0].addr", "invalid stream_proxy.tcp entry: property \"addr\" is required")]
    [InlineData("apisix:\n  stream_proxy:\n    tcp:\n      - {addr: 9100, tls: true}\n", "apisix.stream_proxy.tcp[0].tls", "invalid stream_proxy.tcp entry: tls is not available")]
    [InlineData("apisix:\n  stream_proxy:\n    tcp:\n      - {addr: 9100, tls_passthrough: true}\n", "apisix.stream_proxy.tcp[0].tls_passthrough", "tls_passthrough is not available")]
    [InlineData("apisix:\n  stream_proxy:\n    tcp:\n      - {addr: 9100, proxy_protocol: true}\n", "apisix.stream_proxy.tcp[0].proxy_protocol", "proxy_protocol is not available")]
    [InlineData("apisix:\n  stream_proxy:\n    tcp:\n      - {addr: 9100, foo: 1}\n", "apisix.stream_proxy.tcp[0].foo", "additional properties forbidden, found foo")]
    [InlineData("apisix:\n  stream_proxy:\n    tcp: [9100, \"9099-9101\"]\n", "apisix.stream_proxy.tcp", "duplicate listen address *:9100")]
    [InlineData("apisix:\n  stream_proxy:\n    tcp: [\"127.0.0.1:9100\", \"127.0.0.1:9100\"]\n", "apisix.stream_proxy.tcp", "duplicate listen address 127.0.0.1:9100")]
    [InlineData("apisix:\n  stream_proxy:\n    udp: [9200]\n", "apisix.stream_proxy.udp", "UDP proxying is not available")]
    [InlineData("apisix:\n  stream_proxy:\n    tcp: 9100\n", "apisix.stream_proxy.tcp", "property \"tcp\" validation failed: wrong type: expected array, got number")]
    [InlineData("apisix:\n  stream_proxy:\n    tcp: [9100]\n    bogus: 1\n", "apisix.stream_proxy.bogus", "additional properties forbidden, found bogus")]
    [InlineData("apisix:\n  stream_proxy: 9100\n", "apisix.stream_proxy", "wrong type: expected a mapping, got number")]
    [InlineData("apisix: [1]\n", "apisix", "wrong type: expected a mapping, got array")]
    [InlineData("apisix:\n  proxy_mode: tcp\n", "apisix.proxy_mode", "property \"proxy_mode\" validation failed: matches none of the enum values")]
    [InlineData("bogus: 1\n", "bogus", "unknown key \"bogus\"; expected one of apisix, deployment")]
    [InlineData("  bogus: 1\n", "deployment.bogus", "additional properties forbidden, found bogus")]
    [InlineData("nginx_config: 5\n", "nginx_config", "wrong type: expected a mapping, got number")]
    [InlineData("nginx_config:\n  stream: on\n", "nginx_config.stream", "wrong type: expected a mapping, got string")]
    [InlineData("apisix:\n  stream_proxy:\n    tcp: [true]\n", "apisix.stream_proxy.tcp[0]", "invalid stream_proxy.tcp entry: expected a port, \"ip:port\", a range \"9100-9102\" or an object with addr, got boolean")]
    [InlineData("apisix:\n  stream_proxy:\n    tcp: [[9100]]\n", "apisix.stream_proxy.tcp[0]", "invalid stream_proxy.tcp entry: expected a port, \"ip:port\", a range \"9100-9102\" or an object with addr, got array")]
    [InlineData("apisix:\n  stream_proxy:\n    tcp: [1.5]\n", "apisix.stream_proxy.tcp[0]", "got number")]
    [InlineData("nginx_config:\n  worker_processes: 0\n", "nginx_config.worker_processes", "expected \"auto\" or a number from 1 to 256")]
    [InlineData("nginx_config:\n  worker_processes: 257\n", "nginx_config.worker_processes", "expected \"auto\" or a number from 1 to 256")]
    [InlineData("nginx_config:\n  worker_processes: -1\n", "nginx_config.worker_processes", "expected \"auto\" or a number from 1 to 256")]
    [InlineData("nginx_config:\n  worker_processes: many\n", "nginx_config.worker_processes", "expected \"auto\" or a number from 1 to 256")]
    [InlineData("nginx_config:\n  worker_processes: \"4\"\n", "nginx_config.worker_processes", "expected \"auto\" or a number from 1 to 256")]
    [InlineData("nginx_config:\n  worker_processes: 1.5\n", "nginx_config.worker_processes", "expected \"auto\" or a number from 1 to 256")]
    [InlineData("nginx_config:\n  worker_shutdown_timeout: abc\n", "nginx_config.worker_shutdown_timeout", "expected a duration such as 30s, 2m or a number of seconds")]
    [InlineData("nginx_config:\n  worker_shutdown_timeout: -1\n", "nginx_config.worker_shutdown_timeout", "expected a duration such as 30s, 2m or a number of seconds")]
    [InlineData("nginx_config:\n  worker_shutdown_timeout: -5s\n", "nginx_config.worker_shutdown_timeout", "expected a duration such as 30s, 2m or a number of seconds")]
    [InlineData("nginx_config:\n  worker_shutdown_timeout: 10x\n", "nginx_config.worker_shutdown_timeout", "expected a duration such as 30s, 2m or a number of seconds")]
    [InlineData("nginx_config:\n  worker_shutdown_timeout: true\n", "nginx_config.worker_shutdown_timeout", "expected a duration such as 30s, 2m or a number of seconds")]
    [InlineData("nginx_config:\n  worker_shutdown_timeout: 1e20\n", "nginx_config.worker_shutdown_timeout", "expected a duration such as 30s, 2m or a number of seconds")]
    [InlineData("nginx_config:\n  worker_shutdown_timeout: Infinitys\n", "nginx_config.worker_shutdown_timeout", "expected a duration such as 30s, 2m or a number of seconds")]
    [InlineData("nginx_config:\n  worker_shutdown_timeout: -Infinity\n", "nginx_config.worker_shutdown_timeout", "expected a duration such as 30s, 2m or a number of seconds")]
    [InlineData("nginx_config:\n  worker_shutdown_timeout: NaNm\n", "nginx_config.worker_shutdown_timeout", "expected a duration such as 30s, 2m or a number of seconds")]
    [InlineData("nginx_config:\n  stream:\n    enable_access_log: \"yes\"\n", "nginx_config.stream.enable_access_log", "property \"enable_access_log\" validation failed: wrong type: expected boolean, got string")]
    [InlineData("nginx_config:\n  stream:\n    access_log: \"\"\n", "nginx_config.stream.access_log", "string too short")]
    [InlineData("nginx_config:\n  stream:\n    access_log_format: 5\n", "nginx_config.stream.access_log_format", "expected string, got number")]
    [InlineData("nginx_config:\n  stream:\n    bogus: 1\n", "nginx_config.stream.bogus", "additional properties forbidden, found bogus")]
    public void InvalidEntriesAreErrorsNamingThem(string yaml, string path, string message)
    {
        // Appended to a valid deployment section, so each case has exactly one error.
        var errors = Errors(DataPlane + yaml);
        ConfigAssert.Single(errors, path, message);
        Assert.Single(errors);
    }

    [Fact]
    public void TopLevelMustBeAMapping()
    {
        ConfigAssert.Single(Errors("- 1\n- 2\n"), "", "must be a mapping");
    }

    [Fact]
    public void RoleSectionOfWrongTypeIsAnError()
    {
        ConfigAssert.Has(Errors("deployment:\n  role: data_plane\n  role_data_plane: yaml\n"), "deployment.role_data_plane", "expected a mapping, got string");
    }

    [Theory]
    [InlineData("stream", 1)]
    [InlineData("\"http&stream\"", 1)]
    public void ProxyModeWithStreamKeepsListeners(string mode, int listeners)
    {
        var config = Parse(DataPlane + $"apisix:\n  proxy_mode: {mode}\n  stream_proxy:\n    tcp: [9100]\n");
        Assert.True(config.StreamEnabled);
        Assert.Equal(listeners, config.TcpListeners.Count);
        Assert.Empty(config.Warnings);
    }

    [Fact]
    public void HttpProxyModeDropsStreamListenersWithAWarning()
    {
        var config = Parse(DataPlane + "apisix:\n  proxy_mode: http\n  stream_proxy:\n    tcp: [9100]\n");
        Assert.False(config.StreamEnabled);
        Assert.Empty(config.TcpListeners);
        var warning = Assert.Single(config.Warnings);
        Assert.Contains("proxy_mode is http", warning, StringComparison.Ordinal);
    }

    [Fact]
    public void NoProxyModeMeansHttpAsInApisix()
    {
        // APISIX: cli/config.lua defaults proxy_mode to http; ops.lua enables stream only for stream or http&stream.
        var config = Parse(DataPlane + "apisix:\n  stream_proxy:\n    tcp: [9100]\n");
        Assert.Equal("http", config.ProxyMode);
        Assert.False(config.StreamEnabled);
        Assert.Empty(config.TcpListeners);
        var warning = Assert.Single(config.Warnings);
        Assert.Contains("apisix.proxy_mode is not set, which means http", warning, StringComparison.Ordinal);
        Assert.Contains("set proxy_mode: stream", warning, StringComparison.Ordinal);
        Assert.Empty(Parse(DataPlane + "apisix:\n  node_listen: 9080\n").Warnings);
    }

    [Fact]
    public void ApisixHttpSideKeysAreAccepted()
    {
        var config = Parse(DataPlane + "plugins: [proxy-rewrite]\nstream_plugins: [ip-restriction]\napisix:\n  node_listen: 9080\n  enable_admin: true\n");
        Assert.Empty(config.TcpListeners);
    }

    [Fact]
    public void DataPlaneWithYamlProviderIsAccepted()
    {
        var config = Parse(DataPlane);
        Assert.Equal("data_plane", config.Role);
        Assert.Equal("yaml", config.ConfigProvider);
    }

    [Theory]
    [InlineData("deployment:\n  role: traditional\n  role_traditional:\n    config_provider: etcd\n", "role traditional with config_provider etcd")]
    [InlineData("deployment:\n  role: data_plane\n  role_data_plane:\n    config_provider: etcd\n", "role data_plane with config_provider etcd")]
    [InlineData("deployment:\n  role: control_plane\n  role_control_plane:\n    config_provider: etcd\n", "role control_plane with config_provider etcd")]
    public void RolesNotServedYetAreErrors(string yaml, string message)
    {
        var error = ConfigAssert.Single(Errors(yaml), "deployment.role", message);
        Assert.Contains("is not available in this StreamGate version yet", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void UnknownRoleIsAnEnumError()
    {
        ConfigAssert.Has(Errors("deployment:\n  role: edge\n"), "deployment.role", "property \"role\" validation failed: matches none of the enum values");
    }

    [Theory]
    [InlineData("4", 4)]
    [InlineData("1", 1)]
    [InlineData("256", 256)]
    public void WorkerProcessesNumber(string value, int expected)
    {
        Assert.Equal(expected, Parse(DataPlane + $"nginx_config:\n  worker_processes: {value}\n").Workers);
    }

    [Fact]
    public void WorkerProcessesAutoIsOnePerCore()
    {
        Assert.Equal(Environment.ProcessorCount, Parse(DataPlane + "nginx_config:\n  worker_processes: auto\n").Workers);
    }

    [Theory]
    [InlineData("30s", 30_000)]
    [InlineData("2m", 120_000)]
    [InlineData("1h", 3_600_000)]
    [InlineData("500ms", 500)]
    [InlineData("10", 10_000)]
    [InlineData("\"15\"", 15_000)]
    [InlineData("0", 0)]
    [InlineData("1.5s", 1_500)]
    public void WorkerShutdownTimeoutDurations(string value, long milliseconds)
    {
        var config = Parse(DataPlane + $"nginx_config:\n  worker_shutdown_timeout: {value}\n");
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), config.ShutdownGrace);
    }

    [Fact]
    public void TryParseDurationRefusesNonFiniteNumbers()
    {
        Assert.False(GatewayConfigLoader.TryParseDuration(JsonValue.Create(double.PositiveInfinity), out _));
        Assert.True(GatewayConfigLoader.TryParseDuration(JsonValue.Create(2.5), out var duration));
        Assert.Equal(TimeSpan.FromMilliseconds(2500), duration);
    }

    [Fact]
    public void StreamAccessLogSettings()
    {
        var config = Parse(DataPlane + """
            nginx_config:
              stream:
                enable_access_log: true
                access_log: /var/log/sg.log
                access_log_format: "$remote_addr ${status} $route_id"
                lua_shared_dict: {}
                access_log_format_escape: default

            """);
        Assert.True(config.AccessLog.Enabled);
        Assert.Equal("/var/log/sg.log", config.AccessLog.Path);
        Assert.Equal("$remote_addr ${status} $route_id", config.AccessLog.Format);
    }

    [Fact]
    public void StreamSectionDefaultsKeepApisixFormat()
    {
        var config = Parse(DataPlane + "nginx_config:\n  stream:\n    enable_access_log: true\n");
        Assert.True(config.AccessLog.Enabled);
        Assert.Equal("logs/access_stream.log", config.AccessLog.Path);
        Assert.Equal(AccessLogOptions.DefaultFormat, config.AccessLog.Format);
    }

    [Fact]
    public void UnknownAccessLogVariablesAreErrorsEachNamed()
    {
        var errors = Errors(DataPlane + "nginx_config:\n  stream:\n    access_log_format: \"$remote_addr $foo ${bar}\"\n");
        Assert.Equal(2, errors.Count);
        ConfigAssert.Has(errors, "nginx_config.stream.access_log_format", "unknown variable \"$foo\"");
        ConfigAssert.Has(errors, "nginx_config.stream.access_log_format", "unknown variable \"$bar\"");
    }

    [Fact]
    public void AllErrorsAreReportedTogether()
    {
        var errors = Errors("bogus: 1\napisix:\n  proxy_mode: tcp\n  stream_proxy:\n    tcp: [0]\nnginx_config:\n  worker_processes: 0\n");
        ConfigAssert.Has(errors, "bogus", "unknown key");
        ConfigAssert.Has(errors, "apisix.proxy_mode", "enum");
        ConfigAssert.Has(errors, "apisix.stream_proxy.tcp[0]", "invalid stream_proxy.tcp entry");
        ConfigAssert.Has(errors, "nginx_config.worker_processes", "expected \"auto\"");
    }

    [Fact]
    public void ExceptionMessageListsEveryErrorWithItsPath()
    {
        var exception = Assert.Throws<ConfigException>(() => Parse("bogus: 1\nother: 2\n"));
        Assert.Contains("bogus: unknown key \"bogus\"", exception.Message, StringComparison.Ordinal);
        Assert.Contains("other: unknown key \"other\"", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void LoadReportsAnUnreadableFile()
    {
        var path = Path.Combine(Path.GetTempPath(), "streamgate-missing-" + Guid.NewGuid().ToString("N"), "config.yaml");
        var error = Assert.Single(ConfigAssert.Throws(() => GatewayConfigLoader.Load(path)));
        Assert.Equal(path, error.Path);
        Assert.Contains("cannot read the configuration file", error.Message, StringComparison.Ordinal);
    }

    // ---- DNS: apisix.dns_resolver, dns_resolver_valid, resolver_timeout (APISIX's); dns_ttl_min, dns_ttl_max (ours) ----

    [Fact]
    public void DnsKeysHaveApisixDefaults()
    {
        var dns = Parse(DataPlane).Dns;
        Assert.Empty(dns.Servers);
        Assert.Null(dns.Valid);
        Assert.Equal(TimeSpan.FromSeconds(5), dns.Timeout);
        Assert.Equal(TimeSpan.FromSeconds(1), dns.TtlMin);
        Assert.Equal(TimeSpan.FromSeconds(3600), dns.TtlMax);
        Assert.Equal("/etc/hosts", dns.HostsPath);
        Assert.Equal("/etc/resolv.conf", dns.ResolvConfPath);
        // An empty list is APISIX's "none": resolv.conf's.
        Assert.Empty(Parse(DataPlane + "apisix:\n  dns_resolver: []\n").Dns.Servers);
    }

    [Fact]
    public void DnsKeysAreRead()
    {
        var dns = Parse(DataPlane + """
            apisix:
              dns_resolver: [10.0.0.2, "10.0.0.3:5353", "::1", "[fd00::53]:5300", "[::2]"]
              dns_resolver_valid: 30
              resolver_timeout: 2
              dns_ttl_min: 5
              dns_ttl_max: 10m
            """).Dns;
        Assert.Equal(
            [
                new System.Net.IPEndPoint(System.Net.IPAddress.Parse("10.0.0.2"), 53),
                new System.Net.IPEndPoint(System.Net.IPAddress.Parse("10.0.0.3"), 5353),
                new System.Net.IPEndPoint(System.Net.IPAddress.IPv6Loopback, 53),
                new System.Net.IPEndPoint(System.Net.IPAddress.Parse("fd00::53"), 5300),
                new System.Net.IPEndPoint(System.Net.IPAddress.Parse("::2"), 53),
            ],
            dns.Servers);
        Assert.Equal(TimeSpan.FromSeconds(30), dns.Valid);
        Assert.Equal(TimeSpan.FromSeconds(2), dns.Timeout);
        Assert.Equal(TimeSpan.FromSeconds(5), dns.TtlMin);
        Assert.Equal(TimeSpan.FromMinutes(10), dns.TtlMax);
        Assert.Equal(TimeSpan.FromSeconds(30), dns.Keep(TimeSpan.FromSeconds(1)));
        var bounded = dns with { Valid = null };
        Assert.Equal(TimeSpan.FromSeconds(5), bounded.Keep(TimeSpan.Zero));
        Assert.Equal(TimeSpan.FromMinutes(10), bounded.Keep(TimeSpan.FromDays(1)));
        Assert.Equal(TimeSpan.FromSeconds(60), bounded.Keep(TimeSpan.FromSeconds(60)));
    }

    [Theory]
    [InlineData("dns_resolver: [dns.example]", "apisix.dns_resolver[0]", "\"dns.example\" is not a nameserver; write an IP address, optionally with a port")]
    [InlineData("dns_resolver: [\"10.0.0.2:0\"]", "apisix.dns_resolver[0]", "is not a nameserver")]
    [InlineData("dns_resolver: [\"10.1\"]", "apisix.dns_resolver[0]", "is not a nameserver")]
    [InlineData("dns_resolver: [\"[::1]:dns\"]", "apisix.dns_resolver[0]", "is not a nameserver")]
    [InlineData("dns_resolver: [\"[10.0.0.2]:53\"]", "apisix.dns_resolver[0]", "is not a nameserver")]
    [InlineData("dns_resolver: [53]", "apisix.dns_resolver[0]", "number is not a nameserver")]
    [InlineData("dns_resolver: 10.0.0.2", "apisix.dns_resolver", "expected a list of nameservers (- 10.0.0.2), got string; leave it out to use those of /etc/resolv.conf")]
    [InlineData("dns_resolver_valid: 0", "apisix.dns_resolver_valid", "expected a number of seconds of at least 1, got 0; it replaces the TTL of every DNS answer")]
    [InlineData("resolver_timeout: -1", "apisix.resolver_timeout", "expected a number of seconds of at least 1, got -1")]
    [InlineData("resolver_timeout: soon", "apisix.resolver_timeout", "expected a number of seconds of at least 1, got \"soon\"")]
    [InlineData("dns_ttl_min: 0", "apisix.dns_ttl_min", "each expiry rebuilds the configuration")]
    [InlineData("dns_ttl_max: 0.5", "apisix.dns_ttl_max", "expected a number of seconds of at least 1, got 0.5")]
    [InlineData("dns_ttl_min: 60\n  dns_ttl_max: 30", "apisix.dns_ttl_min", "dns_ttl_min (60 s) is above dns_ttl_max (30 s); lower dns_ttl_min or raise dns_ttl_max")]
    public void BadDnsKeysAreErrorsNamingTheFieldAndTheFix(string yaml, string path, string message) =>
        ConfigAssert.Single(Errors(DataPlane + "apisix:\n  " + yaml + "\n"), path, message);
}
