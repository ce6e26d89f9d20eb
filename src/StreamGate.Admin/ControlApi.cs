using System.Text.Json;
using System.Text.Json.Nodes;
using Prometheus;
using StreamGate.Runtime;

namespace StreamGate.Admin;

/// <summary>
/// The read-only control API (APISIX's control port, 9090): what the data plane is serving right now and at
/// which store revision, which stored objects it leaves out and why, the last configuration it refused, and
/// the health of checked nodes (<see cref="HealthCheckApi"/>), for operators and tests.
/// </summary>
internal static class ControlApi
{
    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
    };

    /// <param name="keyPrefix">What resource keys start with in names the control API shows: the store's prefix (/apisix), or "" for apisix.yaml (APISIX's yaml keys are /upstreams/1).</param>
    public static void Map(IEndpointRouteBuilder app, SnapshotHolder snapshots, string keyPrefix = "")
    {
        HealthCheckApi.Map(app, snapshots, keyPrefix);
        app.MapGet("/v1/config", () =>
        {
            var s = snapshots.Current;
            var skipped = new JsonArray();
            foreach (var item in s.Skipped)
            {
                skipped.Add(new JsonObject { ["key"] = item.Key, ["reason"] = item.Reason });
            }
            var answer = new JsonObject
            {
                ["revision"] = s.Version,
                ["applied_at"] = s.AppliedAt.ToUnixTimeMilliseconds(),
                ["stream_routes"] = s.Routes.Routes.Count,
                ["upstreams"] = s.Source.Upstreams.Count,
                ["services"] = s.Source.Services.Count,
                ["skipped_count"] = s.Skipped.Count,
                ["skipped"] = skipped,
                ["source_reads"] = snapshots.SourceReads,
                ["source_checks"] = snapshots.SourceChecks,
            };
            if (snapshots.Rejection is { } rejected)
            {
                answer["rejected"] = new JsonObject
                {
                    ["at"] = rejected.At.ToUnixTimeMilliseconds(),
                    ["revision"] = rejected.Version,
                    ["reason"] = rejected.Reason,
                };
            }
            return Results.Json(answer);
        });
        // Prometheus text exposition of the configuration metrics (ours; APISIX has no equivalent on its control port).
        app.MapGet("/v1/metrics", async (HttpContext context) =>
        {
            context.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
            await snapshots.Metrics.Registry.CollectAndExportAsTextAsync(context.Response.Body, context.RequestAborted).ConfigureAwait(false);
        });
        app.MapGet("/v1/stream_routes", () => Results.Json(snapshots.Current.Source.Routes, Json));
        app.MapGet("/v1/stream_routes/{id}", (string id) =>
            snapshots.Current.Source.Routes.FirstOrDefault(r => r.Id == id) is { } route
                ? Results.Json(route, Json)
                : Results.Json(new JsonObject { ["message"] = "not found" }, statusCode: 404));
        app.MapGet("/v1/upstreams", () => Results.Json(snapshots.Current.Source.Upstreams.Values, Json));
        app.MapGet("/v1/services", () => Results.Json(snapshots.Current.Source.Services.Values, Json));
    }
}
