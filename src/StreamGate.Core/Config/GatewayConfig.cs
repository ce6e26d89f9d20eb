using System.Net;
using StreamGate.Routing;

namespace StreamGate.Config;

/// <summary>The process-level settings from config.yaml: what to listen on, where routes come from, logging.</summary>
internal sealed record GatewayConfig
{
    public required string ConfigPath { get; init; }

    /// <summary>Folder of config.yaml; relative paths in it (apisix.yaml, logs) are resolved against it.</summary>
    public string ConfigDirectory => Path.GetDirectoryName(Path.GetFullPath(ConfigPath)) ?? ".";

    public string ProxyMode { get; init; } = "stream";

    public bool StreamEnabled => ProxyMode.Contains("stream", StringComparison.Ordinal);

    public IReadOnlyList<ListenEntry> TcpListeners { get; init; } = [];

    public string Role { get; init; } = "data_plane";

    public string ConfigProvider { get; init; } = "yaml";

    public string StandalonePath => Path.Combine(ConfigDirectory, StandaloneFile.FileName);

    public AccessLogOptions AccessLog { get; init; } = new();

    /// <summary>How long open connections may finish after SIGTERM before they are closed (nginx_config.worker_shutdown_timeout).</summary>
    public TimeSpan ShutdownGrace { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Event-loop threads (nginx_config.worker_processes); "auto" is one per core, as in nginx.</summary>
    public int Workers { get; init; } = Environment.ProcessorCount;

    /// <summary>
    /// nginx_config.event.worker_connections: connections one event loop holds at most. Null (the default) derives
    /// it from the open-files limit, so the process never runs out of descriptors (APISIX's fixed 10620 would
    /// exceed a 1,024 or 20,000 limit and fail accept() instead).
    /// </summary>
    public int? WorkerConnections { get; init; }

    public IReadOnlyList<string> Warnings { get; init; } = [];

    /// <summary>deployment.sqlite.path, resolved against config.yaml's folder.</summary>
    public string SqlitePath { get; init; } = "data/streamgate.db";

    public string ResolvedSqlitePath => Path.IsPathRooted(SqlitePath) ? SqlitePath : Path.Combine(ConfigDirectory, SqlitePath);

    /// <summary>
    /// Ours (deployment.sqlite.seed): a standalone-format file imported into the store when it is new and empty,
    /// so a first start has example routes; later starts leave the store as the admin API left it.
    /// </summary>
    public string? SqliteSeed { get; init; }

    public string? ResolvedSqliteSeed => SqliteSeed is null ? null : Path.IsPathRooted(SqliteSeed) ? SqliteSeed : Path.Combine(ConfigDirectory, SqliteSeed);

    /// <summary>deployment.etcd.prefix: the key prefix every store uses (/apisix).</summary>
    public string KeyPrefix { get; init; } = "/apisix";

    public AdminOptions Admin { get; init; } = new();

    /// <summary>apisix.enable_control and apisix.control: the read-only control API.</summary>
    public bool ControlEnabled { get; init; } = true;

    public string ControlIp { get; init; } = "127.0.0.1";

    public int ControlPort { get; init; } = 9090;

    /// <summary>apisix.data_encryption.keyring: encrypts private keys at rest; the first entry encrypts, all decrypt.</summary>
    public IReadOnlyList<string> Keyring { get; init; } = DefaultKeyring;

    /// <summary>APISIX's default keyring (config-default.yaml): private keys are never stored in clear.</summary>
    public static readonly IReadOnlyList<string> DefaultKeyring = ["qeddd145sfvddff3"];

    /// <summary>
    /// Ours (apisix.stream_proxy.drain_on_change, seconds): when a route is deleted or its upstream changes, its
    /// open connections are closed after this long. Null (the default, as APISIX) leaves them alone until they end.
    /// </summary>
    public TimeSpan? DrainOnChange { get; init; }

    /// <summary>apisix.dns_resolver and the keys beside it: how upstream node host names are looked up.</summary>
    public DnsOptions Dns { get; init; } = DnsOptions.Default;

    /// <summary>Whether this node serves the admin API: the traditional role does, a data plane does not.</summary>
    public bool AdminEnabled => Role == "traditional";
}

/// <summary>deployment.admin: who may change configuration, and from where.</summary>
internal sealed record AdminOptions
{
    /// <summary>APISIX's sample key from its documentation: refused on any address but loopback.</summary>
    public const string SampleKey = "edd1c9f034335f136f87ad84b625c8f1";

    /// <summary>The key in StreamGate's shipped conf/config.yaml: as public as APISIX's sample.</summary>
    public const string ShippedKey = "streamgate-dev-admin-key";

    public IReadOnlyList<AdminKey> Keys { get; init; } = [];

    public string Ip { get; init; } = "127.0.0.1";

    public int Port { get; init; } = 9180;

    /// <summary>CIDRs allowed to call the admin API; APISIX's default is 127.0.0.0/24.</summary>
    public IReadOnlyList<string> AllowAdmin { get; init; } = ["127.0.0.0/24"];

    /// <summary>Largest request body accepted, in bytes (certificates with chains fit easily).</summary>
    public long MaxBodyBytes { get; init; } = 1024 * 1024;
}

internal sealed record AdminKey(string Name, string Key, string Role);

/// <summary>One TCP listen address from apisix.stream_proxy.tcp. A null address listens on every interface.</summary>
internal sealed record ListenEntry(IpAddr? Address, int Port)
{
    public override string ToString() => Address is { } a ? (a.IsV4 ? $"{a}:{Port}" : $"[{a}]:{Port}") : $"*:{Port}";
}

/// <summary>nginx_config.stream access log settings, with APISIX's defaults.</summary>
internal sealed record AccessLogOptions
{
    public const string DefaultFormat = "$remote_addr [$time_local] $protocol $status $bytes_sent $bytes_received $session_time";

    public bool Enabled { get; init; }

    /// <summary>A file path, or "stdout" / "/dev/stdout" for the console.</summary>
    public string Path { get; init; } = "logs/access_stream.log";

    public string Format { get; init; } = DefaultFormat;
}

/// <summary>
/// How node host names are looked up (Runtime/HostResolver): APISIX's apisix.dns_resolver, dns_resolver_valid and
/// resolver_timeout, and ours (beyond), dns_ttl_min and dns_ttl_max. /etc/hosts answers first, then DNS.
/// </summary>
internal sealed record DnsOptions
{
    public static readonly DnsOptions Default = new();

    /// <summary>apisix.dns_resolver: the nameservers, asked in turn; empty (APISIX's default) means those of resolv.conf.</summary>
    public IReadOnlyList<IPEndPoint> Servers { get; init; } = [];

    /// <summary>apisix.dns_resolver_valid: when set, every DNS answer is kept this long whatever its TTL (APISIX's meaning).</summary>
    public TimeSpan? Valid { get; init; }

    /// <summary>apisix.resolver_timeout: how long one name's lookup may take (APISIX's default, 5 s, which is also glibc's).</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Ours: the shortest time an answer is kept, whatever its TTL. Each expiry rebuilds the configuration, so a
    /// TTL of 0 (which some service DNS hands out) would rebuild it continuously; 1 s bounds that.
    /// </summary>
    public TimeSpan TtlMin { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Ours: the longest time an answer is kept (an hour: a name with a day-long TTL that moves is followed within the hour); /etc/hosts answers are kept this long too, or until the file changes.</summary>
    public TimeSpan TtlMax { get; init; } = TimeSpan.FromSeconds(3600);

    /// <summary>The hosts file, read before any DNS query (tests point it elsewhere).</summary>
    public string HostsPath { get; init; } = "/etc/hosts";

    /// <summary>Where the nameservers, search domains and ndots come from when <see cref="Servers"/> is empty (search and ndots always).</summary>
    public string ResolvConfPath { get; init; } = "/etc/resolv.conf";

    /// <summary>How long an answer with this TTL is kept: <see cref="Valid"/> when set, else the TTL within [<see cref="TtlMin"/>, <see cref="TtlMax"/>].</summary>
    public TimeSpan Keep(TimeSpan ttl) => Valid ?? (ttl < TtlMin ? TtlMin : ttl > TtlMax ? TtlMax : ttl);
}
