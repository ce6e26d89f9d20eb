using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace StreamGate.Config;

/// <summary>
/// The second pass over one object, after <see cref="SchemaValidator"/>: the checks a schema cannot express
/// (addresses, host names, certificates, references, fields this version does not serve yet), run on every
/// property the schema found nothing wrong with, as APISIX runs its check_conf once the schema holds.
/// </summary>
internal sealed class SemanticPass
{
    private readonly JsonObject _object;
    private readonly int _from;

    /// <summary>Validates <paramref name="obj"/> against <paramref name="schema"/>, then stands ready for the checks that follow it.</summary>
    public SemanticPass(JsonObject schema, JsonObject obj, string path, List<ConfigError> errors)
        : this(schema, obj, path, errors, validate: true, parent: null)
    {
    }

    private SemanticPass(JsonObject schema, JsonObject obj, string path, List<ConfigError> errors, bool validate, SemanticPass? parent)
    {
        Schema = schema;
        _object = obj;
        Path = path;
        Errors = errors;
        _from = errors.Count;
        if (validate)
        {
            SchemaValidator.Validate(schema, obj, path, errors);
        }
        // The checks that belong to a definition run with its schema pass, wherever the object is parsed (an
        // upstream on its own, a service's or a route's inline one), so no parser can leave them out.
        if (ReferenceEquals(schema, UpstreamDefinition.Schema))
        {
            UpstreamChecks(inlineInRoute: ReferenceEquals(parent?.Schema, StreamRouteDefinition.Schema));
        }
    }

    /// <summary>The second pass of an object inside one already validated (a route's inline upstream): the schema pass is not repeated.</summary>
    public SemanticPass Inner(JsonObject schema, JsonObject obj, string name) => new(schema, obj, Child(name), Errors, validate: false, parent: this);

    public JsonObject Schema { get; }

    public string Path { get; }

    public List<ConfigError> Errors { get; }

    /// <summary>True while neither pass has found anything wrong with the object.</summary>
    public bool Valid => Errors.Count == _from;

    public string Child(string name) => Path.Length == 0 ? name : $"{Path}.{name}";

    /// <summary>The property's value when it is set (not absent, not null) and the schema found nothing wrong inside it.</summary>
    public JsonNode? Clean(string name)
    {
        if (_object[name] is not { } value)
        {
            return null;
        }
        var path = Child(name);
        for (var i = _from; i < Errors.Count; i++)
        {
            var p = Errors[i].Path;
            if (p.StartsWith(path, StringComparison.Ordinal) && (p.Length == path.Length || p[path.Length] is '.' or '['))
            {
                return null;
            }
        }
        return value;
    }

    public bool IsSet(string name) => _object[name] is not null;

    /// <summary>The property's value as written, checked or not.</summary>
    public JsonNode? Raw(string name) => _object[name];

    public string? String(string name) => Clean(name)?.GetValue<string>();

    public long? Integer(string name) => Clean(name) is { } node && JsonObjectReader.TryGetInteger(node, out var value) ? value : null;

    public double? Number(string name) => Clean(name) is { } node && JsonObjectReader.TryGetNumber(node, out var value) ? value : null;

    /// <summary>An id (string or integer) as the string it is stored under; <c>.</c> and <c>..</c> are refused (ours: URLs remove such a segment).</summary>
    public string? Id(string name)
    {
        var node = Clean(name);
        if (node is null)
        {
            return null;
        }
        var id = node.GetValueKind() == JsonValueKind.String
            ? node.GetValue<string>()
            : JsonObjectReader.TryGetInteger(node, out var number) ? number.ToString(CultureInfo.InvariantCulture) : null;
        if (id is "." or "..")
        {
            Error(name, $"\"{id}\" is not a usable id: it is a path segment that URLs remove");
            return null;
        }
        return id;
    }

    public IReadOnlyDictionary<string, string>? Labels()
    {
        if (Clean("labels") is not JsonObject labels)
        {
            return null;
        }
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in labels)
        {
            result[key] = value!.GetValue<string>();
        }
        return result;
    }

    /// <summary>A schema-form error about the property, in its words: <c>property "x" validation failed: ...</c>.</summary>
    public void Error(string name, string message, string? hint = null) =>
        Errors.Add(new ConfigError(Child(name), $"property \"{name}\" validation failed: {message}") { Hint = hint });

    /// <summary>Refuses fields the definition describes as not yet available, when they are set.</summary>
    public void NotYet(ReadOnlySpan<string> names, string message)
    {
        foreach (var name in names)
        {
            if (IsSet(name))
            {
                Error(name, message);
            }
        }
    }

    /// <summary>
    /// Re-words the schema's enum failure for a value APISIX knows but this version does not serve yet, so the
    /// definition lists only what is served and the answer still says why the rest is refused.
    /// </summary>
    public void NotServed(string name, IReadOnlyCollection<string> known, Func<string, string> message)
    {
        if (_object[name] is not { } node || node.GetValueKind() != JsonValueKind.String || !known.Contains(node.GetValue<string>()))
        {
            return;
        }
        var path = Child(name);
        var index = Errors.FindIndex(_from, e => e.Path == path && e.Message.EndsWith("matches none of the enum values", StringComparison.Ordinal));
        if (index >= 0)
        {
            Errors[index] = new ConfigError(path, $"property \"{name}\" validation failed: {message(node.GetValue<string>())}");
        }
    }

    /// <summary>
    /// Lists the errors of both passes in the order of the definition's properties (then unknown ones, then the
    /// object's own), so a file's errors read top to bottom whichever pass found them.
    /// </summary>
    public void Finish()
    {
        if (Errors.Count - _from < 2)
        {
            return;
        }
        var properties = Schema["properties"] as JsonObject;
        var names = properties?.Select(p => p.Key).ToList() ?? [];
        var prefix = Path.Length == 0 ? "" : Path + ".";
        int Rank(ConfigError error)
        {
            if (error.Path == Path || !error.Path.StartsWith(prefix, StringComparison.Ordinal))
            {
                return int.MaxValue;
            }
            var rest = error.Path[prefix.Length..];
            var end = rest.IndexOfAny(['.', '[']);
            var index = names.IndexOf(end < 0 ? rest : rest[..end]);
            return index < 0 ? names.Count : index;
        }
        var sorted = Errors.Skip(_from).OrderBy(Rank).ToList();
        Errors.RemoveRange(_from, sorted.Count);
        Errors.AddRange(sorted);
    }

    /// <summary>
    /// An upstream's checks after its schema: APISIX's check_upstream_conf for chash (apisix/upstream.lua: the
    /// <c>missing key</c> answer, the key's schema by hash_on, in its words), then ours for a stream upstream
    /// (HTTP-only keys and hash_on values refused; health check probes for tcp only).
    /// </summary>
    /// <param name="inlineInRoute">
    /// A stream route's inline upstream: APISIX's stream_routes.lua checks it against the schema only, so a chash
    /// upstream there without a key is taken, and its connections hash on remote_addr.
    /// </param>
    private void UpstreamChecks(bool inlineInRoute)
    {
        ChashKey(inlineInRoute);
        ProbeFields();
    }

    private const string UseAStreamKey = "a stream upstream hashes on hash_on vars with key remote_addr, remote_port, server_addr, server_port or mqtt_client_id";

    private void ChashKey(bool inlineInRoute)
    {
        if (String("type") != "chash" || (IsSet("hash_on") && Clean("hash_on") is null) || (IsSet("key") && Clean("key") is null))
        {
            return;
        }
        var hashOn = String("hash_on") ?? "vars";
        var key = String("key");
        var keyPath = Child("key");
        if (key is null)
        {
            if (hashOn != "consumer" && !inlineInRoute)
            {
                Errors.Add(new ConfigError(keyPath, "missing key") { Form = ConfigErrorForm.Bare, Hint = $"type chash needs the key to hash on; {UseAStreamKey}" });
            }
            else if (hashOn is "header" or "cookie" or "consumer")
            {
                HttpOnlyHashOn(hashOn);
            }
            return;
        }
        switch (hashOn)
        {
            case "vars":
                if (Array.IndexOf(UpstreamDefinition.StreamHashKeys, key) >= 0)
                {
                    return;
                }
                if (!KeyMatches(UpstreamDefinition.HashVarsPattern, key, keyPath))
                {
                    return;
                }
                Error("key", $"\"{key}\" has no value on a stream connection (APISIX then hashes on remote_addr); use one of {string.Join(", ", UpstreamDefinition.StreamHashKeys)}");
                return;
            case "header" or "cookie":
                if (KeyMatches(UpstreamDefinition.HashHeaderPattern, key, keyPath))
                {
                    HttpOnlyHashOn(hashOn);
                }
                return;
            case "consumer":
                HttpOnlyHashOn(hashOn);
                return;
            default:
                VarsCombination(key);
                return;
        }
    }

    /// <summary>The key against the schema check_upstream_conf picks by hash_on; its failure in api7's words, prefixed as APISIX prefixes it.</summary>
    private bool KeyMatches(string pattern, string key, string keyPath)
    {
        var problems = new List<ConfigError>();
        if (SchemaValidator.Validate(SchemaBuilder.Str(pattern: pattern), JsonValue.Create(key), keyPath, problems))
        {
            return true;
        }
        Errors.Add(problems[0] with { Form = ConfigErrorForm.Check, Hint = UseAStreamKey });
        return false;
    }

    private void HttpOnlyHashOn(string hashOn)
    {
        var what = hashOn switch
        {
            "header" => "request headers",
            "cookie" => "cookies",
            _ => "consumer",
        };
        Error("hash_on", $"hash_on \"{hashOn}\" is for HTTP routes: a stream connection has no {what} (APISIX then hashes on remote_addr); {UseAStreamKey}");
    }

    /// <summary>
    /// hash_on vars_combinations: APISIX takes any string and resolves its <c>$name</c> and <c>${name}</c> (a
    /// <c>\$</c> is a dollar); a key with no variable, or whose variables all lack a value, hashes on remote_addr.
    /// Ours: every variable must be one a stream connection has, and there must be one.
    /// </summary>
    private void VarsCombination(string key)
    {
        var names = new List<string>();
        for (var i = 0; i < key.Length; i++)
        {
            if (key[i] != '$' || (i > 0 && key[i - 1] == '\\'))
            {
                continue;
            }
            string? name = null;
            if (i + 1 < key.Length && key[i + 1] == '{')
            {
                var close = key.IndexOf('}', i + 2);
                if (close > i + 2)
                {
                    name = key[(i + 2)..close].Trim();
                    i = close;
                }
            }
            else
            {
                var end = i + 1;
                while (end < key.Length && (char.IsAsciiLetterOrDigit(key[end]) || key[end] is '_' or '.'))
                {
                    end++;
                }
                if (end > i + 1)
                {
                    name = key[(i + 1)..end];
                    i = end - 1;
                }
            }
            if (name is not null)
            {
                names.Add(name);
            }
        }
        var keys = string.Join(", ", UpstreamDefinition.StreamHashKeys.Select(k => "$" + k));
        if (names.Count == 0)
        {
            Error("key", $"\"{key}\" names no variable (APISIX then hashes on remote_addr); combine {keys}, such as \"$remote_addr $server_port\"");
            return;
        }
        foreach (var name in names)
        {
            if (Array.IndexOf(UpstreamDefinition.StreamHashKeys, name) < 0)
            {
                Error("key", $"\"${name}\" has no value on a stream connection; combine {keys}");
                return;
            }
        }
    }

    /// <summary>Ours: checks.active.send and expect speak to a tcp probe; an http or https probe has its own request and answer.</summary>
    private void ProbeFields()
    {
        if (Clean("checks") is not JsonObject checks || checks["active"] is not JsonObject active)
        {
            return;
        }
        var type = active["type"]?.GetValue<string>();
        if (type == "tcp")
        {
            return;
        }
        var typeText = type is null ? "\"http\" (the default when type is not set)" : $"\"{type}\"";
        foreach (var name in (ReadOnlySpan<string>)["send", "expect"])
        {
            if (active[name] is not null)
            {
                Errors.Add(new ConfigError($"{Child("checks")}.active.{name}",
                    $"property \"{name}\" validation failed: {name} is for tcp probes, and this active check's type is {typeText}; set \"type\": \"tcp\", or remove {name} (http and https probes check http_statuses)"));
            }
        }
    }
}
