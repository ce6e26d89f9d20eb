using System.Text;

namespace StreamGate.Config;

/// <summary>
/// A schema-form error as APISIX's JSON-schema checker words it: one <c>property "x" validation failed: </c> per
/// path segment (an error at upstream.timeout.connect reads
/// <c>property "upstream" validation failed: property "timeout" validation failed: property "connect" validation failed: ...</c>).
/// The admin API prefixes it; a plugin check quotes it.
/// </summary>
internal static class ConfigErrorText
{
    public static string Nest(ConfigError error)
    {
        if (error.Path.Length == 0)
        {
            return error.Message;
        }
        var segments = Segments(error.Path);
        var last = Bare(segments[^1]);
        var count = error.Message.StartsWith($"property \"{last}\"", StringComparison.Ordinal) ? segments.Count - 1 : segments.Count;
        if (count == segments.Count && !error.Message.StartsWith("property", StringComparison.Ordinal) && segments.Count == 1)
        {
            // A message about the field itself ("set either upstream or upstream_id, not both"): it already names it.
            return error.Message;
        }
        var sb = new StringBuilder();
        for (var i = 0; i < count; i++)
        {
            sb.Append("property \"").Append(Bare(segments[i])).Append("\" validation failed: ");
        }
        return sb.Append(error.Message).ToString();
    }

    /// <summary>A path's segments, split at dots outside brackets: <c>nodes["127.0.0.1:80"]</c> is one segment.</summary>
    private static List<string> Segments(string path)
    {
        var segments = new List<string>();
        var depth = 0;
        var start = 0;
        for (var i = 0; i < path.Length; i++)
        {
            switch (path[i])
            {
                case '[':
                    depth++;
                    break;
                case ']' when depth > 0:
                    depth--;
                    break;
                case '.' when depth == 0:
                    segments.Add(path[start..i]);
                    start = i + 1;
                    break;
            }
        }
        segments.Add(path[start..]);
        return segments;
    }

    private static string Bare(string segment)
    {
        var bracket = segment.IndexOf('[', StringComparison.Ordinal);
        return bracket < 0 ? segment : segment[..bracket];
    }
}
