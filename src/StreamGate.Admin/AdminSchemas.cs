namespace StreamGate.Admin;

/// <summary>JSON schemas served by /apisix/admin/schema/{name}, describing what the validators accept.</summary>
internal static class AdminSchemas
{
    private const string Id = """{"anyOf":[{"type":"string","minLength":1,"maxLength":64,"pattern":"^[a-zA-Z0-9-_.]+$"},{"type":"integer","minimum":1}]}""";
    private const string Ip = """{"type":"string","anyOf":[{"format":"ipv4"},{"format":"ipv6"},{"pattern":"^([0-9]{1,3}\\.){3}[0-9]{1,3}/[0-9]{1,2}$"},{"pattern":"^[0-9a-fA-F:.]+/[0-9]{1,3}$"}]}""";
    private const string Labels = """{"type":"object","patternProperties":{".*":{"type":"string","minLength":1,"maxLength":256} } }""";

    private static readonly string Upstream = $$$"""
        {"type":"object","properties":{
          "id":{{{Id}}},"name":{"type":"string","minLength":1,"maxLength":100},"desc":{"type":"string","maxLength":256},"labels":{{{Labels}}},
          "nodes":{"anyOf":[
            {"type":"object","patternProperties":{".*":{"type":"integer","minimum":0} } },
            {"type":"array","items":{"type":"object","properties":{"host":{"type":"string"},"port":{"type":"integer","minimum":1,"maximum":65535},"weight":{"type":"integer","minimum":0},"priority":{"type":"integer","default":0},"metadata":{"type":"object"} },"required":["host","port","weight"]} }]},
          "type":{"type":"string","enum":["roundrobin"],"default":"roundrobin"},
          "retries":{"type":"integer","minimum":0},"retry_timeout":{"type":"number","minimum":0},
          "timeout":{"type":"object","properties":{"connect":{"type":"number","exclusiveMinimum":0},"send":{"type":"number","exclusiveMinimum":0},"read":{"type":"number","exclusiveMinimum":0} } },
          "scheme":{"type":"string","enum":["tcp"],"default":"tcp"} },
         "required":["nodes"],"additionalProperties":false}
        """;

    private static readonly string StreamRoute = $$$"""
        {"type":"object","properties":{
          "id":{{{Id}}},"name":{"type":"string","minLength":1,"maxLength":100},"desc":{"type":"string","maxLength":256},"labels":{{{Labels}}},
          "remote_addr":{{{Ip}}},"server_addr":{{{Ip}}},"server_port":{"type":"integer","minimum":1,"maximum":65535},
          "upstream":{{{Upstream}}},"upstream_id":{{{Id}}},"service_id":{{{Id}}},
          "plugins":{"type":"object"} },
         "additionalProperties":false}
        """;

    public static string? Get(string name) => name switch
    {
        "stream_route" => StreamRoute,
        "upstream" => Upstream,
        _ => null,
    };
}
