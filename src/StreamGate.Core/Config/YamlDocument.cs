using System.Globalization;
using System.Text.Json.Nodes;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace StreamGate.Config;

/// <summary>
/// Reads YAML into the same JSON tree the admin API receives, so that config.yaml, apisix.yaml and admin
/// requests share one set of validators. Plain scalars take YAML 1.2 core types (int, float, bool, null);
/// quoted scalars stay strings, as in APISIX's lyaml loader.
/// </summary>
internal static class YamlDocument
{
    public static JsonNode? Parse(string text, string fileName)
    {
        var stream = new YamlStream();
        try
        {
            using var reader = new StringReader(text);
            stream.Load(reader);
        }
        catch (YamlException e)
        {
            throw new ConfigException(fileName, $"not valid YAML at line {e.Start.Line}, column {e.Start.Column}: {Inner(e).Message}");
        }
        return stream.Documents.Count == 0 ? null : Convert(stream.Documents[0].RootNode, fileName);
    }

    private static Exception Inner(Exception e) => e.InnerException is { } inner ? Inner(inner) : e;

    private static JsonNode? Convert(YamlNode node, string fileName) => node switch
    {
        YamlMappingNode map => ConvertMap(map, fileName),
        YamlSequenceNode seq => new JsonArray(seq.Children.Select(c => Convert(c, fileName)).ToArray()),
        YamlScalarNode scalar => ConvertScalar(scalar),
        _ => throw new ConfigException(fileName, $"unsupported YAML node at line {node.Start.Line}"),
    };

    private static JsonObject ConvertMap(YamlMappingNode map, string fileName)
    {
        var result = new JsonObject();
        foreach (var (key, value) in map.Children)
        {
            var name = key is YamlScalarNode s ? s.Value ?? "" : throw new ConfigException(fileName, $"a mapping key at line {key.Start.Line} is not a plain value");
            if (result.ContainsKey(name))
            {
                throw new ConfigException(fileName, $"duplicate key \"{name}\" at line {key.Start.Line}");
            }
            result[name] = Convert(value, fileName);
        }
        return result;
    }

    private static JsonValue? ConvertScalar(YamlScalarNode scalar)
    {
        var text = scalar.Value ?? "";
        if (scalar.Style is ScalarStyle.SingleQuoted or ScalarStyle.DoubleQuoted or ScalarStyle.Literal or ScalarStyle.Folded)
        {
            return JsonValue.Create(text);
        }
        switch (text)
        {
            case "" or "~" or "null" or "Null" or "NULL":
                return null;
            case "true" or "True" or "TRUE":
                return JsonValue.Create(true);
            case "false" or "False" or "FALSE":
                return JsonValue.Create(false);
        }
        if (long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var integer))
        {
            return JsonValue.Create(integer);
        }
        if (text.Length > 0 && (char.IsAsciiDigit(text[0]) || text[0] is '-' or '+' or '.') &&
            double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var number) &&
            double.IsFinite(number))
        {
            return JsonValue.Create(number);
        }
        return JsonValue.Create(text);
    }
}
