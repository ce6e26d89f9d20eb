using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using StreamGate.Logging;
using StreamGate.Routing;

namespace StreamGate.Config;

/// <summary>
/// Reads config.yaml (APISIX's keys) into <see cref="GatewayConfig"/>. Sections StreamGate serves are read
/// strictly: an unknown or invalid entry is an error naming it. Keys APISIX has for its HTTP side are accepted
/// and ignored, so an existing APISIX config.yaml loads.
/// </summary>
internal static class GatewayConfigLoader
{
    private static readonly string[] TopLevel = ["apisix", "deployment", "nginx_config", "plugins", "stream_plugins", "plugin_attr", "discovery", "graphql", "ext-plugin", "wasm", "xrpc"];

    public static GatewayConfig Load(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ConfigException(path, $"cannot read the configuration file: {e.Message}");
        }
        return Parse(text, path);
    }

    public static GatewayConfig Parse(string text, string path)
    {
        var root = YamlDocument.Parse(text, Path.GetFileName(path)) ?? new JsonObject();
        if (root is not JsonObject top)
        {
            throw new ConfigException("", "config.yaml must be a mapping at the top level (apisix:, deployment:, ...)");
        }
        var errors = new List<ConfigError>();
        var warnings = new List<string>();
        foreach (var (key, _) in top)
        {
            if (Array.IndexOf(TopLevel, key) < 0)
            {
                errors.Add(new ConfigError(key, $"unknown key \"{key}\"; expected one of {string.Join(", ", TopLevel)}"));
            }
        }

        var apisix = Section(top, "apisix", "", errors);
        // No proxy_mode means http, as in APISIX (cli/config.lua's default; ops.lua enables stream only for
        // stream or http&stream): stream_proxy is then ignored and the admin API refuses stream routes.
        string? proxyModeSetting = null;
        var listeners = new List<ListenEntry>();
        if (apisix is not null)
        {
            var r = new JsonObjectReader(apisix, "apisix", errors);
            proxyModeSetting = r.Enum("proxy_mode", "http", "stream", "http&stream");
            if (Section(apisix, "stream_proxy", "apisix", errors) is { } streamProxy)
            {
                ReadStreamProxy(streamProxy, listeners, errors);
            }
        }
        var proxyMode = proxyModeSetting ?? "http";
        if (!proxyMode.Contains("stream", StringComparison.Ordinal) && listeners.Count > 0)
        {
            warnings.Add(proxyModeSetting is null
                ? "apisix.proxy_mode is not set, which means http (APISIX's default): apisix.stream_proxy is ignored and the admin API refuses stream routes; set proxy_mode: stream to serve it"
                : $"apisix.proxy_mode is {proxyMode}: apisix.stream_proxy is ignored; set proxy_mode: stream to serve it");
            listeners.Clear();
        }

        var deployment = ReadDeployment(top, errors, warnings);
        var (keyring, controlEnabled, controlIp, controlPort, drain) = apisix is null ? (GatewayConfig.DefaultKeyring, true, "127.0.0.1", 9090, null) : ReadApisixExtras(apisix, errors);
        var dns = apisix is null ? DnsOptions.Default : ReadDns(apisix, errors);
        var (accessLog, workers, grace, workerConnections) = ReadNginxConfig(top, errors);
        if (errors.Count > 0)
        {
            throw new ConfigException(errors);
        }
        return new GatewayConfig
        {
            ConfigPath = path,
            ProxyMode = proxyMode,
            TcpListeners = listeners,
            Role = deployment.Role,
            ConfigProvider = deployment.Provider,
            SqlitePath = deployment.SqlitePath,
            SqliteSeed = deployment.Seed,
            KeyPrefix = deployment.Prefix,
            Admin = deployment.Admin,
            Keyring = keyring,
            ControlEnabled = controlEnabled,
            ControlIp = controlIp,
            ControlPort = controlPort,
            DrainOnChange = drain,
            Dns = dns,
            AccessLog = accessLog,
            Workers = workers,
            WorkerConnections = workerConnections,
            ShutdownGrace = grace,
            Warnings = warnings,
        };
    }

    private static JsonObject? Section(JsonObject parent, string key, string parentPath, List<ConfigError> errors)
    {
        var node = parent[key];
        if (node is null)
        {
            return null;
        }
        if (node is JsonObject obj)
        {
            return obj;
        }
        var path = parentPath.Length == 0 ? key : $"{parentPath}.{key}";
        errors.Add(new ConfigError(path, $"wrong type: expected a mapping, got {JsonObjectReader.Describe(node)}"));
        return null;
    }

    private static (IReadOnlyList<string> Keyring, bool ControlEnabled, string ControlIp, int ControlPort, TimeSpan? Drain) ReadApisixExtras(JsonObject apisix, List<ConfigError> errors)
    {
        var keyring = new List<string>();
        if (Section(apisix, "data_encryption", "apisix", errors) is { } encryption && encryption["keyring"] is JsonArray ring)
        {
            for (var i = 0; i < ring.Count; i++)
            {
                var text = ring[i] is { } n && n.GetValueKind() == JsonValueKind.String ? n.GetValue<string>() : null;
                if (text is null || text.Length < 16)
                {
                    errors.Add(new ConfigError($"apisix.data_encryption.keyring[{i}]", "each keyring entry must be a string of at least 16 characters (its first 16 are the AES-128 key)"));
                    continue;
                }
                keyring.Add(text);
            }
        }
        var controlEnabled = apisix["enable_control"] is not { } ec || ec.GetValueKind() != JsonValueKind.False;
        var controlIp = "127.0.0.1";
        var controlPort = 9090;
        if (Section(apisix, "control", "apisix", errors) is { } control)
        {
            var c = new JsonObjectReader(control, "apisix.control", errors);
            controlIp = c.String("ip") ?? controlIp;
            controlPort = (int?)c.Integer("port", 1, 65535) ?? controlPort;
            c.Finish();
        }
        TimeSpan? drain = null;
        if (apisix["stream_proxy"] is JsonObject sp && sp["drain_on_change"] is { } d)
        {
            if (TryParseDuration(d, out var parsed))
            {
                drain = parsed;
            }
            else
            {
                errors.Add(new ConfigError("apisix.stream_proxy.drain_on_change", "expected a duration such as 30s or a number of seconds"));
            }
        }
        return (keyring.Count > 0 ? keyring : GatewayConfig.DefaultKeyring, controlEnabled, controlIp, controlPort, drain);
    }

    /// <summary>
    /// apisix.dns_resolver (a list of "ip" or "ip:port", IPv6 in brackets with a port), dns_resolver_valid and
    /// resolver_timeout, as APISIX has them; dns_ttl_min and dns_ttl_max, ours. Seconds are numbers (or nginx
    /// times, 30s).
    /// </summary>
    private static DnsOptions ReadDns(JsonObject apisix, List<ConfigError> errors)
    {
        var options = DnsOptions.Default;
        var servers = new List<System.Net.IPEndPoint>();
        switch (apisix["dns_resolver"])
        {
            case null:
                break;
            case JsonArray list:
                for (var i = 0; i < list.Count; i++)
                {
                    var text = list[i] is { } n && n.GetValueKind() == JsonValueKind.String ? n.GetValue<string>() : null;
                    if (text is null || !TryParseNameserver(text.Trim(), out var server))
                    {
                        errors.Add(new ConfigError($"apisix.dns_resolver[{i}]", $"{(text is null ? JsonObjectReader.Describe(list[i]) : $"\"{text}\"")} is not a nameserver; write an IP address, optionally with a port: 10.0.0.2, 10.0.0.2:5353, ::1, [::1]:5353"));
                        continue;
                    }
                    servers.Add(server);
                }
                break;
            case var other:
                errors.Add(new ConfigError("apisix.dns_resolver", $"expected a list of nameservers (- 10.0.0.2), got {JsonObjectReader.Describe(other)}; leave it out to use those of /etc/resolv.conf"));
                break;
        }
        TimeSpan? Seconds(string key, string fix)
        {
            if (apisix[key] is not { } node)
            {
                return null;
            }
            if (TryParseDuration(node, out var value) && value >= TimeSpan.FromSeconds(1))
            {
                return value;
            }
            errors.Add(new ConfigError($"apisix.{key}", $"expected a number of seconds of at least 1, got {node.ToJsonString()}; {fix}"));
            return null;
        }
        var valid = Seconds("dns_resolver_valid", "it replaces the TTL of every DNS answer (leave it out to honour the TTLs)");
        var timeout = Seconds("resolver_timeout", "it bounds one name's lookup (APISIX's default is 5)");
        var min = Seconds("dns_ttl_min", "answers are kept at least this long, and each expiry rebuilds the configuration (default 1)");
        var max = Seconds("dns_ttl_max", "answers are kept at most this long (default 3600)");
        options = options with
        {
            Servers = servers,
            Valid = valid,
            Timeout = timeout ?? options.Timeout,
            TtlMin = min ?? options.TtlMin,
            TtlMax = max ?? options.TtlMax,
        };
        if (options.TtlMin > options.TtlMax)
        {
            errors.Add(new ConfigError("apisix.dns_ttl_min", $"dns_ttl_min ({options.TtlMin.TotalSeconds:0.###} s) is above dns_ttl_max ({options.TtlMax.TotalSeconds:0.###} s); lower dns_ttl_min or raise dns_ttl_max"));
        }
        return options;
    }

    /// <summary>"10.0.0.2", "10.0.0.2:5353", "::1", "[::1]", "[::1]:5353"; port 53 unless given.</summary>
    internal static bool TryParseNameserver(string text, out System.Net.IPEndPoint server)
    {
        server = null!;
        var host = text;
        var port = 53;
        if (text.StartsWith('['))
        {
            var close = text.IndexOf(']', StringComparison.Ordinal);
            if (close < 0)
            {
                return false;
            }
            host = text[1..close];
            var rest = text[(close + 1)..];
            if (rest.Length > 0 && (rest[0] != ':' || !TryPort(rest[1..], out port)))
            {
                return false;
            }
        }
        else if (text.Count(c => c == ':') == 1)
        {
            var colon = text.IndexOf(':', StringComparison.Ordinal);
            host = text[..colon];
            if (!TryPort(text[(colon + 1)..], out port))
            {
                return false;
            }
        }
        // IPAddress.TryParse also takes "10.1" and "1" (inet_aton's forms): a nameserver is written in full.
        if (!System.Net.IPAddress.TryParse(host, out var address) ||
            (address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? text.StartsWith('[') || host.Count(c => c == '.') != 3 : false))
        {
            return false;
        }
        server = new System.Net.IPEndPoint(address, port);
        return true;
    }

    private static void ReadStreamProxy(JsonObject streamProxy, List<ListenEntry> listeners, List<ConfigError> errors)
    {
        var r = new JsonObjectReader(streamProxy, "apisix.stream_proxy", errors);
        r.Allow("only", "drain_on_change");
        if (r.Array("tcp") is { } tcp)
        {
            for (var i = 0; i < tcp.Count; i++)
            {
                ReadTcpEntry(tcp[i], $"apisix.stream_proxy.tcp[{i}]", listeners, errors);
            }
        }
        if (r.Array("udp") is { Count: > 0 })
        {
            errors.Add(new ConfigError("apisix.stream_proxy.udp", "UDP proxying is not available in this StreamGate version yet; remove the udp entries"));
        }
        r.Finish();
        var seen = new HashSet<(IpAddr?, int)>();
        foreach (var entry in listeners)
        {
            if (!seen.Add((entry.Address, entry.Port)))
            {
                errors.Add(new ConfigError("apisix.stream_proxy.tcp", $"duplicate listen address {entry}; list each address once"));
            }
        }
    }

    private static void ReadTcpEntry(JsonNode? node, string path, List<ListenEntry> listeners, List<ConfigError> errors)
    {
        JsonNode? addr = node;
        if (node is JsonObject obj)
        {
            var r = new JsonObjectReader(obj, path, errors);
            addr = r.Node("addr");
            foreach (var flag in (ReadOnlySpan<string>)["tls", "tls_passthrough", "proxy_protocol"])
            {
                if (r.Boolean(flag) == true)
                {
                    errors.Add(new ConfigError($"{path}.{flag}", $"invalid stream_proxy.tcp entry: {flag} is not available in this StreamGate version yet; remove it"));
                }
            }
            r.Finish();
            if (addr is null)
            {
                errors.Add(new ConfigError($"{path}.addr", "invalid stream_proxy.tcp entry: property \"addr\" is required (a port, \"ip:port\" or a range)"));
                return;
            }
        }
        string text;
        if (addr is not null && JsonObjectReader.TryGetInteger(addr, out var number))
        {
            text = number.ToString(CultureInfo.InvariantCulture);
        }
        else if (addr is not null && addr.GetValueKind() == JsonValueKind.String)
        {
            text = addr.GetValue<string>();
        }
        else
        {
            errors.Add(new ConfigError(path, $"invalid stream_proxy.tcp entry: expected a port, \"ip:port\", a range \"9100-9102\" or an object with addr, got {JsonObjectReader.Describe(addr)}"));
            return;
        }
        if (!TryParseListen(text, listeners))
        {
            errors.Add(new ConfigError(path, $"invalid stream_proxy.tcp entry \"{text}\": write a port (9100), ip:port (127.0.0.1:9100, [::1]:9100) or a range (9100-9102, 127.0.0.1:9100-9102), ports 1-65535"));
        }
    }

    /// <summary>Parses "9100", "127.0.0.1:9100", "[::1]:9100", "9100-9102", "127.0.0.1:9100-9102".</summary>
    internal static bool TryParseListen(string text, List<ListenEntry> listeners)
    {
        IpAddr? address = null;
        var portPart = text;
        var colon = text.LastIndexOf(':');
        if (colon >= 0)
        {
            var host = text[..colon];
            if (host.StartsWith('[') && host.EndsWith(']'))
            {
                host = host[1..^1];
            }
            else if (host.Contains(':', StringComparison.Ordinal))
            {
                // "::1:9100" is itself an IPv6 address: as in nginx's listen, an IPv6 address needs brackets.
                return false;
            }
            if (!IpAddr.TryParse(host, out var parsed))
            {
                return false;
            }
            address = parsed;
            portPart = text[(colon + 1)..];
        }
        var dash = portPart.IndexOf('-', StringComparison.Ordinal);
        var first = dash < 0 ? portPart : portPart[..dash];
        var last = dash < 0 ? portPart : portPart[(dash + 1)..];
        if (!TryPort(first, out var from) || !TryPort(last, out var to) || to < from || to - from > 1024)
        {
            return false;
        }
        for (var port = from; port <= to; port++)
        {
            listeners.Add(new ListenEntry(address, port));
        }
        return true;
    }

    private static bool TryPort(string text, out int port) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out port) && port is >= 1 and <= 65535;

    private sealed record Deployment(string Role, string Provider, string SqlitePath, string Prefix, AdminOptions Admin, string? Seed = null);

    private static Deployment ReadDeployment(JsonObject top, List<ConfigError> errors, List<string> warnings)
    {
        var deployment = Section(top, "deployment", "", errors);
        if (deployment is null)
        {
            var defaults = new AdminOptions();
            CheckAdminKeys(defaults, keyRequired: true, errors, warnings);
            return new Deployment("traditional", "sqlite", "data/streamgate.db", "/apisix", defaults);
        }
        var r = new JsonObjectReader(deployment, "deployment", errors);
        r.Allow("role_traditional", "role_control_plane", "role_data_plane", "config_provider", "certs");
        var role = r.Enum("role", "traditional", "data_plane", "control_plane") ?? "traditional";
        var roleSection = Section(deployment, "role_" + role, "deployment", errors);
        var provider = roleSection?["config_provider"] is { } p && p.GetValueKind() == JsonValueKind.String ? p.GetValue<string>() : null;
        provider ??= role == "data_plane" ? "yaml" : "sqlite";

        var sqlitePath = "data/streamgate.db";
        string? seed = null;
        if (r.Object("sqlite") is { } sqlite)
        {
            var s = new JsonObjectReader(sqlite, "deployment.sqlite", errors);
            sqlitePath = s.String("path", 1) ?? sqlitePath;
            seed = s.String("seed", 1);
            s.Finish();
        }
        var prefix = "/apisix";
        if (r.Object("etcd") is { } etcd)
        {
            var e = new JsonObjectReader(etcd, "deployment.etcd", errors);
            e.Allow("host", "timeout", "user", "password", "tls", "watch_timeout", "startup_retry", "resync_delay", "health_check_timeout");
            prefix = e.String("prefix", 1) ?? prefix;
            e.Finish();
            if (!prefix.StartsWith('/'))
            {
                errors.Add(new ConfigError("deployment.etcd.prefix", $"the prefix must start with /, got \"{prefix}\""));
            }
        }
        var (admin, keyRequired) = r.Object("admin") is { } adminSection ? ReadAdmin(adminSection, errors) : (new AdminOptions(), true);
        r.Finish();

        var supported = (role, provider) is ("traditional", "sqlite") or ("data_plane", "yaml");
        if (!supported)
        {
            errors.Add(new ConfigError(
                "deployment.role",
                $"role {role} with config_provider {provider} is not available in this StreamGate version yet; use role traditional with config_provider sqlite (admin API + embedded store), or role data_plane with config_provider yaml (routes from apisix.yaml)"));
        }
        if (role == "traditional" && supported)
        {
            CheckAdminKeys(admin, keyRequired, errors, warnings);
            if (!keyRequired)
            {
                // As APISIX: admin_key_required: false lets every caller allow_admin admits in, keys or not.
                admin = admin with { Keys = [] };
            }
        }
        return new Deployment(role, provider, sqlitePath, prefix.TrimEnd('/'), admin, seed);
    }

    private static (AdminOptions Admin, bool KeyRequired) ReadAdmin(JsonObject section, List<ConfigError> errors)
    {
        var r = new JsonObjectReader(section, "deployment.admin", errors);
        r.Allow("enable_admin_cors", "admin_api_version", "https_admin", "admin_api_mtls", "enable_admin_ui");
        var keyRequired = r.Boolean("admin_key_required") ?? true;
        var keys = new List<AdminKey>();
        if (r.Array("admin_key") is { } keyArray)
        {
            for (var i = 0; i < keyArray.Count; i++)
            {
                var path = $"deployment.admin.admin_key[{i}]";
                if (keyArray[i] is not JsonObject keyObject)
                {
                    errors.Add(new ConfigError(path, "expected {name, key, role}"));
                    continue;
                }
                var k = new JsonObjectReader(keyObject, path, errors);
                var name = k.String("name") ?? $"key{i}";
                var key = k.String("key") ?? "";
                var keyRole = k.Enum("role", "admin", "viewer") ?? "admin";
                k.Finish();
                if (key.Length > 0)
                {
                    keys.Add(new AdminKey(name, key, keyRole));
                }
                else if (keyRequired && (!k.Has("key") || keyObject["key"]?.GetValueKind() == JsonValueKind.String))
                {
                    // APISIX 3 fills an empty admin key with a random one and writes it into config.yaml; StreamGate
                    // never writes config.yaml, and a key that changed on every start would lock scripts out.
                    // With admin_key_required: false (APISIX's default key list, key ''), the keys are not used.
                    errors.Add(new ConfigError($"{path}.key", $"the key of \"{name}\" is empty, which would let anyone in; set it to a secret of your own (for example the output of: openssl rand -hex 16)"));
                }
            }
        }
        var ip = "127.0.0.1";
        var port = 9180;
        if (r.Object("admin_listen") is { } listen)
        {
            var l = new JsonObjectReader(listen, "deployment.admin.admin_listen", errors);
            ip = l.String("ip") ?? ip;
            port = (int?)l.Integer("port", 1, 65535) ?? port;
            l.Finish();
            if (!System.Net.IPAddress.TryParse(ip, out _))
            {
                errors.Add(new ConfigError("deployment.admin.admin_listen.ip", $"\"{ip}\" is not an IP address"));
            }
        }
        var allow = new List<string>();
        if (r.Array("allow_admin") is { } allowArray)
        {
            for (var i = 0; i < allowArray.Count; i++)
            {
                var text = allowArray[i] is { } n && n.GetValueKind() == JsonValueKind.String ? n.GetValue<string>() : null;
                if (text is null || !IpPrefix.TryParse(text, out _))
                {
                    errors.Add(new ConfigError($"deployment.admin.allow_admin[{i}]", "expected an IP address or CIDR such as 127.0.0.0/24"));
                    continue;
                }
                allow.Add(text);
            }
        }
        var maxBody = r.Integer("max_body_bytes", 1024, 64L * 1024 * 1024) ?? 1024 * 1024;
        r.Finish();
        return (new AdminOptions
        {
            Keys = keys,
            Ip = ip,
            Port = port,
            AllowAdmin = r.Has("allow_admin") ? allow : ["127.0.0.0/24"],
            MaxBodyBytes = maxBody,
        }, keyRequired);
    }

    /// <summary>
    /// The admin API never runs without a key by accident: no key (none listed, or only empty ones) is refused
    /// unless admin_key_required is false, which is then said at every start; beyond loopback a key is needed
    /// even then, and it must be one of its own, not a published sample.
    /// </summary>
    private static void CheckAdminKeys(AdminOptions admin, bool keyRequired, List<ConfigError> errors, List<string> warnings)
    {
        const string HowToSet = "set deployment.admin.admin_key to [{name: admin, key: <a long random secret>, role: admin}] (for example the output of: openssl rand -hex 16)";
        var exposed = !System.Net.IPAddress.TryParse(admin.Ip, out var ip) || !System.Net.IPAddress.IsLoopback(ip);
        if (admin.Keys.Count == 0 || !keyRequired)
        {
            if (exposed)
            {
                var optOut = keyRequired ? "" : " (admin_key_required: false is accepted on loopback only)";
                errors.Add(new ConfigError("deployment.admin.admin_key", $"the admin API listens on {admin.Ip}, beyond loopback, without a key{optOut}; {HowToSet}"));
            }
            else if (keyRequired)
            {
                errors.Add(new ConfigError("deployment.admin.admin_key", $"the admin API on {admin.Ip}:{admin.Port} would run without a key, open to every local process and user; {HowToSet}, or set deployment.admin.admin_key_required: false to run it without authentication on purpose"));
            }
            else
            {
                warnings.Add($"the admin API on {admin.Ip}:{admin.Port} runs without authentication (deployment.admin.admin_key_required: false): every local process and user may change the configuration");
            }
        }
        if (!exposed)
        {
            return;
        }
        foreach (var key in admin.Keys)
        {
            if (key.Key is AdminOptions.SampleKey or AdminOptions.ShippedKey)
            {
                errors.Add(new ConfigError("deployment.admin.admin_key", $"the admin API listens on {admin.Ip}, beyond loopback, with a published sample key for \"{key.Name}\"; replace it with a secret of your own (for example the output of: openssl rand -hex 16)"));
            }
        }
    }

    private static (AccessLogOptions AccessLog, int Workers, TimeSpan Grace, int? WorkerConnections) ReadNginxConfig(JsonObject top, List<ConfigError> errors)
    {
        var accessLog = new AccessLogOptions();
        var workers = Environment.ProcessorCount;
        var grace = TimeSpan.FromSeconds(30);
        int? workerConnections = null;
        var nginx = Section(top, "nginx_config", "", errors);
        if (nginx is null)
        {
            return (accessLog, workers, grace, workerConnections);
        }
        if (Section(nginx, "event", "nginx_config", errors) is { } events && events["worker_connections"] is { } wc)
        {
            if (JsonObjectReader.TryGetInteger(wc, out var n) && n is >= 1 and <= 1_000_000)
            {
                workerConnections = (int)n;
            }
            else
            {
                errors.Add(new ConfigError("nginx_config.event.worker_connections", "expected a number of connections per event loop from 1 to 1000000 (or leave it out: it is then derived from the open-files limit)"));
            }
        }
        if (nginx["worker_processes"] is { } wp)
        {
            if (wp.GetValueKind() == JsonValueKind.String && wp.GetValue<string>() == "auto")
            {
                workers = Environment.ProcessorCount;
            }
            else if (JsonObjectReader.TryGetInteger(wp, out var n) && n is >= 1 and <= 256)
            {
                workers = (int)n;
            }
            else
            {
                errors.Add(new ConfigError("nginx_config.worker_processes", "expected \"auto\" or a number from 1 to 256"));
            }
        }
        if (nginx["worker_shutdown_timeout"] is { } wst)
        {
            if (!TryParseDuration(wst, out grace))
            {
                errors.Add(new ConfigError("nginx_config.worker_shutdown_timeout", "expected a duration such as 30s, 2m or a number of seconds"));
            }
        }
        if (Section(nginx, "stream", "nginx_config", errors) is { } stream)
        {
            var r = new JsonObjectReader(stream, "nginx_config.stream", errors);
            r.Allow("lua_shared_dict", "access_log_format_escape");
            var enabled = r.Boolean("enable_access_log") ?? false;
            var logPath = r.String("access_log", 1) ?? accessLog.Path;
            var format = r.String("access_log_format", 1) ?? accessLog.Format;
            r.Finish();
            foreach (var unknown in AccessLogFormat.UnknownVariables(format))
            {
                errors.Add(new ConfigError("nginx_config.stream.access_log_format", $"unknown variable \"${unknown}\"; known: {string.Join(" ", AccessLogFormat.KnownVariables.Select(v => "$" + v))}"));
            }
            accessLog = new AccessLogOptions { Enabled = enabled, Path = logPath, Format = format };
        }
        return (accessLog, workers, grace, workerConnections);
    }

    /// <summary>nginx time syntax: "30s", "2m", "1h", "500ms", or a bare number of seconds.</summary>
    internal static bool TryParseDuration(JsonNode node, out TimeSpan duration)
    {
        duration = default;
        if (JsonObjectReader.TryGetNumber(node, out var seconds))
        {
            return TrySeconds(seconds, out duration);
        }
        if (node.GetValueKind() != JsonValueKind.String)
        {
            return false;
        }
        var text = node.GetValue<string>().Trim();
        (string Suffix, double Scale)[] units = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)];
        foreach (var (suffix, scale) in units)
        {
            if (text.EndsWith(suffix, StringComparison.Ordinal) &&
                double.TryParse(text[..^suffix.Length], NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
            {
                return TrySeconds(value * scale, out duration);
            }
        }
        return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var bare) && TrySeconds(bare, out duration);
    }

    /// <summary>
    /// A non-negative, finite number of seconds that a TimeSpan can hold (up to int.MaxValue, about 68 years):
    /// TimeSpan.FromSeconds throws on "Infinity", 1e20 and the like, which must be a config error, not a crash.
    /// </summary>
    private static bool TrySeconds(double seconds, out TimeSpan duration)
    {
        duration = default;
        if (!double.IsFinite(seconds) || seconds < 0 || seconds > int.MaxValue)
        {
            return false;
        }
        duration = TimeSpan.FromSeconds(seconds);
        return true;
    }
}
