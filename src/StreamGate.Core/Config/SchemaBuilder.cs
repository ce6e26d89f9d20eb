using System.Text.Json.Nodes;

namespace StreamGate.Config;

/// <summary>
/// Short builders for the schema definitions (<see cref="UpstreamDefinition"/>, ...), so a definition reads like
/// APISIX's schema_def.lua. Every call makes a new node: a JSON node has one parent, so shared pieces are built
/// once per place they appear.
/// </summary>
internal static class SchemaBuilder
{
    public static JsonObject Str(int? minLength = null, int? maxLength = null, string? pattern = null)
    {
        var s = new JsonObject { ["type"] = "string" };
        if (minLength is { } min)
        {
            s["minLength"] = min;
        }
        if (maxLength is { } max)
        {
            s["maxLength"] = max;
        }
        if (pattern is not null)
        {
            s["pattern"] = pattern;
        }
        return s;
    }

    public static JsonObject Enum(IEnumerable<string> values, string? defaultValue = null)
    {
        var s = new JsonObject { ["type"] = "string", ["enum"] = new JsonArray([.. values.Select(v => (JsonNode)v)]) };
        if (defaultValue is not null)
        {
            s["default"] = defaultValue;
        }
        return s;
    }

    public static JsonObject Integer(long? minimum = null, long? maximum = null)
    {
        var s = new JsonObject { ["type"] = "integer" };
        if (minimum is { } min)
        {
            s["minimum"] = min;
        }
        if (maximum is { } max)
        {
            s["maximum"] = max;
        }
        return s;
    }

    public static JsonObject OfType(string type) => new() { ["type"] = type };

    /// <summary>A field taken without checks: its description says why (accepted and ignored, or refused when set).</summary>
    public static JsonObject Described(string description) => new() { ["description"] = description };

    /// <summary>An object of these properties and no others (APISIX's objects have additionalProperties false).</summary>
    public static JsonObject Object(JsonObject properties, params string[] required)
    {
        var s = new JsonObject { ["type"] = "object", ["properties"] = properties };
        if (required.Length > 0)
        {
            s["required"] = Names(required);
        }
        s["additionalProperties"] = false;
        return s;
    }

    public static JsonArray Names(params string[] names) => new([.. names.Select(n => (JsonNode)n)]);

    public static JsonObject With(this JsonObject schema, string keyword, JsonNode? value)
    {
        schema[keyword] = value;
        return schema;
    }

    /// <summary>Marks a branch whose failures are answered in their own words (<see cref="SchemaValidator.ReportOwn"/>).</summary>
    public static JsonObject ReportedOwn(this JsonObject schema) => schema.With(SchemaValidator.ReportOwn, "own");
}
