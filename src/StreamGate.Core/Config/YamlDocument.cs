using System.Globalization;
using System.Text.Json.Nodes;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace StreamGate.Config;

/// <summary>
/// Reads YAML into the same JSON tree the admin API receives, so that config.yaml, apisix.yaml and admin
/// requests share one set of validators. Plain scalars take YAML 1.2 core types (int, float, bool, null);
/// quoted scalars stay strings, as in APISIX's lyaml loader.
/// </summary>
/// <remarks>
/// The tree is built from the parser's events with an explicit stack, never by recursion, and a file may not
/// make it grow past what its text could hold: nesting stops at <see cref="MaxDepth"/> levels (100,000 <c>[</c>
/// would otherwise overflow the stack) and aliases together may add at most <see cref="MaxAliasNodes"/> nodes
/// (a 490-byte "billion laughs" file of nested aliases would otherwise expand to gigabytes).
/// </remarks>
internal static class YamlDocument
{
    /// <summary>
    /// Levels of nested mappings and sequences. The deepest APISIX object (a plugin's configuration inside a
    /// route's upstream) is about ten levels deep; 64 is also System.Text.Json's default depth, so whatever is
    /// read here can be written back as JSON (control API, admin answers).
    /// </summary>
    public const int MaxDepth = 64;

    /// <summary>
    /// Nodes that aliases may produce in one document, all aliases together (each alias counts every node of
    /// what it copies). Room for any use of anchors as templates (10,000 routes sharing one upstream of ten nodes
    /// come to 100,000), while the "billion laughs" file is refused at this cap having allocated 48 MB (measured)
    /// instead of growing to gigabytes.
    /// </summary>
    public const int MaxAliasNodes = 1_000_000;

    public static JsonNode? Parse(string text, string fileName)
    {
        try
        {
            using var reader = new StringReader(text);
            return new Builder(new Parser(reader), fileName).Run();
        }
        catch (YamlException e)
        {
            throw new ConfigException(fileName, $"not valid YAML at line {e.Start.Line}, column {e.Start.Column}: {Inner(e).Message}");
        }
    }

    private static Exception Inner(Exception e) => e.InnerException is { } inner ? Inner(inner) : e;

    /// <summary>Turns one stream of events into trees; the first document is the result, later ones are checked and dropped.</summary>
    private sealed class Builder(Parser parser, string fileName)
    {
        private readonly Stack<Frame> _open = new();
        private readonly Dictionary<string, (JsonNode? Node, long Count)> _anchors = new(StringComparer.Ordinal);
        private long _aliasNodes;
        private JsonNode? _root;

        public JsonNode? Run()
        {
            JsonNode? first = null;
            var documents = 0;
            while (parser.MoveNext())
            {
                switch (parser.Current)
                {
                    case DocumentStart:
                        _root = null;
                        _anchors.Clear();
                        _aliasNodes = 0;
                        break;
                    case DocumentEnd:
                        if (documents++ == 0)
                        {
                            first = _root;
                        }
                        break;
                    case MappingStart start:
                        Open(new JsonObject(), start.Anchor, start);
                        break;
                    case SequenceStart start:
                        Open(new JsonArray(), start.Anchor, start);
                        break;
                    case MappingEnd or SequenceEnd:
                        Close();
                        break;
                    case Scalar scalar:
                        OnScalar(scalar);
                        break;
                    case AnchorAlias alias:
                        OnAlias(alias);
                        break;
                }
            }
            return first;
        }

        private void Open(JsonNode node, AnchorName anchor, ParsingEvent at)
        {
            RefuseKey(at);
            if (_open.Count >= MaxDepth)
            {
                throw new ConfigException(fileName, $"nesting deeper than {MaxDepth} levels at line {at.Start.Line}; no configuration is nested that deep");
            }
            Attach(node, 0);
            _open.Push(new Frame(node, anchor));
        }

        private void Close()
        {
            var frame = _open.Pop();
            if (!frame.Anchor.IsEmpty)
            {
                _anchors[frame.Anchor.Value] = (frame.Node, frame.Count);
            }
            if (_open.TryPeek(out var parent))
            {
                parent.Count += frame.Count;
            }
        }

        private void OnScalar(Scalar scalar)
        {
            if (_open.TryPeek(out var parent) && parent.Node is JsonObject map && parent.Key is null)
            {
                if (map.ContainsKey(scalar.Value))
                {
                    throw new ConfigException(fileName, $"duplicate key \"{scalar.Value}\" at line {scalar.Start.Line}");
                }
                parent.Key = scalar.Value;
                return;
            }
            var node = ConvertScalar(scalar);
            if (!scalar.Anchor.IsEmpty)
            {
                _anchors[scalar.Anchor.Value] = (node, 1);
            }
            Attach(node, 1);
        }

        private void OnAlias(AnchorAlias alias)
        {
            RefuseKey(alias);
            if (!_anchors.TryGetValue(alias.Value.Value, out var anchored))
            {
                throw new ConfigException(fileName, $"alias *{alias.Value.Value} at line {alias.Start.Line} refers to no anchor defined before it (an alias cannot refer to the node it is in)");
            }
            _aliasNodes += anchored.Count;
            if (_aliasNodes > MaxAliasNodes)
            {
                throw new ConfigException(fileName, $"aliases expand to more than {MaxAliasNodes:N0} nodes (at alias *{alias.Value.Value}, line {alias.Start.Line}); write the repeated parts out instead of nesting aliases");
            }
            Attach(anchored.Node?.DeepClone(), anchored.Count);
        }

        /// <summary>A mapping key must be a plain value: a mapping, a sequence or an alias there is refused.</summary>
        private void RefuseKey(ParsingEvent at)
        {
            if (_open.TryPeek(out var parent) && parent.Node is JsonObject && parent.Key is null)
            {
                throw new ConfigException(fileName, $"a mapping key at line {at.Start.Line} is not a plain value");
            }
        }

        /// <summary>Adds a node where the parser is: the value of the pending key, the next item, or the document's root.</summary>
        private void Attach(JsonNode? node, long count)
        {
            if (!_open.TryPeek(out var parent))
            {
                _root = node;
                return;
            }
            parent.Count += count;
            if (parent.Node is JsonArray array)
            {
                array.Add(node);
            }
            else
            {
                var map = (JsonObject)parent.Node;
                map[parent.Key!] = node;
                parent.Key = null;
            }
        }
    }

    /// <summary>An open mapping or sequence: its node, its anchor, the key awaiting its value, and how many nodes it holds so far (itself included).</summary>
    private sealed class Frame(JsonNode node, AnchorName anchor)
    {
        public JsonNode Node { get; } = node;

        public AnchorName Anchor { get; } = anchor;

        public string? Key { get; set; }

        public long Count { get; set; } = 1;
    }

    private static JsonValue? ConvertScalar(Scalar scalar)
    {
        var text = scalar.Value;
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
