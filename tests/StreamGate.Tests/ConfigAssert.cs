using StreamGate.Config;

namespace StreamGate.Tests;

/// <summary>Assertions on collected configuration errors: each names its path and the key part of its message.</summary>
internal static class ConfigAssert
{
    /// <summary>Exactly one error at <paramref name="path"/>, whose message contains <paramref name="message"/>.</summary>
    public static ConfigError Single(IReadOnlyList<ConfigError> errors, string path, string message)
    {
        var atPath = errors.Where(e => e.Path == path).ToList();
        Assert.True(atPath.Count == 1, $"expected one error at \"{path}\", got: {Describe(errors)}");
        Assert.Contains(message, atPath[0].Message, StringComparison.Ordinal);
        return atPath[0];
    }

    /// <summary>Some error at <paramref name="path"/> contains <paramref name="message"/> (others may exist).</summary>
    public static void Has(IReadOnlyList<ConfigError> errors, string path, string message) =>
        Assert.True(
            errors.Any(e => e.Path == path && e.Message.Contains(message, StringComparison.Ordinal)),
            $"expected an error at \"{path}\" containing \"{message}\", got: {Describe(errors)}");

    /// <summary>Runs <paramref name="action"/>, which must throw a <see cref="ConfigException"/>, and returns its errors.</summary>
    public static IReadOnlyList<ConfigError> Throws(Action action) => Assert.Throws<ConfigException>(action).Errors;

    private static string Describe(IReadOnlyList<ConfigError> errors) =>
        errors.Count == 0 ? "(no errors)" : string.Join(" | ", errors);
}
