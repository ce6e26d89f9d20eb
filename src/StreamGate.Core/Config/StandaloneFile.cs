using System.Text;
using System.Text.Json.Nodes;

namespace StreamGate.Config;

/// <summary>
/// The standalone configuration file, apisix.yaml beside config.yaml (APISIX's data_plane + yaml provider).
/// A file must end with a line <c>#END</c>: a writer that has not finished yet leaves a file without it,
/// and such a file is refused rather than half-applied.
/// </summary>
internal static class StandaloneFile
{
    public const string FileName = "apisix.yaml";

    private static readonly string[] TopLevel = ["stream_routes", "upstreams", "services", "ssls", "plugin_metadata", "routes", "plugins", "stream_plugins", "global_rules", "consumers", "plugin_configs", "protos", "secrets", "consumer_groups"];

    /// <summary>
    /// The largest file read. Measured: 100,000 routes with an inline upstream each are 9.4 MB of YAML and a
    /// 105 MB tree once parsed (about 11 times the file). 32 MiB thus holds some 300,000 routes, beyond any stream
    /// configuration we know of, and bounds what one read can cost to a few hundred MB; a larger file is refused
    /// from its size, before it is read.
    /// </summary>
    public const long MaxBytes = 32L * 1024 * 1024;

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>Reads the file's bytes; a file over <see cref="MaxBytes"/> is refused (it is not read past the limit).</summary>
    /// <exception cref="ConfigException">The file is too large.</exception>
    /// <exception cref="IOException">The file cannot be read (also <see cref="UnauthorizedAccessException"/>).</exception>
    public static byte[] ReadBytes(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, bufferSize: 1, FileOptions.SequentialScan);
        var length = stream.Length;
        if (length > MaxBytes)
        {
            throw TooLarge(path, length);
        }
        // Sized by what stat said; a file that grows while it is read is still cut off at the limit.
        using var memory = new MemoryStream((int)length);
        var chunk = new byte[64 * 1024];
        int read;
        while ((read = stream.Read(chunk)) > 0)
        {
            if (memory.Length + read > MaxBytes)
            {
                throw TooLarge(path, memory.Length + read);
            }
            memory.Write(chunk, 0, read);
        }
        return memory.ToArray();
    }

    public static ConfigException TooLarge(string path, long size) =>
        new(FileName, $"{path} is {size:N0} bytes, over the limit of {MaxBytes / (1024 * 1024)} MiB ({MaxBytes:N0} bytes); it is not read (split the configuration, or serve it from the store)");

    /// <summary>The file's text: UTF-8 (a byte order mark is allowed); invalid bytes are refused with where they are.</summary>
    public static string Decode(ReadOnlySpan<byte> bytes)
    {
        var bom = bytes.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]) ? 3 : 0;
        try
        {
            return StrictUtf8.GetString(bytes[bom..]);
        }
        catch (DecoderFallbackException e)
        {
            var offset = bom + Math.Max(0, e.Index);
            var line = bytes[..Math.Min(offset, bytes.Length)].Count((byte)'\n') + 1;
            var value = offset < bytes.Length ? $"0x{bytes[offset]:X2}" : "a truncated sequence";
            throw new ConfigException(FileName, $"not valid UTF-8: {value} at line {line} (byte offset {offset}); save the file as UTF-8");
        }
    }

    /// <summary>Reads and parses a file (streamgate validate, the first load): every limit and error as a <see cref="ConfigException"/>.</summary>
    public static ConfigSet Load(string path)
    {
        byte[] bytes;
        try
        {
            bytes = ReadBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ConfigException(FileName, $"cannot read {path}: {e.Message}");
        }
        return Parse(Decode(bytes));
    }

    public static bool HasEndMarker(string text)
    {
        var trimmed = text.AsSpan().TrimEnd();
        var lastLineStart = trimmed.LastIndexOf('\n') + 1;
        return trimmed[lastLineStart..].Trim().SequenceEqual("#END");
    }

    public static ConfigSet Parse(string text)
    {
        if (!HasEndMarker(text))
        {
            throw new ConfigException(FileName, "the file does not end with the line #END; a half-written file is not applied (add #END as the last line once the file is complete)");
        }
        var root = YamlDocument.Parse(text, FileName);
        if (root is null)
        {
            return ConfigSet.Empty;
        }
        if (root is not JsonObject top)
        {
            throw new ConfigException(FileName, "the top level must be a mapping with stream_routes, upstreams and services");
        }
        var errors = new List<ConfigError>();
        foreach (var (key, _) in top)
        {
            if (Array.IndexOf(TopLevel, key) < 0)
            {
                errors.Add(new ConfigError(key, $"unknown top-level key \"{key}\"; expected one of stream_routes, upstreams, services, ssls, plugin_metadata"));
            }
        }
        foreach (var later in (ReadOnlySpan<string>)["ssls", "plugin_metadata"])
        {
            if (top[later] is JsonArray { Count: > 0 })
            {
                errors.Add(new ConfigError(later, "not available in this StreamGate version yet; remove it"));
            }
        }
        var upstreams = ReadList(top, "upstreams", errors, ResourceParser.ParseUpstream, u => u.Id);
        var services = ReadList(top, "services", errors, ResourceParser.ParseService, s => s.Id);
        var routes = ReadList(top, "stream_routes", errors, ResourceParser.ParseStreamRoute, r => r.Id);
        if (errors.Count > 0)
        {
            throw new ConfigException(errors);
        }
        return new ConfigSet(
            routes,
            upstreams.ToDictionary(u => u.Id!, StringComparer.Ordinal),
            services.ToDictionary(s => s.Id, StringComparer.Ordinal));
    }

    private static List<T> ReadList<T>(JsonObject top, string key, List<ConfigError> errors, Func<JsonObject, string, List<ConfigError>, T?> parse, Func<T, string?> id)
        where T : class
    {
        var result = new List<T>();
        switch (top[key])
        {
            case null:
                return result;
            case JsonArray array:
                var seen = new HashSet<string>(StringComparer.Ordinal);
                for (var i = 0; i < array.Count; i++)
                {
                    var path = $"{key}[{i}]";
                    if (array[i] is not JsonObject item)
                    {
                        errors.Add(new ConfigError(path, $"wrong type: expected object, got {JsonObjectReader.Describe(array[i])}"));
                        continue;
                    }
                    if (item["id"] is null)
                    {
                        errors.Add(new ConfigError(path, "property \"id\" is required in the standalone file"));
                        continue;
                    }
                    var parsed = parse(item, path, errors);
                    if (parsed is null)
                    {
                        continue;
                    }
                    if (!seen.Add(id(parsed)!))
                    {
                        errors.Add(new ConfigError(path + ".id", $"duplicate id \"{id(parsed)}\" in {key}"));
                        continue;
                    }
                    result.Add(parsed);
                }
                return result;
            default:
                errors.Add(new ConfigError(key, $"wrong type: expected array, got {JsonObjectReader.Describe(top[key])}"));
                return result;
        }
    }
}
