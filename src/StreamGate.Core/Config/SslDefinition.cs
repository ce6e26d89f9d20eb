using System.Text.Json.Nodes;
using static StreamGate.Config.CommonDefinitions;
using static StreamGate.Config.SchemaBuilder;

namespace StreamGate.Config;

/// <summary>
/// The ssl object, as APISIX's schema_def.lua ssl: validated against and served by <c>/schema/ssl</c>. The
/// certificates themselves are parsed after the schema (<see cref="SslParser"/>, APISIX's ssl.lua check_ssl_conf).
/// </summary>
internal static class SslDefinition
{
    /// <summary>The longest PEM text APISIX's certificate_scheme takes.</summary>
    public const int MaxPemLength = 64 * 1024;

    /// <summary>APISIX's secret_uri_schema: a <c>$secret://</c> or <c>$ENV://</c> reference, resolved when served.</summary>
    public const string SecretReferencePattern = "^(\\$secret://|\\$[Ee][Nn][Vv]://)";

    public static JsonObject Schema { get; } = Build();

    private static JsonObject Build()
    {
        var properties = Common(withName: false);
        properties["validity_start"] = OfType("integer");
        properties["validity_end"] = OfType("integer");
        properties["type"] = Enum(["server", "client"], "server");
        properties["cert"] = Pem(128);
        properties["key"] = Pem(64);
        properties["sni"] = Str(pattern: HostPattern);
        properties["snis"] = new JsonObject { ["type"] = "array", ["minItems"] = 1, ["items"] = Str(pattern: HostPattern) };
        properties["certs"] = new JsonObject { ["type"] = "array", ["items"] = Pem(128) };
        properties["keys"] = new JsonObject { ["type"] = "array", ["items"] = Pem(64) };
        properties["client"] = Object(
            new JsonObject
            {
                ["ca"] = Pem(128),
                ["depth"] = Integer(0, 16).With("default", 1),
                ["skip_mtls_uri_regex"] = new JsonObject { ["type"] = "array", ["minItems"] = 1, ["items"] = Str() },
            },
            "ca");
        properties["status"] = new JsonObject { ["type"] = "integer", ["enum"] = new JsonArray(1, 0), ["default"] = 1 };
        properties["ssl_protocols"] = new JsonObject
        {
            ["type"] = "array",
            ["maxItems"] = 3,
            ["uniqueItems"] = true,
            ["items"] = new JsonObject { ["enum"] = new JsonArray("TLSv1.1", "TLSv1.2", "TLSv1.3") },
        };
        var schema = Object(properties);
        schema["if"] = new JsonObject { ["properties"] = new JsonObject { ["type"] = new JsonObject { ["enum"] = new JsonArray("server") } } };
        schema["then"] = new JsonObject
        {
            ["description"] = "a server certificate needs cert, key and either sni or snis (not both): the names it is served for",
            ["oneOf"] = new JsonArray(
                new JsonObject { ["required"] = Names("sni", "key", "cert") },
                new JsonObject { ["required"] = Names("snis", "key", "cert") }),
        };
        // A client certificate's missing key or cert is named, as the parser always has.
        schema["else"] = new JsonObject { ["required"] = Names("key", "cert") }.ReportedOwn();
        return schema;
    }

    /// <summary>A PEM text of APISIX's lengths (answered in its own words when too short), or a secret reference of any length.</summary>
    private static JsonObject Pem(int minLength) => new()
    {
        ["anyOf"] = new JsonArray(Str(minLength, MaxPemLength).ReportedOwn(), Str(pattern: SecretReferencePattern)),
    };
}
