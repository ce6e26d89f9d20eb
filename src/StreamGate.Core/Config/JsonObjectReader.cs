using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace StreamGate.Config;

/// <summary>
/// Reads typed properties from one JSON object and records every violation with its path, in the message
/// forms of APISIX's JSON-schema checks (<c>property "x" validation failed: ...</c>), instead of stopping at the
/// first one. <see cref="Finish"/> reports properties the object may not have (additionalProperties: false).
/// </summary>
internal sealed partial class JsonObjectReader
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
            Error(name, $"failed to match pattern \"{PatternText(pattern)}\" with \"{value}\"");
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
            Error(name, exclusiveMinimum ? $"expected {LuaNumber(value)} to be greater than {LuaNumber(minimum)}" : $"expected {LuaNumber(value)} to be at least {LuaNumber(minimum)}");
            return null;
        }
        if (value > maximum)
        {
            Error(name, $"expected {LuaNumber(value)} to be at most {LuaNumber(maximum)}");
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
            // APISIX's jsonschema message is this and no more; the allowed values are our hint.
            Errors.Add(new ConfigError(Child(name), $"property \"{name}\" validation failed: matches none of the enum values")
            {
                Hint = $"expected one of {string.Join(", ", allowed)}, got \"{value}\"",
            });
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

    /// <summary>
    /// Labels: an object of non-blank strings of 1-256 characters, as APISIX's labels_def (patternProperties ".*"
    /// of label_value_def), in its message form: <c>failed to validate env (matching ".*"): wrong type: expected string, got table</c>.
    /// </summary>
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
            var text = value?.GetValueKind() == JsonValueKind.String ? value.GetValue<string>() : null;
            var problem = text switch
            {
                null => $"wrong type: expected string, got {LuaType(value)}",
                { Length: 0 } => "string too short, expected at least 1, got 0",
                { Length: > 256 } => $"string too long, expected at most 256, got {text.Length}",
                _ when !LabelValuePattern().IsMatch(text) => $"failed to match pattern \"^\\S+$\" with \"{text}\"",
                _ => null,
            };
            if (problem is not null)
            {
                Error(name, $"failed to validate {key} (matching \".*\"): {problem}");
                continue;
            }
            labels[key] = text!;
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
        if (element.TryGetValue(out int i))
        {
            // A node built in code (obj["port"] = 80) holds an int.
            value = i;
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
        if (element.TryGetValue(out int i))
        {
            value = i;
            return true;
        }
        if (element.TryGetValue(out JsonElement je) && je.TryGetDouble(out d))
        {
            value = d;
            return true;
        }
        return false;
    }

    [GeneratedRegex(@"^\S+\z")]
    private static partial Regex LabelValuePattern();

    /// <summary>
    /// The pattern as APISIX's schema writes it. Patterns here end in <c>\z</c>, not <c>$</c>: .NET's <c>$</c> also
    /// matches before a final newline, so <c>"a\n"</c> would pass <c>^[a-z]+$</c>; PCRE's anchored match in APISIX
    /// does not let it through either way, and the message keeps APISIX's text.
    /// </summary>
    public static string PatternText(Regex pattern)
    {
        var text = pattern.ToString();
        return text.Replace(@"\z", "$", StringComparison.Ordinal);
    }

    /// <summary>A number as Lua's tostring writes it (%.14g): 1e16 is "1e+16", 0.5 is "0.5", 3 is "3".</summary>
    public static string LuaNumber(double value)
    {
        if (value == Math.Floor(value) && Math.Abs(value) < 1e15)
        {
            return ((long)value).ToString(CultureInfo.InvariantCulture);
        }
        return value.ToString("G14", CultureInfo.InvariantCulture).Replace("E", "e", StringComparison.Ordinal);
    }

    /// <summary>A JSON value's type by Lua's names, which APISIX's messages use where cjson hands the checker a table.</summary>
    public static string LuaType(JsonNode? node) => node?.GetValueKind() switch
    {
        null or JsonValueKind.Null => "userdata",
        JsonValueKind.Array or JsonValueKind.Object => "table",
        _ => Describe(node),
    };

    /// <summary>
    /// Parses a JSON object text where a repeated name keeps its last value, as cjson (and so APISIX) does:
    /// stream-routes.t TEST 1 sends <c>desc</c> twice and gets the second. <see cref="JsonNode.Parse(string, JsonNodeOptions?, JsonDocumentOptions)"/>
    /// would fail on first access instead.
    /// </summary>
    public static JsonNode? ParseLastWins(string text, int maxDepth = 32)
    {
        using var document = JsonDocument.Parse(text, new JsonDocumentOptions { MaxDepth = maxDepth });
        return ToNode(document.RootElement);
    }

    private static JsonNode? ToNode(JsonElement element)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                var obj = new JsonObject();
                foreach (var property in element.EnumerateObject())
                {
                    // Indexer assignment replaces an earlier value of the same name: the last one wins.
                    obj[property.Name] = ToNode(property.Value);
                }
                return obj;
            case JsonValueKind.Array:
                var array = new JsonArray();
                foreach (var item in element.EnumerateArray())
                {
                    array.Add(ToNode(item));
                }
                return array;
            case JsonValueKind.Null:
                return null;
            default:
                return JsonValue.Create(element.Clone());
        }
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
