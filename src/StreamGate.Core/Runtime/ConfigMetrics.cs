using Prometheus;

namespace StreamGate.Runtime;

/// <summary>
/// Metrics of the configuration the data plane serves: the revision applied, the stored objects left out of
/// it (by resource type) and how many newer configurations were refused whole. They change only when a
/// configuration is applied or refused, never per connection. A registry per gateway instance, so processes
/// that host several gateways (tests) keep them apart.
/// </summary>
internal sealed class ConfigMetrics
{
    /// <summary>The resource types a skipped object's key can name, so each applied snapshot sets every one (0 included).</summary>
    private static readonly string[] Resources = ["stream_routes", "upstreams", "services", "ssls", "plugin_metadata"];

    private readonly Gauge _skipped;
    private readonly Gauge _revision;
    private readonly Counter _rejected;

    public ConfigMetrics()
    {
        Registry = Metrics.NewCustomRegistry();
        // No process or runtime collectors here: this registry holds what only the gateway knows.
        var factory = Metrics.WithCustomRegistry(Registry);
        _skipped = factory.CreateGauge(
            "streamgate_config_skipped_objects",
            "Stored objects left out of the served configuration because they could not be built (GET /v1/config lists them)",
            new GaugeConfiguration { LabelNames = ["resource"] });
        _revision = factory.CreateGauge("streamgate_config_revision", "Store revision (or file version) of the configuration being served");
        _rejected = factory.CreateCounter("streamgate_config_rejected_total", "Newer configurations refused whole; the last good one kept serving");
        foreach (var resource in Resources)
        {
            _skipped.WithLabels(resource).Set(0);
        }
    }

    public CollectorRegistry Registry { get; }

    public void Applied(RuntimeSnapshot snapshot)
    {
        Span<int> counts = stackalloc int[Resources.Length];
        foreach (var item in snapshot.Skipped)
        {
            var index = Array.IndexOf(Resources, ResourceOf(item.Key));
            if (index >= 0)
            {
                counts[index]++;
            }
        }
        for (var i = 0; i < Resources.Length; i++)
        {
            _skipped.WithLabels(Resources[i]).Set(counts[i]);
        }
        _revision.Set(snapshot.Version);
    }

    public void Rejected() => _rejected.Inc();

    /// <summary>"/apisix/upstreams/1" -> "upstreams": the segment before the id, whatever the prefix.</summary>
    internal static string ResourceOf(string key)
    {
        var trimmed = key.AsSpan().TrimEnd('/');
        var idStart = trimmed.LastIndexOf('/');
        if (idStart <= 0)
        {
            return "";
        }
        var typePart = trimmed[..idStart];
        return typePart[(typePart.LastIndexOf('/') + 1)..].ToString();
    }
}
