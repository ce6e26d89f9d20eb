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

    public IReadOnlyList<string> Warnings { get; init; } = [];
}

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
