using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using StreamGate.Config;
using StreamGate.Stores;

namespace StreamGate.Admin;

/// <summary>
/// /apisix/admin: APISIX's admin API for the stream resources, on a store. Every write is validated whole,
/// checked for references, and written under one lock so that "is this upstream still used?" and the write
/// that depends on the answer cannot interleave with another write. A PATCH is a read-merge-write that only
/// lands on the revision it read (compare-and-swap, retried), as etcd clients do: no update is lost and a
/// deleted object is never brought back.
/// </summary>
/// <remarks>
/// Failures answer {"error_msg"} and are logged once, with their cause: a store that cannot write or read is
/// 503; a stored value that is not a JSON object is skipped by lists and reported, and a PUT replaces it.
/// </remarks>
internal sealed partial class AdminApi : IDisposable
{
    private const string Root = "/apisix/admin";

    /// <summary>
    /// Optimistic tries of a PATCH before the last one, which holds the write lock from its read to its write and so
    /// cannot lose. Each failed try means another write to the same object landed meanwhile (progress elsewhere).
    /// </summary>
    private const int OptimisticPatchTries = 8;

    /// <summary>APISIX's id pattern (schema_def.lua id_schema), checked by hand: a regex "$" also matches before a final newline.</summary>
    private const string IdPatternText = "^[a-zA-Z0-9-_.]+$";

    private readonly IConfigStore _store;
    private readonly GatewayConfig _config;
    private readonly KeyringCipher _cipher;
    private readonly TimeProvider _time;
    private readonly string _prefix;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    // Damaged stored values already logged, by key, with the revision logged: one line per damage, not per request.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, long> _reportedDamage = new(StringComparer.Ordinal);
    private long _lastGeneratedId;

    public AdminApi(IConfigStore store, GatewayConfig config, TimeProvider time, ILogger logger)
    {
        _store = store;
        _config = config;
        _cipher = new KeyringCipher(config.Keyring);
        _time = time;
        _prefix = config.KeyPrefix;
        _logger = logger;
    }

    /// <summary>1 to 64 of [a-zA-Z0-9-_.], and not a dot segment (URLs remove those, so it could never be read).</summary>
    internal static string? IdError(string id)
    {
        if (id.Length > 64)
        {
            return $"invalid configuration: property \"id\" validation failed: string too long, expected at most 64, got {id.Length}";
        }
        var valid = id.Length > 0 && id is not ("." or "..");
        foreach (var c in id)
        {
            valid &= c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9') or '-' or '_' or '.';
        }
        return valid ? null : $"invalid configuration: property \"id\" validation failed: failed to match pattern \"{IdPatternText}\" with \"{Truncate(Printable(id))}\"";
    }

    public void Map(IEndpointRouteBuilder app)
    {
        // GET and HEAD alike, everywhere (beyond: see ResourceCoreAsync).
        string[] read = ["GET", "HEAD"];
        app.MapMethods(Root + "/plugins/list", read, (HttpContext context) => Results.Json(new JsonArray([.. AdminSchemas.PluginNames.Select(p => (JsonNode)p)])));
        app.MapMethods(Root + "/plugins/{name}", read, (string name) => AdminSchemas.Plugin(name) is { } schema
            ? Results.Text(schema, "application/json")
            : AdminErrors.Error(StatusCodes.Status404NotFound, $"plugin not found in subsystem stream: {name}"));
        app.MapMethods(Root + "/schema/{name}", read, (string name) => AdminSchemas.Get(name) is { } schema
            ? Results.Text(schema, "application/json")
            : AdminErrors.Error(StatusCodes.Status404NotFound, $"schema not found: {name}"));
        app.Map(Root + "/plugin_metadata", (Delegate)PluginMetadataCollectionAsync);
        app.Map(Root + "/plugin_metadata/{name}", PluginMetadataAsync);
        app.Map(Root + "/{resource}/{id?}", ResourceAsync);
        app.Map(Root + "/{resource}/{id}/{**subPath}", SubPathAsync);
        app.Map(Root + "/{**rest}", (string? rest) => AdminErrors.Error(StatusCodes.Status404NotFound, $"not found: {Root}/{rest}"));
    }

    private async Task<IResult> ResourceAsync(HttpContext context, string resource, string? id)
    {
        try
        {
            return await ResourceCoreAsync(context, resource, id, subPath: null);
        }
        catch (StoreUnavailableException e)
        {
            return StoreFailed(context, e);
        }
    }

    /// <summary>503 with the cause, logged once: the request may be tried again when the store can write.</summary>
    private IResult StoreFailed(HttpContext context, StoreUnavailableException e)
    {
        StoreUnavailable(_logger, context.Request.Method, context.Request.Path.Value ?? "", e.Message);
        return AdminErrors.Error(StatusCodes.Status503ServiceUnavailable, e.Message);
    }

    /// <summary>/{resource}/{id}/a/b: APISIX's sub-path PATCH (<c>PATCH /upstreams/1/nodes</c>); any other method is 404.</summary>
    private async Task<IResult> SubPathAsync(HttpContext context, string resource, string id, string? subPath)
    {
        try
        {
            return await ResourceCoreAsync(context, resource, id, string.IsNullOrEmpty(subPath) ? null : subPath);
        }
        catch (StoreUnavailableException e)
        {
            return StoreFailed(context, e);
        }
    }

    private async Task<IResult> ResourceCoreAsync(HttpContext context, string resource, string? id, string? subPath)
    {
        if (!ResourceKind.ByName.TryGetValue(resource, out var kind))
        {
            return AdminErrors.Error(StatusCodes.Status404NotFound, $"not found: unknown resource \"{resource}\"; expected stream_routes, upstreams, services, ssls, plugin_metadata");
        }
        if (kind == ResourceKind.StreamRoutes && !_config.StreamEnabled)
        {
            return AdminErrors.BadRequest("stream mode is disabled, can not add stream routes");
        }
        if (id is not null && IdError(id) is { } idError)
        {
            return AdminErrors.BadRequest(idError);
        }
        var method = context.Request.Method;
        if (subPath is not null && method != "PATCH")
        {
            return AdminErrors.Error(StatusCodes.Status404NotFound, $"not found: {context.Request.Path}");
        }
        return method switch
        {
            // beyond: HEAD is a GET without the body (APISIX routes no HEAD and refuses it to viewers).
            "GET" or "HEAD" when id is null => await ListAsync(context, kind),
            "GET" or "HEAD" => await GetAsync(kind, id),
            "PUT" => await WriteAsync(context, kind, id, post: false),
            "POST" when id is null => await WriteAsync(context, kind, null, post: true),
            // APISIX's check_conf takes the id from the path or the body; POST wants neither.
            "POST" => AdminErrors.BadRequest($"wrong {kind.Singular} id, do not need it"),
            "PATCH" when !kind.Patchable => AdminErrors.Error(StatusCodes.Status405MethodNotAllowed, $"not supported `PATCH` method for {kind.Singular}"),
            "PATCH" when id is null => AdminErrors.BadRequest($"missing {kind.Singular} id"),
            "PATCH" => await PatchAsync(context, kind, id, subPath),
            "DELETE" when id is null => AdminErrors.BadRequest($"missing {kind.Singular} id"),
            "DELETE" => await DeleteAsync(context, kind, id),
            _ => AdminErrors.Error(StatusCodes.Status405MethodNotAllowed, $"method {method} is not supported"),
        };
    }

    private string Key(ResourceKind kind, string id) => $"{_prefix}/{kind.Name}/{id}";

    private async Task<IResult> GetAsync(ResourceKind kind, string id)
    {
        var stored = await _store.GetAsync(Key(kind, id));
        if (stored is null)
        {
            return AdminErrors.KeyNotFound();
        }
        return Parse(stored, out var value, out var damage) ? Results.Json(Envelope(kind, stored, value!)) : Damaged(stored.Key, damage!);
    }

    private static JsonObject Envelope(ResourceKind kind, StoredValue stored, JsonObject value) => new()
    {
        ["key"] = stored.Key,
        ["value"] = PublicValue(kind, value),
        ["createdIndex"] = stored.CreateRevision,
        ["modifiedIndex"] = stored.ModRevision,
    };

    /// <summary>
    /// A write's answer: the object as stored, private keys in their stored (encrypted) form, as APISIX answers
    /// a PUT, POST or PATCH (ssl2.t TEST 1 to 3). With an empty keyring a key is stored in clear, and then it is
    /// left out rather than echoed.
    /// </summary>
    private JsonObject WrittenValue(ResourceKind kind, JsonObject value) =>
        _cipher.Enabled || !kind.HoldsPrivateKey ? value : PublicValue(kind, value);

    /// <summary>The stored object as a read returns it: without private keys, encrypted or not (ssl2.t TEST 4).</summary>
    private static JsonObject PublicValue(ResourceKind kind, JsonObject value)
    {
        if (kind.HoldsPrivateKey)
        {
            value.Remove("key");
            value.Remove("keys");
        }
        return value;
    }

    /// <summary>
    /// A stored value as an object; false, with what is wrong, when it is damaged (not JSON, or not an object:
    /// written by hand, or by a bug). The first time a damaged key and revision is met, it is logged.
    /// </summary>
    private bool Parse(StoredValue stored, out JsonObject? value, out string? damage)
    {
        try
        {
            var node = JsonNode.Parse(stored.Value);
            value = node as JsonObject;
            damage = value is null ? $"a JSON {JsonObjectReader.Describe(node)}, not an object" : null;
        }
        catch (JsonException e)
        {
            value = null;
            damage = $"not JSON: {e.Message}";
        }
        if (damage is not null && (!_reportedDamage.TryGetValue(stored.Key, out var reported) || reported != stored.ModRevision))
        {
            _reportedDamage[stored.Key] = stored.ModRevision;
            DamagedValue(_logger, stored.Key, stored.ModRevision, damage);
        }
        return damage is null;
    }

    private static IResult Damaged(string key, string damage) => AdminErrors.Error(
        StatusCodes.Status500InternalServerError,
        $"the stored value of {key} is damaged ({damage}); PUT a whole new value to replace it, or DELETE it");

    private async Task<IResult> ListAsync(HttpContext context, ResourceKind kind)
    {
        var query = context.Request.Query;
        var list = AdminListQuery.Read(query, out var queryError);
        if (list is null)
        {
            // APISIX answers this one in plain text (core.response.exit with a string): t/admin/filter.t TEST 1.
            return Results.Text(queryError, "text/plain", statusCode: StatusCodes.Status400BadRequest);
        }
        var filter = ReferenceFilter(kind, query["filter"].FirstOrDefault());
        var range = await _store.RangeAsync($"{_prefix}/{kind.Name}/");
        var items = new List<JsonObject>();
        JsonArray? skipped = null;
        foreach (var stored in range.Items.OrderBy(i => i.CreateRevision))
        {
            if (!Parse(stored, out var value, out var damage))
            {
                // ours: one damaged value is left out and named, instead of failing the whole list.
                (skipped ??= []).Add(new JsonObject { ["key"] = stored.Key, ["error_msg"] = $"the stored value is damaged ({damage})" });
                continue;
            }
            if (list.Matches(value!) && MatchesAll(value!, filter))
            {
                items.Add(Envelope(kind, stored, value!));
            }
        }
        var total = items.Count;
        var shown = list.Select(items, i => i["createdIndex"]!.GetValue<long>(), i => i["key"]!.GetValue<string>());
        var answer = new JsonObject { ["list"] = new JsonArray([.. shown]), ["total"] = total };
        if (skipped is not null)
        {
            answer["skipped"] = skipped;
        }
        return Results.Json(answer);
    }

    /// <summary>
    /// APISIX's <c>?filter=</c> (3.13): itself a query string, <c>filter=service_id%3D1%26upstream_id%3D2</c>, all of
    /// which must hold. APISIX reads service_id and upstream_id on routes and stream routes only, and ignores the
    /// rest; so do we.
    /// </summary>
    private static List<(string Field, string Value)> ReferenceFilter(ResourceKind kind, string? filter)
    {
        var conditions = new List<(string, string)>();
        if (kind != ResourceKind.StreamRoutes || string.IsNullOrEmpty(filter))
        {
            return conditions;
        }
        foreach (var (field, values) in Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery(filter))
        {
            if (field is "service_id" or "upstream_id")
            {
                conditions.AddRange(values.Select(v => (field, v ?? "")));
            }
        }
        return conditions;
    }

    private static bool MatchesAll(JsonObject value, List<(string Field, string Value)> conditions) =>
        conditions.TrueForAll(c => value[c.Field] is { } actual && IdText(actual) == c.Value);

    private async Task<IResult> WriteAsync(HttpContext context, ResourceKind kind, string? urlId, bool post)
    {
        var (body, bodyError) = await ReadBodyAsync(context);
        if (bodyError is not null)
        {
            return bodyError;
        }
        if (ResourceParser.ForbiddenProperty(body!) is { } forbidden)
        {
            return AdminErrors.BadRequest(forbidden);
        }
        string id;
        var bodyId = body!["id"];
        if (post)
        {
            if (bodyId is not null)
            {
                return AdminErrors.BadRequest($"wrong {kind.Singular} id, do not need it");
            }
            id = NewId();
        }
        else if (urlId is not null)
        {
            if (bodyId is not null && IdText(bodyId) != urlId)
            {
                return AdminErrors.BadRequest($"wrong {kind.Singular} id");
            }
            id = urlId;
        }
        else
        {
            if (bodyId is null)
            {
                return AdminErrors.BadRequest($"missing {kind.Singular} id");
            }
            var errors = new List<ConfigError>();
            var probe = new JsonObjectReader(new JsonObject { ["id"] = bodyId.DeepClone() }, "", errors);
            if (ResourceParser.ReadId(probe) is not { } parsedId)
            {
                return AdminErrors.Invalid(errors);
            }
            id = parsedId;
        }
        if (IdError(id) is { } idError)
        {
            return AdminErrors.BadRequest(idError);
        }
        body["id"] = id;
        // Unconditional: only a compare can make it answer null.
        return await StoreAsync(kind, id, body, createTime: null) ?? AdminErrors.Error(StatusCodes.Status409Conflict, "value changed before overwritten");
    }

    /// <summary>
    /// A merge patch (whole object), or the value that replaces what is at a sub-path. A merge patch may set
    /// create_time and update_time, which are then kept as sent (APISIX: t/admin/upstream4.t TEST 12 and 13).
    /// </summary>
    private sealed record Patch(JsonObject? Merge, string[]? SubPath, JsonNode? Value, JsonNode? CreateTime = null, JsonNode? UpdateTime = null)
    {
        /// <summary>Whether the patch sets <paramref name="field"/> (a top-level property).</summary>
        public bool Sets(string field) => SubPath is null ? Merge![field] is not null : SubPath[0] == field;
    }

    private async Task<IResult> PatchAsync(HttpContext context, ResourceKind kind, string id, string? subPath)
    {
        Patch patch;
        if (subPath is null)
        {
            var (merge, bodyError) = await ReadBodyAsync(context);
            if (bodyError is not null)
            {
                return bodyError;
            }
            var times = new JsonNode?[2];
            foreach (var (i, name) in (ReadOnlySpan<(int, string)>)[(0, "create_time"), (1, "update_time")])
            {
                if (merge!.ContainsKey(name))
                {
                    times[i] = merge[name]?.DeepClone();
                    merge.Remove(name);
                    // APISIX's schema says integer, nothing more (a negative one is accepted, as there).
                    if (times[i] is not { } time || !JsonObjectReader.TryGetInteger(time, out _))
                    {
                        return AdminErrors.BadRequest($"invalid configuration: property \"{name}\" validation failed: wrong type: expected integer, got {JsonObjectReader.Describe(times[i])}");
                    }
                }
            }
            if (merge!["id"] is { } patchId && IdText(patchId) != id)
            {
                return AdminErrors.BadRequest($"wrong {kind.Singular} id");
            }
            patch = new Patch(merge, null, null, times[0], times[1]);
        }
        else
        {
            var segments = subPath.TrimEnd('/').Split('/');
            if (Array.Exists(segments, s => s.Length == 0))
            {
                return AdminErrors.BadRequest($"invalid sub-path: /{subPath}");
            }
            if (segments[0] is "create_time" or "update_time")
            {
                return AdminErrors.BadRequest($"the property is forbidden:  {segments[0]}");
            }
            var (value, bodyError) = await ReadJsonAsync(context);
            if (bodyError is not null)
            {
                return bodyError;
            }
            if (segments is ["id"] && (value is null || IdText(value) != id))
            {
                return AdminErrors.BadRequest($"wrong {kind.Singular} id");
            }
            patch = new Patch(null, segments, value);
        }
        for (var attempt = 1; attempt <= OptimisticPatchTries; attempt++)
        {
            if (await TryPatchAsync(kind, id, patch, locked: false) is { } answer)
            {
                return answer;
            }
        }
        // Others kept winning the race for this object: read, merge and write with every other writer held off.
        await _writeLock.WaitAsync();
        try
        {
            return await TryPatchAsync(kind, id, patch, locked: true)
                ?? AdminErrors.Error(StatusCodes.Status409Conflict, "value changed before overwritten");
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>
    /// One read-merge-write of a PATCH, written only if the object is still at the revision read; null when it
    /// is not (another write landed in between: read again). <paramref name="locked"/>: the caller holds the write lock.
    /// </summary>
    private async Task<IResult?> TryPatchAsync(ResourceKind kind, string id, Patch patch, bool locked)
    {
        var existing = await _store.GetAsync(Key(kind, id));
        if (existing is null)
        {
            // Never a create: a PATCH that lost a race to a DELETE finds nothing here.
            return AdminErrors.KeyNotFound();
        }
        if (!Parse(existing, out var parsed, out var damage))
        {
            return Damaged(existing.Key, damage!);
        }
        var merged = parsed!;
        var createTime = patch.CreateTime?.DeepClone() ?? merged["create_time"]?.DeepClone();
        merged.Remove("create_time");
        merged.Remove("update_time");
        if (kind.HoldsPrivateKey && !patch.Sets("key") && merged["key"] is { } storedKey)
        {
            // The stored key is ciphertext; a patch that does not replace it keeps it, decrypted for validation.
            merged["key"] = Unseal(storedKey.GetValue<string>());
        }
        if (kind.HoldsPrivateKey && !patch.Sets("keys") && merged["keys"] is JsonArray storedKeys)
        {
            // The same for the keys of the extra certificates (certs/keys), which StoreAsync encrypts again.
            TransformStrings(storedKeys, Unseal);
        }
        if (patch.SubPath is null)
        {
            MergePatch(merged, patch.Merge!);
        }
        else if (ReplaceAt(merged, patch.SubPath, patch.Value) is { } pathError)
        {
            return AdminErrors.BadRequest(pathError);
        }
        merged["id"] = id;
        return await StoreAsync(kind, id, merged, createTime, existing.ModRevision, locked, patch.UpdateTime?.DeepClone());
    }

    /// <summary>
    /// Validates and writes an object. With <paramref name="expectedModRevision"/>, the write happens only if the
    /// object is still at that revision, and null is the answer when it is not.
    /// </summary>
    private async Task<IResult?> StoreAsync(ResourceKind kind, string id, JsonObject value, JsonNode? createTime, long? expectedModRevision = null, bool locked = false, JsonNode? updateTime = null)
    {
        var errors = new List<ConfigError>();
        if (!kind.Validate(value, errors))
        {
            return AdminErrors.Invalid(errors);
        }
        var key = Key(kind, id);
        Task<StoreWriteResult> written;
        string json;
        // The lock covers the checks and the store's acceptance of the write, not the wait for the disk: the
        // store orders accepted writes and shows them to the next check at once, and writes from concurrent
        // clients share one commit.
        if (!locked)
        {
            await _writeLock.WaitAsync();
        }
        try
        {
            if (await CheckReferencesAsync(kind, value) is { } referenceError)
            {
                return referenceError;
            }
            var now = _time.GetUtcNow().ToUnixTimeSeconds();
            if (createTime is null && expectedModRevision is null && await _store.GetAsync(key) is { } existing)
            {
                // A damaged value being replaced has no create_time to keep: the repair starts a new one.
                createTime = Parse(existing, out var old, out _) ? old!["create_time"]?.DeepClone() : null;
            }
            createTime ??= JsonValue.Create(now);
            value["create_time"] = createTime;
            value["update_time"] = updateTime ?? JsonValue.Create(now);
            if (kind.HoldsPrivateKey && value["key"] is { } privateKey)
            {
                value["key"] = Seal(privateKey.GetValue<string>());
            }
            if (kind.HoldsPrivateKey && value["keys"] is JsonArray privateKeys)
            {
                TransformStrings(privateKeys, Seal);
            }
            json = value.ToJsonString();
            written = _store.PutAsync(key, json, expectedModRevision);
        }
        finally
        {
            if (!locked)
            {
                _writeLock.Release();
            }
        }
        var result = await written;
        if (!result.Succeeded)
        {
            return null;
        }
        var response = new JsonObject { ["key"] = key, ["value"] = WrittenValue(kind, value) };
        return Results.Json(response, statusCode: result.Previous is null ? StatusCodes.Status201Created : StatusCodes.Status200OK);
    }

    /// <summary>
    /// A private key as stored: encrypted with the keyring, except a <c>$secret://</c> or <c>$ENV://</c> reference,
    /// which APISIX stores as it is (it names where the key is, it is not the key).
    /// </summary>
    private string Seal(string key) => SslParser.IsSecretReference(key) ? key : _cipher.Encrypt(key);

    /// <summary>A stored private key as sent: decrypted, or a reference as it is (base64 never holds a <c>$</c>).</summary>
    private string? Unseal(string stored) => SslParser.IsSecretReference(stored) ? stored : _cipher.Decrypt(stored);

    private async Task<IResult?> CheckReferencesAsync(ResourceKind kind, JsonObject value)
    {
        if (kind == ResourceKind.StreamRoutes || kind == ResourceKind.Services)
        {
            if (value["upstream_id"] is { } upstreamId && await _store.GetAsync(Key(ResourceKind.Upstreams, IdText(upstreamId))) is null)
            {
                return AdminErrors.BadRequest($"failed to fetch upstream info by upstream id [{IdText(upstreamId)}], response code: 404");
            }
        }
        if (kind == ResourceKind.StreamRoutes && value["service_id"] is { } serviceId && await _store.GetAsync(Key(ResourceKind.Services, IdText(serviceId))) is null)
        {
            return AdminErrors.BadRequest($"failed to fetch service info by service id [{IdText(serviceId)}], response code: 404");
        }
        return null;
    }

    private async Task<IResult> DeleteAsync(HttpContext context, ResourceKind kind, string id)
    {
        var force = context.Request.Query["force"].FirstOrDefault() == "true";
        var key = Key(kind, id);
        Task<StoreWriteResult> deleted;
        await _writeLock.WaitAsync();
        try
        {
            if (await _store.GetAsync(key) is null)
            {
                return AdminErrors.KeyNotFound();
            }
            if (!force && await FindUserAsync(kind, id) is { } user)
            {
                return AdminErrors.BadRequest(kind == ResourceKind.Services
                    ? $"can not delete this service directly, {user} is still using it now"
                    : $"can not delete this {kind.Singular}, {user} is still using it now");
            }
            deleted = _store.DeleteAsync(key);
        }
        finally
        {
            _writeLock.Release();
        }
        var result = await deleted;
        return result.Succeeded ? Deleted(key) : AdminErrors.KeyNotFound();
    }

    /// <summary>
    /// APISIX 3's answer to a DELETE: etcd's count of deleted keys, as etcd's JSON gateway writes an int64 (the
    /// string "1"), and the key (t/admin/stream-routes.t TEST 8, upstream2.t, services2.t, ssl2.t, plugin-metadata.t).
    /// </summary>
    private static IResult Deleted(string key) => Results.Json(new JsonObject { ["deleted"] = "1", ["key"] = key });

    /// <summary>The first object that references this one ("stream_route [1]"), or null. beyond: APISIX checks only services.</summary>
    private async Task<string?> FindUserAsync(ResourceKind kind, string id)
    {
        (ResourceKind User, string Field)[] users = kind.Name switch
        {
            "services" => [(ResourceKind.StreamRoutes, "service_id")],
            "upstreams" => [(ResourceKind.StreamRoutes, "upstream_id"), (ResourceKind.Services, "upstream_id")],
            "ssls" => [(ResourceKind.Upstreams, "tls.client_cert_id")],
            _ => [],
        };
        foreach (var (user, field) in users)
        {
            var range = await _store.RangeAsync($"{_prefix}/{user.Name}/");
            foreach (var item in range.Items)
            {
                if (!Parse(item, out var parsed, out _))
                {
                    // Logged by Parse; what it references cannot be known, so it holds nothing.
                    continue;
                }
                JsonNode? node = parsed;
                foreach (var part in field.Split('.'))
                {
                    node = node is JsonObject obj ? obj[part] : null;
                }
                if (node is not null && IdText(node) == id)
                {
                    var userName = user == ResourceKind.StreamRoutes ? "stream_route" : user.Name.TrimEnd('s');
                    return $"{userName} [{item.Key[(item.Key.LastIndexOf('/') + 1)..]}]";
                }
            }
        }
        return null;
    }

    private async Task<IResult> PluginMetadataAsync(HttpContext context, string name)
    {
        try
        {
            return await PluginMetadataCoreAsync(context, name);
        }
        catch (StoreUnavailableException e)
        {
            return StoreFailed(context, e);
        }
    }

    private async Task<IResult> PluginMetadataCoreAsync(HttpContext context, string name)
    {
        var key = $"{_prefix}/plugin_metadata/{name}";
        switch (context.Request.Method)
        {
            case "GET" or "HEAD":
                var stored = await _store.GetAsync(key);
                if (stored is null)
                {
                    return AdminErrors.KeyNotFound();
                }
                return !Parse(stored, out var metadata, out var damage) ? Damaged(key, damage!) : Results.Json(new JsonObject
                {
                    ["key"] = key,
                    ["value"] = metadata,
                    ["createdIndex"] = stored.CreateRevision,
                    ["modifiedIndex"] = stored.ModRevision,
                });
            case "PUT":
                var (body, error) = await ReadBodyAsync(context);
                if (error is not null)
                {
                    return error;
                }
                if (ResourceParser.CheckPluginMetadataName(name) is { } nameError)
                {
                    return AdminErrors.Invalid([nameError]);
                }
                body!["id"] = name;
                var result = await _store.PutAsync(key, body.ToJsonString());
                return Results.Json(new JsonObject { ["key"] = key, ["value"] = body.DeepClone() }, statusCode: result.Previous is null ? 201 : 200);
            case "DELETE":
                var deleted = await _store.DeleteAsync(key);
                return deleted.Succeeded ? Deleted(key) : AdminErrors.KeyNotFound();
            default:
                return AdminErrors.Error(StatusCodes.Status405MethodNotAllowed, $"method {context.Request.Method} is not supported");
        }
    }

    /// <summary>/plugin_metadata without a plugin name: a list (GET), otherwise APISIX's "missing plugin name".</summary>
    private async Task<IResult> PluginMetadataCollectionAsync(HttpContext context)
    {
        if (context.Request.Method is not ("GET" or "HEAD"))
        {
            return AdminErrors.Invalid([ResourceParser.CheckPluginMetadataName(null)!]);
        }
        var query = AdminListQuery.Read(context.Request.Query, out var queryError);
        if (query is null)
        {
            return Results.Text(queryError, "text/plain", statusCode: StatusCodes.Status400BadRequest);
        }
        try
        {
            // The same filters and paging as every list (v3_adapter.filter runs on all of them).
            var range = await _store.RangeAsync($"{_prefix}/plugin_metadata/");
            var items = new List<JsonObject>();
            foreach (var stored in range.Items)
            {
                if (Parse(stored, out var value, out _) && query.Matches(value!))
                {
                    items.Add(new JsonObject { ["key"] = stored.Key, ["value"] = value, ["createdIndex"] = stored.CreateRevision, ["modifiedIndex"] = stored.ModRevision });
                }
            }
            var shown = query.Select(items, i => i["createdIndex"]!.GetValue<long>(), i => i["key"]!.GetValue<string>());
            return Results.Json(new JsonObject { ["list"] = new JsonArray([.. shown]), ["total"] = items.Count });
        }
        catch (StoreUnavailableException e)
        {
            return StoreFailed(context, e);
        }
    }

    private async Task<(JsonObject? Body, IResult? Error)> ReadBodyAsync(HttpContext context)
    {
        var (node, error) = await ReadJsonAsync(context);
        if (error is not null)
        {
            return (null, error);
        }
        return node is JsonObject obj
            ? (obj, null)
            : (null, AdminErrors.BadRequest($"invalid request body: expected a JSON object, got {JsonObjectReader.Describe(node)}"));
    }

    /// <summary>The body as any JSON value (a sub-path PATCH sends a string, an array, a number...); null is JSON's null.</summary>
    private async Task<(JsonNode? Body, IResult? Error)> ReadJsonAsync(HttpContext context)
    {
        string text;
        try
        {
            using var reader = new StreamReader(context.Request.Body);
            text = await reader.ReadToEndAsync(context.RequestAborted);
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return (null, AdminErrors.Error(StatusCodes.Status413PayloadTooLarge, $"invalid request body: larger than {_config.Admin.MaxBodyBytes} bytes"));
        }
        catch (BadHttpRequestException e)
        {
            return (null, AdminErrors.Error(e.StatusCode, $"invalid request body: {e.Message}"));
        }
        catch (IOException e)
        {
            // Kestrel reports a malformed chunked body this way (a chunk size of 0x80000000 or more overflows:
            // "Bad chunk size data"); a client that went away gets this answer too and never reads it.
            return (null, AdminErrors.BadRequest($"invalid request body: {e.Message}"));
        }
        if (string.IsNullOrWhiteSpace(text))
        {
            return (null, AdminErrors.BadRequest("invalid request body: empty"));
        }
        JsonNode? node;
        try
        {
            // A repeated name keeps its last value, as cjson does for APISIX (stream-routes.t TEST 1 sends desc
            // twice); serialising once finds strings that cannot be written back, such as a lone surrogate (\ud800).
            node = JsonObjectReader.ParseLastWins(text, maxDepth: 32);
            _ = node?.ToJsonString();
        }
        catch (Exception e) when (e is JsonException or ArgumentException or InvalidOperationException)
        {
            return (null, AdminErrors.BadRequest($"invalid request body: {e.Message}"));
        }
        return (node, null);
    }

    /// <summary>
    /// APISIX's sub-path patch (core.table.patch): the value at the path is replaced whole (null removes it), objects
    /// missing on the way are created; a path through something that is not an object is an error.
    /// </summary>
    private static string? ReplaceAt(JsonObject target, string[] path, JsonNode? value)
    {
        var current = target;
        for (var i = 0; i < path.Length - 1; i++)
        {
            var next = current[path[i]];
            if (next is null)
            {
                next = new JsonObject();
                current[path[i]] = next;
            }
            if (next is not JsonObject obj)
            {
                return $"invalid sub-path: /{string.Join('/', path[..(i + 1)])}";
            }
            current = obj;
        }
        if (value is null)
        {
            current.Remove(path[^1]);
        }
        else
        {
            current[path[^1]] = value.DeepClone();
        }
        return null;
    }

    /// <summary>RFC 7386 JSON merge patch: objects merge, null removes, anything else replaces.</summary>
    private static void MergePatch(JsonObject target, JsonObject patch)
    {
        foreach (var (name, value) in patch)
        {
            if (value is null)
            {
                target.Remove(name);
            }
            else if (value is JsonObject patchObject && target[name] is JsonObject targetObject)
            {
                MergePatch(targetObject, patchObject);
            }
            else
            {
                target[name] = value.DeepClone();
            }
        }
    }

    /// <summary>Replaces each string of <paramref name="array"/> by <paramref name="transform"/> of it (other items stay).</summary>
    private static void TransformStrings(JsonArray array, Func<string, string?> transform)
    {
        for (var i = 0; i < array.Count; i++)
        {
            if (array[i] is { } item && item.GetValueKind() == JsonValueKind.String)
            {
                array[i] = transform(item.GetValue<string>());
            }
        }
    }

    private static string IdText(JsonNode node) => node.GetValueKind() == JsonValueKind.String ? node.GetValue<string>() : node.ToJsonString();

    private static string Truncate(string text) => text.Length <= 80 ? text : text[..80] + "...";

    /// <summary>Control characters as JSON-style escapes, so a message shows an id's newline instead of breaking on it.</summary>
    private static string Printable(string text)
    {
        if (!text.Any(char.IsControl))
        {
            return text;
        }
        var sb = new System.Text.StringBuilder(text.Length + 8);
        foreach (var c in text)
        {
            _ = c switch
            {
                '\n' => sb.Append("\\n"),
                '\r' => sb.Append("\\r"),
                '\t' => sb.Append("\\t"),
                _ when char.IsControl(c) => sb.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:x4}"),
                _ => sb.Append(c),
            };
        }
        return sb.ToString();
    }

    /// <summary>Ids for POST: increasing, 20 digits like APISIX's, unique within this process and across restarts (time based).</summary>
    private string NewId()
    {
        var candidate = _time.GetUtcNow().ToUnixTimeMilliseconds() * 1000;
        long previous, next;
        do
        {
            previous = Interlocked.Read(ref _lastGeneratedId);
            next = Math.Max(candidate, previous + 1);
        }
        while (Interlocked.CompareExchange(ref _lastGeneratedId, next, previous) != previous);
        return next.ToString("D20", CultureInfo.InvariantCulture);
    }

    public void Dispose() => _writeLock.Dispose();

    [LoggerMessage(EventId = 310, Level = LogLevel.Error, Message = "Admin API {Method} {Path} answered 503: {Cause}")]
    private static partial void StoreUnavailable(ILogger logger, string method, string path, string cause);

    [LoggerMessage(EventId = 311, Level = LogLevel.Warning, Message = "Stored value of {Key} (revision {Revision}) is damaged ({Damage}): lists skip it, GET and PATCH answer 500 until a PUT replaces it or a DELETE removes it")]
    private static partial void DamagedValue(ILogger logger, string key, long revision, string damage);
}
