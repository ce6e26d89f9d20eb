using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using StreamGate.Config;
using StreamGate.Health;
using StreamGate.Runtime;
using StreamGate.Upstreams;

namespace StreamGate.Admin;

/// <summary>
/// APISIX's control API health checks (apisix/control/v1.lua, get_health_checkers and get_health_checker):
/// <c>GET /v1/healthcheck</c> lists every checked upstream, <c>GET /v1/healthcheck/{src_type}/{src_id}</c> one,
/// where src_type is upstreams, stream_routes or services (an inline upstream) or routes (HTTP, none here).
/// </summary>
/// <remarks>
/// Shapes as t/control/healthcheck.t and t/stream-node/control-api-healthcheck.t have them: an entry is
/// <c>{"name": resource key, "nodes": [...], "type": active.type or passive.type}</c>, a node
/// <c>{"counter": {"http_failure", "success", "tcp_failure", "timeout_failure"}, "hostname", "ip", "port", "status"}</c>
/// (lua-resty-healthcheck's get_target_list: hostname is checks.active.host or the ip, port the probed one, status
/// healthy, mostly_healthy, unhealthy or mostly_unhealthy); keys in that (sorted) order. The resource key is the
/// store's, <c>/apisix/upstreams/1</c>, or the standalone file's, <c>/upstreams/1</c>. No checker at all is
/// <c>{}</c>, cjson's empty table. With <c>Accept: text/html</c> the answer is APISIX's HTML table.
/// </remarks>
internal static class HealthCheckApi
{
    public static void Map(IEndpointRouteBuilder app, SnapshotHolder snapshots, string keyPrefix)
    {
        app.MapGet("/v1/healthcheck", (HttpContext context) => Answer(context, All(snapshots.Current, keyPrefix), single: false));
        app.MapGet("/v1/healthcheck/{type}", (string type) => Error(404, $"missing src id for src type {type}"));
        app.MapGet("/v1/healthcheck/{type}/{id}", (HttpContext context, string type, string id) =>
        {
            var (info, status, error) = One(snapshots.Current, keyPrefix, type, id);
            return info is null ? Error(status, error!) : Answer(context, [info], single: true);
        });
    }

    /// <summary>Every checked upstream, in APISIX's order: stream routes' inline upstreams, services', then upstreams.</summary>
    private static List<JsonObject> All(RuntimeSnapshot snapshot, string keyPrefix)
    {
        var built = Built(snapshot);
        var infos = new List<JsonObject>();
        foreach (var route in snapshot.Source.Routes)
        {
            Add(infos, built, route.Upstream, "route:" + route.Id, $"{keyPrefix}/stream_routes/{route.Id}");
        }
        foreach (var (id, service) in snapshot.Source.Services)
        {
            Add(infos, built, service.Upstream, "service:" + id, $"{keyPrefix}/services/{id}");
        }
        foreach (var (id, upstream) in snapshot.Source.Upstreams)
        {
            Add(infos, built, upstream, id, $"{keyPrefix}/upstreams/{id}");
        }
        return infos;
    }

    private static void Add(List<JsonObject> infos, Dictionary<string, Upstream> built, UpstreamConfig? config, string upstreamId, string name)
    {
        if (config?.Checks is { } checks && built.TryGetValue(upstreamId, out var upstream))
        {
            infos.Add(Info(name, checks, upstream));
        }
    }

    /// <summary>APISIX's iter_and_find_healthcheck_info: the entry, or the status and error_msg it answers.</summary>
    private static (JsonObject? Info, int Status, string? Error) One(RuntimeSnapshot snapshot, string keyPrefix, string type, string id)
    {
        if (type is not ("upstreams" or "stream_routes" or "services" or "routes"))
        {
            return (null, 400, $"invalid src type {type}");
        }
        var source = snapshot.Source;
        (bool Found, UpstreamConfig? Upstream, string UpstreamId) target = type switch
        {
            "upstreams" => source.Upstreams.TryGetValue(id, out var upstream) ? (true, upstream, id) : default,
            "stream_routes" => source.Routes.FirstOrDefault(r => r.Id == id) is { } route ? (true, route.Upstream, "route:" + id) : default,
            "services" => source.Services.TryGetValue(id, out var service) ? (true, service.Upstream, "service:" + id) : default,
            // routes: APISIX's HTTP routes, of which this gateway has none.
            _ => default,
        };
        if (!target.Found)
        {
            return (null, 404, $"{type}[{id}] not found");
        }
        if (target.Upstream?.Checks is not { } checks || !Built(snapshot).TryGetValue(target.UpstreamId, out var built))
        {
            return (null, 404, $"no checker for {type}[{id}]");
        }
        return (Info($"{keyPrefix}/{type}/{id}", checks, built), 200, null);
    }

    private static Dictionary<string, Upstream> Built(RuntimeSnapshot snapshot)
    {
        var built = new Dictionary<string, Upstream>(StringComparer.Ordinal);
        foreach (var upstream in snapshot.Upstreams)
        {
            built[upstream.Id] = upstream;
        }
        return built;
    }

    private static JsonObject Info(string name, ChecksConfig checks, Upstream upstream)
    {
        var nodes = new JsonArray();
        // lua-resty-healthcheck's add_target ignores a target it has (same ip, port and hostname).
        var seen = new HashSet<(string, int, string)>();
        foreach (var health in upstream.Health ?? [])
        {
            var ip = health.Address?.ToString() ?? health.Host;
            var hostname = checks.Active?.Host ?? ip;
            if (!seen.Add((ip, health.ProbePort, hostname)))
            {
                continue;
            }
            var counters = health.Counters;
            nodes.Add(new JsonObject
            {
                ["counter"] = new JsonObject
                {
                    ["http_failure"] = counters.HttpFailure,
                    ["success"] = counters.Success,
                    ["tcp_failure"] = counters.TcpFailure,
                    ["timeout_failure"] = counters.TimeoutFailure,
                },
                ["hostname"] = hostname,
                ["ip"] = ip,
                ["port"] = health.ProbePort,
                ["status"] = health.State.Name(),
            });
        }
        return new JsonObject
        {
            ["name"] = name,
            ["nodes"] = nodes,
            ["type"] = checks.Active?.Type ?? checks.Passive?.Type ?? "http",
        };
    }

    private static IResult Answer(HttpContext context, List<JsonObject> infos, bool single)
    {
        if (context.Request.Headers.Accept.ToString().Contains("text/html", StringComparison.Ordinal))
        {
            return Results.Content(Html(infos), "text/html");
        }
        if (single)
        {
            return Results.Json(infos[0]);
        }
        // cjson encodes an empty Lua table as an object: APISIX answers {} when nothing is checked (healthcheck.t TEST 4).
        return infos.Count == 0 ? Results.Content("{}", "application/json") : Results.Json(new JsonArray([.. infos]));
    }

    private static IResult Error(int status, string message) => Results.Json(new JsonObject { ["error_msg"] = message }, statusCode: status);

    /// <summary>APISIX's HTML_TEMPLATE: one row per node, unhealthy rows red.</summary>
    private static string Html(List<JsonObject> infos)
    {
        var html = new StringBuilder("""
            <html xmlns="http://www.w3.org/1999/xhtml">
            <head>
              <title>APISIX upstream check status</title>
            </head>
            <body>
            <h1>APISIX upstream check status</h1>
            <table style="background-color:white" cellspacing="0" cellpadding="3" border="1">
              <tr bgcolor="#C0C0C0">
                <th>Index</th>
                <th>Upstream</th>
                <th>Check type</th>
                <th>Host</th>
                <th>Status</th>
                <th>Success counts</th>
                <th>TCP Failures</th>
                <th>HTTP Failures</th>
                <th>TIMEOUT Failures</th>
              </tr>

            """);
        var index = 0;
        foreach (var info in infos)
        {
            foreach (var node in info["nodes"]!.AsArray())
            {
                index++;
                var status = node!["status"]!.GetValue<string>();
                var counter = node["counter"]!;
                html.Append(status is "healthy" or "mostly_healthy" ? "  <tr>\n" : "  <tr bgcolor=\"#FF0000\">\n");
                foreach (var cell in (ReadOnlySpan<string?>)[
                    index.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    info["name"]!.GetValue<string>(),
                    info["type"]!.GetValue<string>(),
                    $"{node["ip"]}:{node["port"]}",
                    status,
                    counter["success"]!.ToString(),
                    counter["tcp_failure"]!.ToString(),
                    counter["http_failure"]!.ToString(),
                    counter["timeout_failure"]!.ToString()])
                {
                    html.Append("    <td>").Append(WebUtility.HtmlEncode(cell)).Append("</td>\n");
                }
                html.Append("  </tr>\n");
            }
        }
        html.Append("</table>\n</body>\n</html>\n");
        return html.ToString();
    }
}
