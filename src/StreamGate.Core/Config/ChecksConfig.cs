namespace StreamGate.Config;

/// <summary>
/// An upstream's <c>checks</c> (APISIX's health_checker schema, with its defaults). Records compare by value, so
/// two upstreams with the same checks share one probe per node (<see cref="Health.HealthRegistry"/>).
/// </summary>
/// <remarks>StreamGate accepts <see cref="Passive"/> without <see cref="Active"/> (beyond APISIX, whose schema requires active).</remarks>
internal sealed record ChecksConfig(ActiveCheckConfig? Active, PassiveCheckConfig? Passive);

/// <summary>Probes the gateway sends on its own, from the moment the upstream is configured.</summary>
internal sealed record ActiveCheckConfig
{
    /// <summary>http (APISIX's default), https or tcp.</summary>
    public string Type { get; init; } = "http";

    /// <summary>Seconds one probe may take.</summary>
    public double Timeout { get; init; } = 1;

    /// <summary>Probes of one check in flight at once.</summary>
    public int Concurrency { get; init; } = 10;

    /// <summary>The Host header of http probes (and the TLS server name of https ones); null: the node's host.</summary>
    public string? Host { get; init; }

    /// <summary>Probe this port instead of the node's.</summary>
    public int? Port { get; init; }

    /// <summary>The request method of http probes (APISIX 3.x's http_method).</summary>
    public string HttpMethod { get; init; } = "GET";

    public string HttpPath { get; init; } = "/";

    /// <summary>The request body of http probes; a non-empty one is sent with its Content-Length (APISIX's http_req_body).</summary>
    public string HttpReqBody { get; init; } = "";

    public bool HttpsVerifyCertificate { get; init; } = true;

    public IReadOnlyList<string> ReqHeaders { get; init; } = [];

    /// <summary>tcp: bytes sent once connected (ours: HAProxy's tcp-check send).</summary>
    public string? Send { get; init; }

    /// <summary>tcp: the reply must contain this (ours: HAProxy's tcp-check expect string).</summary>
    public string? Expect { get; init; }

    public ActiveHealthyConfig Healthy { get; init; } = new();

    public ActiveUnhealthyConfig Unhealthy { get; init; } = new();

    public bool Equals(ActiveCheckConfig? other) =>
        other is not null && Type == other.Type && Timeout.Equals(other.Timeout) && Concurrency == other.Concurrency &&
        Host == other.Host && Port == other.Port && HttpMethod == other.HttpMethod && HttpPath == other.HttpPath && HttpReqBody == other.HttpReqBody && HttpsVerifyCertificate == other.HttpsVerifyCertificate &&
        ReqHeaders.SequenceEqual(other.ReqHeaders) && Send == other.Send && Expect == other.Expect &&
        Healthy.Equals(other.Healthy) && Unhealthy.Equals(other.Unhealthy);

    public override int GetHashCode() => HashCode.Combine(Type, Timeout, Host, Port, HttpPath, Send, Expect, Healthy);
}

internal sealed record ActiveHealthyConfig
{
    /// <summary>Seconds between probes of a healthy node.</summary>
    public int Interval { get; init; } = 1;

    public IReadOnlyList<int> HttpStatuses { get; init; } = [200, 302];

    /// <summary>Successful probes in a row that make an unhealthy node healthy.</summary>
    public int Successes { get; init; } = 2;

    public bool Equals(ActiveHealthyConfig? other) =>
        other is not null && Interval == other.Interval && Successes == other.Successes && HttpStatuses.SequenceEqual(other.HttpStatuses);

    public override int GetHashCode() => HashCode.Combine(Interval, Successes, HttpStatuses.Count);
}

internal sealed record ActiveUnhealthyConfig
{
    /// <summary>Seconds between probes of an unhealthy node.</summary>
    public int Interval { get; init; } = 1;

    public IReadOnlyList<int> HttpStatuses { get; init; } = [429, 404, 500, 501, 502, 503, 504, 505];

    public int HttpFailures { get; init; } = 5;

    public int TcpFailures { get; init; } = 2;

    public int Timeouts { get; init; } = 3;

    public bool Equals(ActiveUnhealthyConfig? other) =>
        other is not null && Interval == other.Interval && HttpFailures == other.HttpFailures && TcpFailures == other.TcpFailures &&
        Timeouts == other.Timeouts && HttpStatuses.SequenceEqual(other.HttpStatuses);

    public override int GetHashCode() => HashCode.Combine(Interval, HttpFailures, TcpFailures, Timeouts, HttpStatuses.Count);
}

/// <summary>What real traffic says: connect failures and timeouts of proxied connections.</summary>
internal sealed record PassiveCheckConfig
{
    public string Type { get; init; } = "http";

    public PassiveHealthyConfig Healthy { get; init; } = new();

    public PassiveUnhealthyConfig Unhealthy { get; init; } = new();
}

internal sealed record PassiveHealthyConfig
{
    public IReadOnlyList<int> HttpStatuses { get; init; } = [200, 201, 202, 203, 204, 205, 206, 207, 208, 226, 300, 301, 302, 303, 304, 305, 306, 307, 308];

    /// <summary>Successful connections in a row that make an unhealthy node healthy (0: never by traffic).</summary>
    public int Successes { get; init; } = 5;

    public bool Equals(PassiveHealthyConfig? other) =>
        other is not null && Successes == other.Successes && HttpStatuses.SequenceEqual(other.HttpStatuses);

    public override int GetHashCode() => HashCode.Combine(Successes, HttpStatuses.Count);
}

internal sealed record PassiveUnhealthyConfig
{
    public IReadOnlyList<int> HttpStatuses { get; init; } = [429, 500, 503];

    public int HttpFailures { get; init; } = 5;

    /// <summary>Failed connects (refused, reset) in a row that make a node unhealthy (0: not counted).</summary>
    public int TcpFailures { get; init; } = 2;

    /// <summary>Connect timeouts in a row that make a node unhealthy (0: not counted).</summary>
    public int Timeouts { get; init; } = 7;

    /// <summary>
    /// Ours: seconds after which a node passive checks marked unhealthy gets traffic again when the upstream has no
    /// active checks to bring it back (nginx's fail_timeout). With active checks, probes decide.
    /// </summary>
    public double RecoverAfter { get; init; } = 10;

    public bool Equals(PassiveUnhealthyConfig? other) =>
        other is not null && HttpFailures == other.HttpFailures && TcpFailures == other.TcpFailures && Timeouts == other.Timeouts &&
        RecoverAfter.Equals(other.RecoverAfter) && HttpStatuses.SequenceEqual(other.HttpStatuses);

    public override int GetHashCode() => HashCode.Combine(TcpFailures, Timeouts, RecoverAfter);
}
