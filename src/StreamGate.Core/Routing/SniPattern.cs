using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using StreamGate.Config;

namespace StreamGate.Routing;

internal enum SniPatternKind
{
    /// <summary>A host name matched whole: <c>db.example.com</c>.</summary>
    Exact,

    /// <summary>
    /// <c>*</c> and then the text a name must end with: <c>*.example.com</c> matches <c>a.example.com</c> and
    /// <c>a.b.example.com</c>; <c>*example.com</c> (the schema allows it) also matches <c>example.com</c>.
    /// </summary>
    Wildcard,

    /// <summary><c>*</c>: any name (a wildcard with an empty suffix, tried after every other wildcard).</summary>
    Any,
}

/// <summary>
/// A stream route's <c>sni</c>, as APISIX's stream router reads it (apisix/stream/router/ip_port.lua): a leading
/// <c>*</c> makes the rest a suffix that may stand for any number of labels, or for part of one ("unlike the
/// matcher for the SSL, it is fine to let '*.x.com' to match 'a.b.x.com'"). Kept lower-cased: APISIX lower-cases
/// the client's name but compares it with the pattern as written, so a pattern with an upper-case letter never
/// matches there; here it matches as DNS names compare, without regard to ASCII case.
/// </summary>
internal sealed class SniPattern : IEquatable<SniPattern>
{
    /// <summary>For a schema's description: what <see cref="TryParse"/> accepts and what it means.</summary>
    public const string Description =
        "a host name (db.example.com), * followed by the end of the names it matches (*.example.com also matches " +
        "a.b.example.com), or * for any name; letters, digits and - . _ [ ] : only";

    // host_def's character class, [0-9a-zA-Z-._\[\]:].
    private static readonly SearchValues<char> s_hostChars =
        SearchValues.Create("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-._[]:");

    private SniPattern(string text, SniPatternKind kind)
    {
        Text = text;
        Kind = kind;
    }

    /// <summary>The pattern lower-cased (ASCII letters only: a valid pattern has no others).</summary>
    public string Text { get; }

    public SniPatternKind Kind { get; }

    /// <summary>What a matching name ends with: the text after the <c>*</c> (empty for <c>*</c>); an exact pattern's whole text.</summary>
    public string Suffix => Kind == SniPatternKind.Exact ? Text : Text[1..];

    /// <summary>
    /// Accepts exactly what APISIX's schema accepts for a stream route's <c>sni</c> (schema_def.lua, host_def_pat:
    /// <c>^\*$|^\*?[0-9a-zA-Z-._\[\]:]+$</c>), and refuses the rest with APISIX's message for it.
    /// </summary>
    public static bool TryParse(string text, [NotNullWhen(true)] out SniPattern? pattern, [NotNullWhen(false)] out string? error)
    {
        ArgumentNullException.ThrowIfNull(text);
        var body = text.StartsWith('*') ? text.AsSpan(1) : text.AsSpan();
        if (text != "*" && (body.IsEmpty || body.ContainsAnyExcept(s_hostChars)))
        {
            pattern = null;
            error = $"failed to match pattern \"{CommonDefinitions.HostPattern}\" with \"{text}\"";
            return false;
        }
        var lower = text.ToLowerInvariant();
        var kind = lower == "*" ? SniPatternKind.Any : lower[0] == '*' ? SniPatternKind.Wildcard : SniPatternKind.Exact;
        pattern = new SniPattern(lower, kind);
        error = null;
        return true;
    }

    public static SniPattern Parse(string text) =>
        TryParse(text, out var pattern, out var error) ? pattern : throw new FormatException(error);

    public bool Equals(SniPattern? other) => other is not null && Text == other.Text;

    public override bool Equals(object? obj) => Equals(obj as SniPattern);

    public override int GetHashCode() => StringComparer.Ordinal.GetHashCode(Text);

    public override string ToString() => Text;
}
