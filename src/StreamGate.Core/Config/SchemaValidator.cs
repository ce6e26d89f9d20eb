using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace StreamGate.Config;

/// <summary>
/// Checks a JSON value against one of the schema definitions (<see cref="UpstreamDefinition"/>, ...) the way
/// APISIX's validator, api7/jsonschema, does: keyword by keyword in its order (type; properties with required,
/// the rest of required, patternProperties and additionalProperties, min/maxProperties; minItems, maxItems, items,
/// uniqueItems; minLength, maxLength, pattern; minimum, exclusiveMinimum, maximum, exclusiveMaximum; enum; anyOf,
/// oneOf, not; if/then/else), a value's first failing keyword being its error, in api7's words and with its path.
/// </summary>
/// <remarks>
/// <para>
/// Why our own and not JsonSchema.Net (8.0.5, on the package mirror): it evaluates every keyword in its own
/// dependency order and words its own messages, so APISIX's first error would have to be picked and re-worded
/// after the fact, keyword by keyword (anyOf's one "object matches none of the required", Lua's type names in
/// pattern properties, "failed to validate item 2: ...", %.14g numbers). That is an evaluator's work anyway; this
/// one does exactly the subset the definitions use, with the schema objects as its only input.
/// </para>
/// <para>
/// Beyond api7, which stops at the first failure of the whole object, sibling properties and array items are all
/// checked, so a file's every error is listed (YARP's ConfigValidator); the first listed is APISIX's answer.
/// A property whose value is JSON null counts as absent, as the models read it.
/// </para>
/// <para>
/// Two annotations of ours, served with the schemas (JSON Schema ignores keywords it does not know, as APISIX's
/// own schemas carry <c>encrypt_fields</c>): <c>"x-report": "own"</c> on an anyOf, then or else branch answers a
/// failure of the branch in its own words (a PEM field's length) instead of the applicator's one message, which
/// otherwise stays APISIX's and carries the inner failure, with its path, as the hint;
/// <c>"x-message"</c> on a pattern property's schema answers its failure with that text at the property's own path.
/// </para>
/// </remarks>
internal static class SchemaValidator
{
    /// <summary>Our annotation: a branch whose failures are answered as they are (see the remarks).</summary>
    public const string ReportOwn = "x-report";

    /// <summary>Our annotation: the message a pattern property's failure is answered with.</summary>
    public const string Message = "x-message";

    private static readonly ConcurrentDictionary<string, Regex> Patterns = new(StringComparer.Ordinal);

    /// <summary>Checks <paramref name="value"/>; every failure goes to <paramref name="errors"/> in the schema form. True when it holds.</summary>
    public static bool Validate(JsonObject schema, JsonNode? value, string path, List<ConfigError> errors)
    {
        var failures = new List<Failure>();
        var ok = Evaluate(schema, value, path, failures, luaTypes: false);
        foreach (var failure in failures)
        {
            errors.Add(new ConfigError(failure.Path, failure.Text) { Hint = failure.Hint });
        }
        return ok;
    }

    /// <summary>
    /// One failure. <see cref="Bound"/>: the text already begins at a property (<c>property "host" is required</c>),
    /// so the enclosing property does not prefix it again; the admin API nests the rest from the path.
    /// </summary>
    private sealed record Failure(string Path, string Text, bool Bound, string? Hint = null);

    private static bool Evaluate(JsonObject schema, JsonNode? value, string path, List<Failure> failures, bool luaTypes)
    {
        if (schema["type"] is { } type && !TypeAccepts(type, value))
        {
            failures.Add(new Failure(path, $"wrong type: expected {TypeText(type)}, got {TypeName(value, luaTypes)}", false));
            return false;
        }
        if (value is JsonObject obj && !Object(schema, obj, path, failures))
        {
            return false;
        }
        if (value is JsonArray array && !Array(schema, array, path, failures))
        {
            return false;
        }
        if (value?.GetValueKind() == JsonValueKind.String && String(schema, value.GetValue<string>()) is { } stringProblem)
        {
            failures.Add(new Failure(path, stringProblem, false));
            return false;
        }
        if (value is not null && JsonObjectReader.TryGetNumber(value, out var number) && Number(schema, number) is { } numberProblem)
        {
            failures.Add(new Failure(path, numberProblem, false));
            return false;
        }
        if (schema["enum"] is JsonArray allowed && !allowed.Any(a => JsonNode.DeepEquals(a, value)))
        {
            var got = value?.GetValueKind() == JsonValueKind.String ? $"\"{value.GetValue<string>()}\"" : value?.ToJsonString() ?? "null";
            failures.Add(new Failure(path, "matches none of the enum values", false, $"expected one of {string.Join(", ", allowed.Select(Plain))}, got {got}"));
            return false;
        }
        return Applicators(schema, value, path, failures, luaTypes);
    }

    private static bool Object(JsonObject schema, JsonObject obj, string path, List<Failure> failures)
    {
        var ok = true;
        var required = schema["required"] is JsonArray list ? list.Select(r => r!.GetValue<string>()).ToList() : [];
        var properties = schema["properties"] as JsonObject;
        foreach (var (name, sub) in properties ?? [])
        {
            var childPath = Child(path, name);
            if (obj[name] is not { } child)
            {
                if (required.Remove(name))
                {
                    failures.Add(new Failure(childPath, $"property \"{name}\" is required", true));
                    ok = false;
                }
                continue;
            }
            required.Remove(name);
            ok &= Property(sub!.AsObject(), child, name, childPath, failures);
        }
        foreach (var name in required)
        {
            if (obj[name] is null)
            {
                failures.Add(new Failure(Child(path, name), $"property \"{name}\" is required", true));
                ok = false;
            }
        }
        var patterns = schema["patternProperties"] as JsonObject;
        var closed = schema["additionalProperties"] is JsonValue closedValue && closedValue.GetValueKind() == JsonValueKind.False;
        if (patterns is not null || closed)
        {
            foreach (var (name, child) in obj)
            {
                var matched = false;
                foreach (var (pattern, sub) in patterns ?? [])
                {
                    if (!Pattern(pattern).IsMatch(name))
                    {
                        continue;
                    }
                    matched = true;
                    ok &= PatternProperty(sub!.AsObject(), child, name, pattern, path, failures);
                }
                if (closed && !matched && properties?.ContainsKey(name) != true)
                {
                    // At the property's path, bound: the admin API answers it unnested, as it always has.
                    failures.Add(new Failure(Child(path, name), $"additional properties forbidden, found {name}", true));
                    ok = false;
                }
            }
        }
        if (ok && schema["minProperties"] is { } min && obj.Count < min.GetValue<int>())
        {
            failures.Add(new Failure(path, $"expect object to have at least {min} properties", false));
            ok = false;
        }
        if (ok && schema["maxProperties"] is { } max && obj.Count > max.GetValue<int>())
        {
            failures.Add(new Failure(path, $"expect object to have at most {max} properties", false));
            ok = false;
        }
        return ok;
    }

    private static bool Property(JsonObject schema, JsonNode value, string name, string path, List<Failure> failures)
    {
        var inner = new List<Failure>();
        if (Evaluate(schema, value, path, inner, luaTypes: false))
        {
            return true;
        }
        foreach (var failure in inner)
        {
            failures.Add(failure.Bound ? failure : failure with { Text = $"property \"{name}\" validation failed: {failure.Text}", Bound = true });
        }
        return false;
    }

    private static bool PatternProperty(JsonObject schema, JsonNode? value, string name, string pattern, string path, List<Failure> failures)
    {
        // api7 hands a pattern property's value over as Lua sees it: a table is "table", JSON null "userdata".
        var inner = new List<Failure>();
        if (Evaluate(schema, value, path, inner, luaTypes: true))
        {
            return true;
        }
        if (schema[Message] is { } message)
        {
            failures.Add(new Failure($"{path}[\"{name}\"]", message.GetValue<string>(), true));
            return false;
        }
        foreach (var failure in inner)
        {
            failures.Add(failure.Bound ? failure : failure with { Text = $"failed to validate {name} (matching \"{pattern}\"): {failure.Text}" });
        }
        return false;
    }

    private static bool Array(JsonObject schema, JsonArray array, string path, List<Failure> failures)
    {
        if (schema["minItems"] is { } min && array.Count < min.GetValue<int>())
        {
            failures.Add(new Failure(path, $"expect array to have at least {min} items", false));
            return false;
        }
        if (schema["maxItems"] is { } max && array.Count > max.GetValue<int>())
        {
            failures.Add(new Failure(path, $"expect array to have at most {max} items", false));
            return false;
        }
        var ok = true;
        if (schema["items"] is JsonObject items)
        {
            for (var i = 0; i < array.Count; i++)
            {
                var inner = new List<Failure>();
                if (Evaluate(items, array[i], $"{path}[{i}]", inner, luaTypes: false))
                {
                    continue;
                }
                ok = false;
                foreach (var failure in inner)
                {
                    // api7 counts items from 1.
                    failures.Add(failure.Bound ? failure : failure with { Text = $"failed to validate item {i + 1}: {failure.Text}" });
                }
            }
        }
        if (ok && schema["uniqueItems"] is JsonValue unique && unique.GetValueKind() == JsonValueKind.True)
        {
            for (var i = 0; i < array.Count && ok; i++)
            {
                for (var j = i + 1; j < array.Count; j++)
                {
                    if (JsonNode.DeepEquals(array[i], array[j]))
                    {
                        failures.Add(new Failure(path, $"expected unique items but items {i + 1} and {j + 1} are equal", false));
                        ok = false;
                        break;
                    }
                }
            }
        }
        return ok;
    }

    private static string? String(JsonObject schema, string value)
    {
        // api7 counts UTF-8 characters, not bytes: code points, as here.
        var length = value.EnumerateRunes().Count();
        if (schema["minLength"] is { } min && length < min.GetValue<int>())
        {
            return $"string too short, expected at least {min}, got {length}";
        }
        if (schema["maxLength"] is { } max && length > max.GetValue<int>())
        {
            return $"string too long, expected at most {max}, got {length}";
        }
        if (schema["pattern"] is { } pattern && !Pattern(pattern.GetValue<string>()).IsMatch(value))
        {
            return $"failed to match pattern \"{pattern.GetValue<string>()}\" with \"{value}\"";
        }
        return null;
    }

    private static string? Number(JsonObject schema, double value)
    {
        var text = JsonObjectReader.LuaNumber(value);
        if (Limit(schema, "minimum") is { } min && value < min)
        {
            return $"expected {text} to be at least {JsonObjectReader.LuaNumber(min)}";
        }
        if (Limit(schema, "exclusiveMinimum") is { } xmin && value <= xmin)
        {
            return $"expected {text} to be greater than {JsonObjectReader.LuaNumber(xmin)}";
        }
        if (Limit(schema, "maximum") is { } max && value > max)
        {
            return $"expected {text} to be at most {JsonObjectReader.LuaNumber(max)}";
        }
        if (Limit(schema, "exclusiveMaximum") is { } xmax && value >= xmax)
        {
            return $"expected {text} to be less than {JsonObjectReader.LuaNumber(xmax)}";
        }
        return null;
    }

    private static double? Limit(JsonObject schema, string keyword) =>
        schema[keyword] is { } node && JsonObjectReader.TryGetNumber(node, out var limit) ? limit : null;

    private static bool Applicators(JsonObject schema, JsonNode? value, string path, List<Failure> failures, bool luaTypes)
    {
        if (schema["anyOf"] is JsonArray anyOf && !AnyOf(schema, anyOf, value, path, failures, luaTypes))
        {
            return false;
        }
        if (schema["oneOf"] is JsonArray oneOf)
        {
            int? matched = null;
            for (var i = 0; i < oneOf.Count; i++)
            {
                if (!Evaluate(oneOf[i]!.AsObject(), value, path, [], luaTypes))
                {
                    continue;
                }
                if (matched is { } first)
                {
                    failures.Add(new Failure(path, $"value should match only one schema, but matches both schemas {first + 1} and {i + 1}", false, Description(schema)));
                    return false;
                }
                matched = i;
            }
            if (matched is null)
            {
                failures.Add(new Failure(path, "value should match only one schema, but matches none", false, Description(schema)));
                return false;
            }
        }
        if (schema["not"] is JsonObject not && Evaluate(not, value, path, [], luaTypes))
        {
            failures.Add(new Failure(path, "value wasn't supposed to match schema", false, Description(schema)));
            return false;
        }
        if (schema["if"] is JsonObject condition)
        {
            var (clause, name) = Evaluate(condition, value, path, [], luaTypes) ? (schema["then"], "then") : (schema["else"], "else");
            if (clause is JsonObject branch && !Branch(branch, value, path, failures, luaTypes, $"{name} clause did not match"))
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>
    /// anyOf: api7's one message, and (ours) the failure of the branch meant for the value, the first whose type
    /// takes it, as the hint, after the schema's description (<c>an id is ...: string too long, ...</c>).
    /// api7 follows its message with the required lists of the branches that have one, JSON-encoded and joined by
    /// " or " (<c>object matches none of the required: ["active"] or ["passive"]</c>, health-check.t TEST 12);
    /// when every branch is such a list the message says it all, and the hint is the description alone.
    /// </summary>
    private static bool AnyOf(JsonObject schema, JsonArray branches, JsonNode? value, string path, List<Failure> failures, bool luaTypes)
    {
        foreach (var branch in branches)
        {
            if (Evaluate(branch!.AsObject(), value, path, [], luaTypes))
            {
                return true;
            }
        }
        var requires = branches.Select(b => b!["required"]).OfType<JsonArray>().Select(r => r.ToJsonString()).ToList();
        var none = requires.Count == 0 ? "object matches none of the required" : "object matches none of the required: " + string.Join(" or ", requires);
        if (requires.Count == branches.Count && branches.All(b => b!["type"] is null))
        {
            failures.Add(new Failure(path, none, false, Description(schema)));
            return false;
        }
        var meant = branches.Select(b => b!.AsObject()).FirstOrDefault(b => b["type"] is not { } t || TypeAccepts(t, value));
        if (meant is null)
        {
            var types = string.Join(" or ", branches.Select(b => b!["type"]).Where(t => t is not null).Select(t => TypeText(t!)).Distinct());
            var wrongType = $"wrong type: expected {types}, got {TypeName(value, luaTypes)}";
            if (branches.Any(b => IsOwn(b!.AsObject())))
            {
                failures.Add(new Failure(path, wrongType, false));
            }
            else
            {
                failures.Add(new Failure(path, none, false, Hint(schema, wrongType)));
            }
            return false;
        }
        var inner = new List<Failure>();
        Evaluate(meant, value, path, inner, luaTypes);
        if (IsOwn(meant))
        {
            failures.AddRange(inner);
        }
        else
        {
            failures.Add(new Failure(path, none, false, Hint(schema, inner.Count > 0 ? Detail(path, inner[0]) : null)));
        }
        return false;
    }

    /// <summary>
    /// An inner failure for the hint, named from the applicator's own property down when it lies deeper
    /// (<c>nodes[1].port: property "port" is required</c>), so the one APISIX message still says where.
    /// </summary>
    private static string Detail(string path, Failure inner)
    {
        if (inner.Path.Length <= path.Length || !inner.Path.StartsWith(path, StringComparison.Ordinal))
        {
            return inner.Text;
        }
        var name = path[(path.LastIndexOf('.') + 1)..];
        var text = inner.Text;
        // The path names the property already: "nodes[0].port: expected 0 to be at least 1".
        var leaf = $"property \"{inner.Path[(inner.Path.LastIndexOf('.') + 1)..]}\" validation failed: ";
        if (text.StartsWith(leaf, StringComparison.Ordinal))
        {
            text = text[leaf.Length..];
        }
        return $"{name}{inner.Path[path.Length..]}: {text}";
    }

    private static bool Branch(JsonObject branch, JsonNode? value, string path, List<Failure> failures, bool luaTypes, string message)
    {
        var inner = new List<Failure>();
        if (Evaluate(branch, value, path, inner, luaTypes))
        {
            return true;
        }
        if (IsOwn(branch))
        {
            failures.AddRange(inner);
        }
        else
        {
            failures.Add(new Failure(path, message, false, Description(branch)));
        }
        return false;
    }

    private static bool IsOwn(JsonObject schema) => schema[ReportOwn]?.GetValue<string>() == "own";

    private static string? Description(JsonObject schema) => schema["description"]?.GetValue<string>();

    private static string? Hint(JsonObject schema, string? detail) => (Description(schema), detail) switch
    {
        (null, var d) => d,
        (var s, null) => s,
        (var s, var d) => $"{s}: {d}",
    };

    private static bool TypeAccepts(JsonNode type, JsonNode? value) => type is JsonArray types
        ? types.Any(t => TypeAccepts(t!.GetValue<string>(), value))
        : TypeAccepts(type.GetValue<string>(), value);

    private static bool TypeAccepts(string type, JsonNode? value) => type switch
    {
        "object" => value is JsonObject,
        "array" => value is JsonArray,
        "string" => value?.GetValueKind() == JsonValueKind.String,
        "integer" => value is not null && JsonObjectReader.TryGetInteger(value, out _),
        "number" => value?.GetValueKind() == JsonValueKind.Number,
        "boolean" => value?.GetValueKind() is JsonValueKind.True or JsonValueKind.False,
        "null" => value is null,
        _ => throw new InvalidOperationException($"the schema names an unknown type \"{type}\""),
    };

    /// <summary>One type as it is, several joined by "or" (<c>object or array</c>).</summary>
    private static string TypeText(JsonNode type) => type is JsonArray types ? string.Join(" or ", types.Select(t => t!.GetValue<string>())) : type.GetValue<string>();

    /// <summary>
    /// The type of the value in the message: JSON's names (what the user wrote), except where api7 hands the value
    /// over as Lua sees it (a pattern property's: <c>got table</c>, services.t TEST 33).
    /// </summary>
    private static string TypeName(JsonNode? value, bool luaTypes) => luaTypes ? JsonObjectReader.LuaType(value) : JsonObjectReader.Describe(value);

    private static string Plain(JsonNode? node) => node?.GetValueKind() == JsonValueKind.String ? node.GetValue<string>() : node?.ToJsonString() ?? "null";

    private static string Child(string path, string name) => path.Length == 0 ? name : $"{path}.{name}";

    /// <summary>
    /// A schema pattern as a .NET regex. PCRE, which APISIX matches with, reads <c>$</c> as the end of the text;
    /// .NET's <c>$</c> also matches before a final newline (<c>"1\n"</c> would pass as an id), so an unescaped
    /// <c>$</c> outside a character class becomes <c>\z</c>.
    /// </summary>
    public static Regex Pattern(string pattern) => Patterns.GetOrAdd(pattern, static p =>
    {
        var sb = new StringBuilder(p.Length + 4);
        var inClass = false;
        for (var i = 0; i < p.Length; i++)
        {
            var c = p[i];
            if (c == '\\' && i + 1 < p.Length)
            {
                sb.Append(c).Append(p[++i]);
                continue;
            }
            inClass = c switch
            {
                '[' => true,
                ']' => false,
                _ => inClass,
            };
            sb.Append(c == '$' && !inClass ? @"\z" : c.ToString());
        }
        return new Regex(sb.ToString(), RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));
    });
}
