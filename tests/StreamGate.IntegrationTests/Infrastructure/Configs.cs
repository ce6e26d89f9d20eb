namespace StreamGate.IntegrationTests.Infrastructure;

/// <summary>config.yaml and apisix.yaml texts for tests.</summary>
internal static class Configs
{
    public static string Gateway(IEnumerable<string> tcpListens, string extra = "") => $"""
        apisix:
          proxy_mode: stream
          stream_proxy:
            tcp:
        {string.Concat(tcpListens.Select(l => $"      - \"{l}\"\n"))}
          # Tests run in parallel: each gateway's control API on a port of its own.
          control:
            ip: 127.0.0.1
            port: {Ports.GetFree()}
        deployment:
          role: data_plane
          role_data_plane:
            config_provider: yaml
        {extra}
        """;

    public static string Gateway(int port, string extra = "") => Gateway([$"127.0.0.1:{port}"], extra);

    /// <summary>One route for all traffic to one upstream of the given nodes.</summary>
    public static string SingleRoute(string nodesYaml, string upstreamExtra = "") => $"""
        stream_routes:
          - id: 1
            upstream_id: u1
        upstreams:
          - id: u1
            type: roundrobin
            nodes:
        {nodesYaml}
        {upstreamExtra}
        #END
        """;

    public static string Node(string address, int weight = 1) => $"      \"{address}\": {weight}";

    /// <summary>One route for all traffic to one node (an inline upstream).</summary>
    public static string RouteTo(string node) => $$"""
        stream_routes:
          - id: 1
            upstream:
              nodes: {"{{node}}": 1}
        #END
        """;

    /// <summary>config.yaml lines that set the number of event loops (nginx_config.worker_processes).</summary>
    public static string Loops(int count) => $"nginx_config:\n  worker_processes: {count}\n";
}
