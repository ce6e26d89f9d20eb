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
        : this(schema, obj, path, errors, validate: true)
    {
    }

    private SemanticPass(JsonObject schema, JsonObject obj, string path, List<ConfigError> errors, bool validate)
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
    }

    /// <summary>The second pass of an object inside one already validated (a route's inline upstream): the schema pass is not repeated.</summary>
    public SemanticPass Inner(JsonObject schema, JsonObject obj, string name) => new(schema, obj, Child(name), Errors, validate: false);

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
}
