using System.Text.Json;
using System.Text.Json.Nodes;

namespace StreamGate.Config;

/// <summary>
/// Builds <see cref="ChecksConfig"/> from an upstream's <c>checks</c> once the schema (APISIX's health_checker, in
/// <see cref="UpstreamDefinition"/>) holds for it: a value that is absent takes APISIX's default, as the schema's
/// <c>default</c>s fill it in there. The schema leaves the health checker's objects open and bounds little, so this
/// reads defensively: a value of another type is taken as absent, never thrown on, and the few values APISIX
/// accepts that a probe cannot run with are brought into range (<see cref="Active"/>).
/// </summary>
internal static class ChecksParser
{
    /// <summary>Null when <paramref name="checks"/> has neither active nor passive checks (the schema refuses that).</summary>
    public static ChecksConfig? Parse(JsonObject checks)
    {
        var active = checks["active"] as JsonObject;
        var passive = checks["passive"] as JsonObject;
        if (active is null && passive is null)
        {
            return null;
        }
        return new ChecksConfig(active is null ? null : Active(active), passive is null ? null : Passive(passive));
    }

    /// <summary>
    /// APISIX's schema has no bounds on timeout, concurrency or the intervals' maxima. A timeout of 0 or less
    /// would fail every probe before it starts, so it is APISIX's default (1 s); a concurrency below 1 is 1 (as
    /// lua-resty-healthcheck, which then runs every probe in one package); a timeout or interval past
    /// <see cref="CommonDefinitions.MaxTimeoutSeconds"/> is that, the longest timer the probes can arm.
    /// </summary>
    private static ActiveCheckConfig Active(JsonObject obj)
    {
        var defaults = new ActiveCheckConfig();
        var timeout = Number(obj, "timeout") ?? defaults.Timeout;
        var healthy = obj["healthy"] as JsonObject;
        var unhealthy = obj["unhealthy"] as JsonObject;
        return new ActiveCheckConfig
        {
            Type = String(obj, "type") ?? defaults.Type,
            Timeout = timeout > 0 ? Math.Min(timeout, CommonDefinitions.MaxTimeoutSeconds) : defaults.Timeout,
            Concurrency = (int)Math.Clamp(Integer(obj, "concurrency") ?? defaults.Concurrency, 1, int.MaxValue),
            Host = String(obj, "host"),
            Port = (int?)Integer(obj, "port"),
            HttpMethod = String(obj, "http_method") ?? defaults.HttpMethod,
            HttpPath = String(obj, "http_path") ?? defaults.HttpPath,
            HttpReqBody = String(obj, "http_req_body") ?? defaults.HttpReqBody,
            HttpsVerifyCertificate = Boolean(obj, "https_verify_certificate") ?? defaults.HttpsVerifyCertificate,
            ReqHeaders = Strings(obj, "req_headers") ?? defaults.ReqHeaders,
            Send = String(obj, "send"),
            Expect = String(obj, "expect"),
            Healthy = healthy is null ? defaults.Healthy : new ActiveHealthyConfig
            {
                Interval = Interval(healthy) ?? defaults.Healthy.Interval,
                HttpStatuses = Integers(healthy, "http_statuses") ?? defaults.Healthy.HttpStatuses,
                Successes = (int?)Integer(healthy, "successes") ?? defaults.Healthy.Successes,
            },
            Unhealthy = unhealthy is null ? defaults.Unhealthy : new ActiveUnhealthyConfig
            {
                Interval = Interval(unhealthy) ?? defaults.Unhealthy.Interval,
                HttpStatuses = Integers(unhealthy, "http_statuses") ?? defaults.Unhealthy.HttpStatuses,
                HttpFailures = (int?)Integer(unhealthy, "http_failures") ?? defaults.Unhealthy.HttpFailures,
                TcpFailures = (int?)Integer(unhealthy, "tcp_failures") ?? defaults.Unhealthy.TcpFailures,
                Timeouts = (int?)Integer(unhealthy, "timeouts") ?? defaults.Unhealthy.Timeouts,
            },
        };
    }

    private static PassiveCheckConfig Passive(JsonObject obj)
    {
        var defaults = new PassiveCheckConfig();
        var healthy = obj["healthy"] as JsonObject;
        var unhealthy = obj["unhealthy"] as JsonObject;
        return new PassiveCheckConfig
        {
            Type = String(obj, "type") ?? defaults.Type,
            Healthy = healthy is null ? defaults.Healthy : new PassiveHealthyConfig
            {
                HttpStatuses = Integers(healthy, "http_statuses") ?? defaults.Healthy.HttpStatuses,
                Successes = (int?)Integer(healthy, "successes") ?? defaults.Healthy.Successes,
            },
            Unhealthy = unhealthy is null ? defaults.Unhealthy : new PassiveUnhealthyConfig
            {
                HttpStatuses = Integers(unhealthy, "http_statuses") ?? defaults.Unhealthy.HttpStatuses,
                HttpFailures = (int?)Integer(unhealthy, "http_failures") ?? defaults.Unhealthy.HttpFailures,
                TcpFailures = (int?)Integer(unhealthy, "tcp_failures") ?? defaults.Unhealthy.TcpFailures,
                Timeouts = (int?)Integer(unhealthy, "timeouts") ?? defaults.Unhealthy.Timeouts,
                RecoverAfter = Number(unhealthy, "recover_after") is > 0 and var after
                    ? Math.Min(after, CommonDefinitions.MaxTimeoutSeconds)
                    : defaults.Unhealthy.RecoverAfter,
            },
        };
    }

    private static int? Interval(JsonObject obj) =>
        Integer(obj, "interval") is { } seconds ? (int)Math.Clamp(seconds, 1, (long)CommonDefinitions.MaxTimeoutSeconds) : null;

    private static string? String(JsonObject obj, string name) =>
        obj[name] is { } node && node.GetValueKind() == JsonValueKind.String ? node.GetValue<string>() : null;

    private static long? Integer(JsonObject obj, string name) =>
        obj[name] is { } node && JsonObjectReader.TryGetInteger(node, out var value) ? Math.Clamp(value, int.MinValue, int.MaxValue) : null;

    private static double? Number(JsonObject obj, string name) =>
        obj[name] is { } node && JsonObjectReader.TryGetNumber(node, out var value) ? value : null;

    private static bool? Boolean(JsonObject obj, string name) => obj[name]?.GetValueKind() switch
    {
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => null,
    };

    private static IReadOnlyList<string>? Strings(JsonObject obj, string name)
    {
        if (obj[name] is not JsonArray array)
        {
            return null;
        }
        var values = new List<string>(array.Count);
        foreach (var item in array)
        {
            if (item?.GetValueKind() == JsonValueKind.String)
            {
                values.Add(item.GetValue<string>());
            }
        }
        return values;
    }

    private static IReadOnlyList<int>? Integers(JsonObject obj, string name)
    {
        if (obj[name] is not JsonArray array)
        {
            return null;
        }
        var values = new List<int>(array.Count);
        foreach (var item in array)
        {
            if (item is not null && JsonObjectReader.TryGetInteger(item, out var value) && value is >= int.MinValue and <= int.MaxValue)
            {
                values.Add((int)value);
            }
        }
        return values;
    }
}
