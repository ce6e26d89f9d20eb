using System.Text.Json.Nodes;
using static StreamGate.Config.SchemaBuilder;

namespace StreamGate.Config;

/// <summary>
/// The pieces every resource definition shares, as APISIX's schema_def.lua has them: id_schema, rule_name_def,
/// desc_def, labels_def, the admin API's times.
/// </summary>
internal static class CommonDefinitions
{
    /// <summary>APISIX's id pattern; 1-64 characters.</summary>
    public const string IdPattern = "^[a-zA-Z0-9-_.]+$";

    /// <summary>APISIX's host_def pattern (node hosts, ssl sni); the parser then holds a node host to RFC 1123.</summary>
    public const string HostPattern = "^\\*$|^\\*?[0-9a-zA-Z-._\\[\\]:]+$";

    /// <summary>APISIX's rule_name_def and desc_def: names 1-256 characters, descriptions up to 256.</summary>
    public const int MaxNameLength = 256;

    public const int MaxDescLength = 256;

    /// <summary>
    /// The largest timeout in seconds: 2^31-1 ms (about 24.8 days), the most nginx's Lua timeout setters take.
    /// APISIX's schema has no maximum; a larger value (<c>1e16</c>) overflows a millisecond deadline.
    /// </summary>
    public const double MaxTimeoutSeconds = 2147483.647;

    public const string NotYet = "not available in this StreamGate version yet: refused when set";

    public const string Ignored = "accepted and ignored: APISIX's HTTP side uses it";

    /// <summary>APISIX's id_schema: a string of 1-64 of <c>[a-zA-Z0-9-_.]</c> or an integer of at least 1; the description is our hint.</summary>
    public static JsonObject Id() => new()
    {
        ["description"] = "an id is a string of 1-64 of [a-zA-Z0-9-_.] or an integer of at least 1",
        ["anyOf"] = new JsonArray(Str(1, 64, IdPattern), Integer(1)),
    };

    /// <summary>APISIX's labels_def: an object of non-blank strings of 1-256 characters.</summary>
    public static JsonObject Labels() => new()
    {
        ["type"] = "object",
        ["patternProperties"] = new JsonObject { [".*"] = Str(1, 256, "^\\S+$") },
    };

    /// <summary>id, name, desc, labels, create_time, update_time: the metadata of every object, first in its properties.</summary>
    public static JsonObject Common(bool withName = true)
    {
        var properties = new JsonObject { ["id"] = Id() };
        if (withName)
        {
            properties["name"] = Str(1, MaxNameLength);
        }
        properties["desc"] = Str(maxLength: MaxDescLength);
        properties["labels"] = Labels();
        properties["create_time"] = OfType("integer");
        properties["update_time"] = OfType("integer");
        return properties;
    }

    public static JsonObject Seconds(bool exclusiveMinimum) => exclusiveMinimum
        ? new JsonObject { ["type"] = "number", ["exclusiveMinimum"] = 0, ["maximum"] = MaxTimeoutSeconds }
        : new JsonObject { ["type"] = "number", ["minimum"] = 0, ["maximum"] = MaxTimeoutSeconds };
}
