namespace StreamGate.Config;

/// <summary>One problem found in configuration: where it is (a path such as <c>stream_routes[2].upstream.nodes</c>) and what to do.</summary>
internal sealed record ConfigError(string Path, string Message)
{
    /// <summary>
    /// Our explanation or fix, kept apart from <see cref="Message"/> so the message stays APISIX's exact text
    /// (<c>object matches none of the required</c>); the admin API may answer it in a field of its own ("hint"),
    /// never inside error_msg. Logs and <c>streamgate validate</c> print it after the message.
    /// </summary>
    public string? Hint { get; init; }

    /// <summary>How the admin API words this error in error_msg (APISIX's three forms); see <see cref="ConfigErrorForm"/>.</summary>
    public ConfigErrorForm Form { get; init; }

    public override string ToString()
    {
        var text = Path.Length == 0 ? Message : $"{Path}: {Message}";
        return Hint is null ? text : $"{text}; {Hint}";
    }
}

/// <summary>The forms in which APISIX answers a failed check.</summary>
internal enum ConfigErrorForm
{
    /// <summary>A JSON-schema failure: <c>invalid configuration: property "a" validation failed: property "b" validation failed: ...</c>, one level per path segment.</summary>
    Schema,

    /// <summary>A check APISIX makes beside its schema and prefixes, unnested: <c>invalid configuration: IPv6 address must be enclosed with '[' and ']'</c>.</summary>
    Check,

    /// <summary>A check after the schema, answered as it is: <c>invalid remote_addr: :/8</c>, <c>failed to parse cert: ...</c>, <c>unknown protocol [x]</c>.</summary>
    Bare,
}

/// <summary>Thrown when configuration cannot be used at all; carries every error found, not only the first.</summary>
internal sealed class ConfigException : Exception
{
    public ConfigException(IReadOnlyList<ConfigError> errors)
        : base(string.Join(Environment.NewLine, errors))
    {
        Errors = errors;
    }

    public ConfigException(string path, string message)
        : this([new ConfigError(path, message)])
    {
    }

    public IReadOnlyList<ConfigError> Errors { get; }
}
