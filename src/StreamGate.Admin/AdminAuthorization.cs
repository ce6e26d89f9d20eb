using System.Net;
using StreamGate.Config;
using StreamGate.Routing;

namespace StreamGate.Admin;

/// <summary>
/// allow_admin (403 outside the listed networks) and X-API-KEY with roles: admin may do anything, viewer
/// only GET (and HEAD). No keys means deployment.admin.admin_key_required: false, the only way the
/// configuration loader lets a node run without them. The messages are APISIX's: {"error_msg":"failed to check token","description":"missing apikey"}.
/// </summary>
internal sealed class AdminAuthorization
{
    private readonly IpPrefix[] _allowed;
    private readonly IReadOnlyList<AdminKey> _keys;

    public AdminAuthorization(AdminOptions options)
    {
        _allowed = [.. options.AllowAdmin.Select(a => IpPrefix.TryParse(a, out var p) ? p : throw new ArgumentException($"allow_admin entry {a}"))];
        _keys = options.Keys;
    }

    public async Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        var remote = context.Connection.RemoteIpAddress ?? IPAddress.None;
        var address = IpAddr.From(remote.IsIPv4MappedToIPv6 ? remote.MapToIPv4() : remote);
        if (_allowed.Length > 0 && !Array.Exists(_allowed, p => p.Contains(address)))
        {
            await AdminErrors.Error(StatusCodes.Status403Forbidden, $"access from {remote} is not allowed; add its network to deployment.admin.allow_admin").ExecuteAsync(context);
            return;
        }
        if (_keys.Count > 0)
        {
            var presented = context.Request.Headers["X-API-KEY"].FirstOrDefault()
                ?? context.Request.Query["api_key"].FirstOrDefault()
                ?? context.Request.Cookies["X-API-KEY"];
            string? failure = null;
            if (string.IsNullOrEmpty(presented))
            {
                failure = "missing apikey";
            }
            else if (FindKey(presented) is not { } key)
            {
                failure = "wrong apikey";
            }
            // beyond: a viewer's HEAD is a GET without the body; APISIX compares the method with GET alone.
            else if (key.Role == "viewer" && !HttpMethods.IsGet(context.Request.Method) && !HttpMethods.IsHead(context.Request.Method))
            {
                failure = "invalid method for role viewer";
            }
            if (failure is not null)
            {
                await AdminErrors.Error(StatusCodes.Status401Unauthorized, "failed to check token", failure).ExecuteAsync(context);
                return;
            }
        }
        await next(context);
    }

    private AdminKey? FindKey(string presented)
    {
        foreach (var key in _keys)
        {
            // Constant-time comparison: the key is a secret.
            if (System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(
                    System.Text.Encoding.UTF8.GetBytes(key.Key), System.Text.Encoding.UTF8.GetBytes(presented)))
            {
                return key;
            }
        }
        return null;
    }
}
