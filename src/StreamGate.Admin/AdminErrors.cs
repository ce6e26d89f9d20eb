using System.Text;
using System.Text.Json.Nodes;
using StreamGate.Config;

namespace StreamGate.Admin;

/// <summary>The admin API's answers in APISIX's shapes: {"error_msg": ...}, {"message": "Key not found"}.</summary>
internal static class AdminErrors
{
    public static IResult Error(int status, string message, string? description = null)
    {
        var body = new JsonObject { ["error_msg"] = message };
        if (description is not null)
        {
            body["description"] = description;
        }
        return Results.Json(body, statusCode: status);
    }

    public static IResult BadRequest(string message) => Error(StatusCodes.Status400BadRequest, message);

    public static IResult KeyNotFound() => Results.Json(new JsonObject { ["message"] = "Key not found" }, statusCode: StatusCodes.Status404NotFound);

    /// <summary>
    /// "invalid configuration: ..." with each error nested the way APISIX's JSON-schema checker words it:
    /// an error at upstream.timeout.connect reads
    /// <c>property "upstream" validation failed: property "timeout" validation failed: property "connect" validation failed: ...</c>.
    /// </summary>
    /// <remarks>
    /// APISIX checks plugins and addresses after its JSON schema and sends those messages bare
    /// (<c>unknown plugin [x]</c>, <c>invalid remote_addr: :/8</c>); when they are the only errors, so do we.
    /// </remarks>
    public static string InvalidConfiguration(IEnumerable<ConfigError> errors)
    {
        var list = errors.ToList();
        return list.Count > 0 && list.TrueForAll(e => IsCheckerMessage(e.Message))
            ? string.Join("; ", list.Select(e => e.Message))
            : "invalid configuration: " + string.Join("; ", list.Select(Nest));
    }

    private static bool IsCheckerMessage(string message) =>
        message.StartsWith("unknown plugin [", StringComparison.Ordinal) ||
        message.StartsWith("failed to check the configuration of stream plugin [", StringComparison.Ordinal) ||
        message.StartsWith("invalid remote_addr: ", StringComparison.Ordinal) ||
        message.StartsWith("invalid server_addr: ", StringComparison.Ordinal);

    private static string Nest(ConfigError error)
    {
        if (error.Path.Length == 0)
        {
            return error.Message;
        }
        var segments = error.Path.Split('.');
        var last = Bare(segments[^1]);
        var count = error.Message.StartsWith($"property \"{last}\"", StringComparison.Ordinal) ? segments.Length - 1 : segments.Length;
        if (count == segments.Length && !error.Message.StartsWith("property", StringComparison.Ordinal) && segments.Length == 1)
        {
            // A message about the field itself ("invalid remote_addr: ..."): it already names it.
            return error.Message;
        }
        var sb = new StringBuilder();
        for (var i = 0; i < count; i++)
        {
            sb.Append("property \"").Append(Bare(segments[i])).Append("\" validation failed: ");
        }
        return sb.Append(error.Message).ToString();
    }

    private static string Bare(string segment)
    {
        var bracket = segment.IndexOf('[', StringComparison.Ordinal);
        return bracket < 0 ? segment : segment[..bracket];
    }
}
