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
    /// 400 for an object the validator refused, as APISIX answers it: one message (APISIX stops at its first
    /// failure), worded by the error's <see cref="ConfigError.Form"/>, and our hint, if any, in a field of its own.
    /// </summary>
    /// <remarks>
    /// The first error of the earliest form is the one sent: APISIX checks the JSON schema before anything else
    /// (Schema), then its own checks in check_conf, the address checks and the upstream's before the plugins' and
    /// the certificate's (Check, then Bare); within one form the validator's order stands.
    /// </remarks>
    public static IResult Invalid(IReadOnlyList<ConfigError> errors)
    {
        var first = First(errors);
        var body = new JsonObject { ["error_msg"] = Message(first) };
        if (first.Hint is not null)
        {
            body["hint"] = first.Hint;
        }
        return Results.Json(body, statusCode: StatusCodes.Status400BadRequest);
    }

    internal static ConfigError First(IReadOnlyList<ConfigError> errors)
    {
        if (errors.Count == 0)
        {
            throw new ArgumentException("a refused object has at least one error", nameof(errors));
        }
        var first = errors[0];
        for (var i = 1; i < errors.Count; i++)
        {
            if (errors[i].Form < first.Form)
            {
                first = errors[i];
            }
        }
        return first;
    }

    /// <summary>
    /// error_msg for one error. Schema: <c>invalid configuration: </c> and one
    /// <c>property "x" validation failed: </c> per path segment, the way APISIX's JSON-schema checker nests them
    /// (an error at upstream.timeout.connect reads
    /// <c>property "upstream" validation failed: property "timeout" validation failed: property "connect" validation failed: ...</c>).
    /// Check: the prefix, unnested. Bare: the message as it is. Never the hint.
    /// </summary>
    internal static string Message(ConfigError error) => error.Form switch
    {
        ConfigErrorForm.Bare => error.Message,
        ConfigErrorForm.Check => "invalid configuration: " + error.Message,
        _ => "invalid configuration: " + ConfigErrorText.Nest(error),
    };
}
