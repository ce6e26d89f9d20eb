using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace StreamGate.Config;

/// <summary>
/// Reads typed properties from one JSON object and records every violation with its path, in the message
/// forms of APISIX's JSON-schema checks (<c>property "x" validation failed: ...</c>), instead of stopping at the
/// first one. <see cref="Finish"/> reports properties the object may not have (additionalProperties: false).
/// </summary>
internal sealed class JsonObjectReader
{
    private readonly JsonObject _object;
    private readonly HashSet<string> _known = new(StringComparer.Ordinal);

    public JsonObjectReader(JsonObject obj, string path, List<ConfigError> errors)
    {
        _object = obj;
        Path = path;
        Errors = errors;
    }

    public string Path { get; }

    public List<ConfigError> Errors { get; }

    public bool Has(string name) => _object.ContainsKey(name) && _object[name] is not null;

    public string Child(string name) => Path.Length == 0 ? name : $"{Path}.{name}";

    public void Error(string name, string message) => Errors.Add(new ConfigError(Child(name), $"property \"{name}\" validation failed: {message}"));

    /// <summary>Marks names as allowed without reading them (read elsewhere, or accepted and ignored).</summary>
    public void Allow(params ReadOnlySpan<string> names)
    {
        foreach (var name in names)
        {
            _known.Add(name);
        }
    }

    public JsonNode? Node(string name)
    {
        _known.Add(name);
        return _object[name];
    }

    public string? String(string name, int minLength = 0, int maxLength = int.MaxValue, Regex? pattern = null)
    {
        var node = Node(name);
        if (node is null)
        {
            return null;
        }
        if (node.GetValueKind() != JsonValueKind.String)
        {
            Error(name, $"wrong type: expected string, got {Describe(node)}");
            return null;
        }
        var value = node.GetValue<string>();
        if (value.Length < minLength)
        {
            Error(name, $"string too short, expected at least {minLength}, got {value.Length}");
            return null;
        }
        if (value.Length > maxLength)
        {
            Error(name, $"string too long, expected at most {maxLength}, got {value.Length}");
            return null;
        }
        if (pattern is not null && !pattern.IsMatch(value))
        {
            Error(name, $"failed to match pattern \"{pattern}\" with \"{value}\"");
            return null;
        }
        return value;
    }

    public long? Integer(string name, long minimum = long.MinValue, long maximum = long.MaxValue)
    {
        var node = Node(name);
        if (node is null)
        {
            return null;
        }
        if (!TryGetInteger(node, out var value))
        {
            Error(name, $"wrong type: expected integer, got {Describe(node)}");
            return null;
        }
        return InRange(name, value, minimum, maximum) ? value : null;
    }

    public double? Number(string name, double minimum = double.MinValue, double maximum = double.MaxValue, bool exclusiveMinimum = false)
    {
        var node = Node(name);
        if (node is null)
        {
            return null;
        }
        if (!TryGetNumber(node, out var value))
        {
            Error(name, $"wrong type: expected number, got {Describe(node)}");
            return null;
        }
        if (exclusiveMinimum ? value <= minimum : value < minimum)
        {
            Error(name, exclusiveMinimum ? $"expected {value} to be greater than {minimum}" : $"expected {value} to be at least {minimum}");
            return null;
        }
        if (value > maximum)
        {
            Error(name, $"expected {value} to be at most {maximum}");
            return null;
        }
        return value;
    }

    public bool? Boolean(string name)
    {
        var node = Node(name);
        if (node is null)
        {
            return null;
        }
        var kind = node.GetValueKind();
        if (kind is not (JsonValueKind.True or JsonValueKind.False))
        {
            Error(name, $"wrong type: expected boolean, got {Describe(node)}");
            return null;
        }
        return kind == JsonValueKind.True;
    }

    public string? Enum(string name, params string[] allowed)
    {
        var value = String(name);
        if (value is not null && System.Array.IndexOf(allowed, value) < 0)
        {
            Error(name, $"matches none of the enum values: expected one of {string.Join(", ", allowed)}, got \"{value}\"");
            return null;
        }
        return value;
    }

    public JsonObject? Object(string name)
    {
        var node = Node(name);
        if (node is null)
        {
            return null;
        }
        if (node is not JsonObject obj)
        {
            Error(name, $"wrong type: expected object, got {Describe(node)}");
            return null;
        }
        return obj;
    }

    public JsonArray? Array(string name)
    {
        var node = Node(name);
        if (node is null)
        {
            return null;
        }
        if (node is not JsonArray array)
        {
            Error(name, $"wrong type: expected array, got {Describe(node)}");
            return null;
        }
        return array;
    }

    /// <summary>Labels: an object of string values, as APISIX's labels_def.</summary>
    public IReadOnlyDictionary<string, string>? Labels(string name = "labels")
    {
        var obj = Object(name);
        if (obj is null)
        {
            return null;
        }
        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in obj)
        {
            if (value is null || value.GetValueKind() != JsonValueKind.String)
            {
                Error(name, $"label \"{key}\" must be a string");
                continue;
            }
            labels[key] = value.GetValue<string>();
        }
        return labels;
    }

    /// <summary>Reports every property nobody read or allowed: APISIX objects have additionalProperties false.</summary>
    public void Finish()
    {
        foreach (var (key, _) in _object)
        {
            if (!_known.Contains(key))
            {
                Errors.Add(new ConfigError(Child(key), $"additional properties forbidden, found {key}"));
            }
        }
    }

    public bool InRange(string name, long value, long minimum, long maximum)
    {
        if (value < minimum)
        {
            Error(name, $"expected {value} to be at least {minimum}");
            return false;
        }
        if (value > maximum)
        {
            Error(name, $"expected {value} to be at most {maximum}");
            return false;
        }
        return true;
    }

    public static bool TryGetInteger(JsonNode node, out long value)
    {
        value = 0;
        if (node.GetValueKind() != JsonValueKind.Number)
        {
            return false;
        }
        var element = (JsonValue)node;
        if (element.TryGetValue(out long l))
        {
            value = l;
            return true;
        }
        if (element.TryGetValue(out double d) && d == Math.Floor(d) && Math.Abs(d) < 9e15)
        {
            value = (long)d;
            return true;
        }
        if (element.TryGetValue(out JsonElement je) && je.TryGetInt64(out l))
        {
            value = l;
            return true;
        }
        return false;
    }

    /// <summary>A JSON number as double, whichever CLR type the node holds (YAML gives long or double, JSON a JsonElement).</summary>
    public static bool TryGetNumber(JsonNode node, out double value)
    {
        value = 0;
        if (node.GetValueKind() != JsonValueKind.Number)
        {
            return false;
        }
        var element = (JsonValue)node;
        if (element.TryGetValue(out double d))
        {
            value = d;
            return true;
        }
        if (element.TryGetValue(out long l))
        {
            value = l;
            return true;
        }
        if (element.TryGetValue(out JsonElement je) && je.TryGetDouble(out d))
        {
            value = d;
            return true;
        }
        return false;
    }

    public static string Describe(JsonNode? node) => node?.GetValueKind() switch
    {
        null or JsonValueKind.Null => "null",
        JsonValueKind.String => "string",
        JsonValueKind.Number => "number",
        JsonValueKind.True or JsonValueKind.False => "boolean",
        JsonValueKind.Array => "array",
        JsonValueKind.Object => "object",
        _ => "unknown",
    };
}
