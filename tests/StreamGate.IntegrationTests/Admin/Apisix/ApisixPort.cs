using System.Net;
using System.Text.Json.Nodes;

namespace StreamGate.IntegrationTests.Admin.Apisix;

/// <summary>
/// What APISIX's t/admin tests check, as assertions on our admin API: lib/test_admin.lua's <c>t(uri, method, body,
/// expected)</c> passes when the status is below 300 and every field of <c>expected</c> is in the answer with the
/// same value (com_tab); the "not unwanted data" blocks compare the whole answer once the times and indexes are
/// taken out. The facts are APISIX's; the code is ours.
/// </summary>
internal static class ApisixPort
{
    public const int TestTimeoutMs = 60_000;

    // The methods by the names the .t files use, for every port (they import this class statically).
    public static readonly HttpMethod Put = HttpMethod.Put;
    public static readonly HttpMethod Post = HttpMethod.Post;
    public static readonly HttpMethod Get = HttpMethod.Get;
    public static readonly HttpMethod Patch = HttpMethod.Patch;
    public static readonly HttpMethod Delete = HttpMethod.Delete;

    /// <summary>A request that APISIX's block expects to pass (status below 300), with <paramref name="expected"/> contained in the answer.</summary>
    public static async Task<AdminResponse> PassesAsync(this AdminGateway gateway, HttpMethod method, string path, string? body = null, string? expected = null)
    {
        var reply = await gateway.SendAsync(method, path, body);
        Assert.True((int)reply.Status < 300, $"{method} {path}: expected to pass, got {reply}");
        if (expected is not null)
        {
            AssertContains(JsonNode.Parse(expected)!, reply.Body, "");
        }
        return reply;
    }

    /// <summary>A request APISIX's block expects to fail with <paramref name="status"/> and, when given, exactly this error_msg.</summary>
    public static async Task<AdminResponse> FailsAsync(this AdminGateway gateway, HttpMethod method, string path, string? body, HttpStatusCode status, string? errorMsg = null)
    {
        var reply = await gateway.SendAsync(method, path, body);
        Assert.True(reply.Status == status, $"{method} {path}: expected {(int)status}, got {reply}");
        if (errorMsg is not null)
        {
            Assert.True(errorMsg == reply.ErrorMessage, $"{method} {path}: expected error_msg <{errorMsg}>, got {reply}");
        }
        return reply;
    }

    /// <summary>The whole answer, without what the block takes out (create_time, update_time, the indexes, an id it cannot know).</summary>
    public static void AssertExactly(string expected, AdminResponse reply, params string[] removed)
    {
        var actual = reply.Body!.DeepClone();
        foreach (var path in removed)
        {
            var parts = path.Split('.');
            JsonNode? node = actual;
            foreach (var part in parts[..^1])
            {
                node = node?[part];
            }
            Assert.True(node is JsonObject holder && holder.Remove(parts[^1]), $"{path} is missing from {reply.Text}");
        }
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(expected), actual), $"expected {expected}, got {actual.ToJsonString()}");
    }

    /// <summary>test_admin.lua's com_tab: every field of the expected value is in the actual one, equal.</summary>
    public static void AssertContains(JsonNode expected, JsonNode? actual, string path)
    {
        switch (expected)
        {
            case JsonObject obj:
                var actualObject = Assert.IsType<JsonObject>(actual);
                foreach (var (key, value) in obj)
                {
                    Assert.True(actualObject.ContainsKey(key), $"{path}.{key} is missing from {actual!.ToJsonString()}");
                    AssertContains(value!, actualObject[key], $"{path}.{key}");
                }
                break;
            case JsonArray array:
                var actualArray = Assert.IsType<JsonArray>(actual);
                Assert.True(array.Count == actualArray.Count, $"{path}: expected {array.ToJsonString()}, got {actualArray.ToJsonString()}");
                for (var i = 0; i < array.Count; i++)
                {
                    AssertContains(array[i]!, actualArray[i], $"{path}[{i}]");
                }
                break;
            default:
                Assert.True(JsonNode.DeepEquals(expected, actual), $"{path}: expected {expected.ToJsonString()}, got {actual?.ToJsonString()}");
                break;
        }
    }

    public static long Time(this AdminResponse reply, string field) => reply.Body!["value"]![field]!.GetValue<long>();
}
