namespace StreamGate.Config;

/// <summary>One problem found in configuration: where it is (a path such as <c>stream_routes[2].upstream.nodes</c>) and what to do.</summary>
internal sealed record ConfigError(string Path, string Message)
{
    public override string ToString() => Path.Length == 0 ? Message : $"{Path}: {Message}";
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
