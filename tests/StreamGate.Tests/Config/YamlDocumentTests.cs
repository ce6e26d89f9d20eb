using System.Text.Json;
using System.Text.Json.Nodes;
using StreamGate.Config;

namespace StreamGate.Tests.Config;

public class YamlDocumentTests
{
    private static JsonNode? Value(string yaml) => YamlDocument.Parse("v: " + yaml + "\n", "test.yaml")!["v"];

    [Theory]
    [InlineData("42", "42")]
    [InlineData("-7", "-7")]
    [InlineData("+5", "5")]
    [InlineData("1.5", "1.5")]
    [InlineData("-0.25", "-0.25")]
    [InlineData("1e3", "1000")]
    [InlineData(".5", "0.5")]
    [InlineData("true", "true")]
    [InlineData("True", "true")]
    [InlineData("FALSE", "false")]
    [InlineData("", "null")]
    [InlineData("~", "null")]
    [InlineData("NULL", "null")]
    [InlineData("\"42\"", "\"42\"")]
    [InlineData("'42'", "\"42\"")]
    [InlineData("\"true\"", "\"true\"")]
    [InlineData("'null'", "\"null\"")]
    [InlineData("\"\"", "\"\"")]
    [InlineData("yes", "\"yes\"")]
    [InlineData("0x10", "\"0x10\"")]
    [InlineData("127.0.0.1:9100", "\"127.0.0.1:9100\"")]
    [InlineData("9100-9102", "\"9100-9102\"")]
    public void PlainScalarsTakeCoreTypesAndQuotedOnesStayStrings(string yaml, string json)
    {
        Assert.Equal(json, Value(yaml)?.ToJsonString() ?? "null");
    }

    [Theory]
    [InlineData("42", 42L)]
    [InlineData("-7", -7L)]
    public void PlainIntegersReadAsIntegers(string yaml, long expected)
    {
        var node = Value(yaml);
        Assert.NotNull(node);
        Assert.Equal(JsonValueKind.Number, node.GetValueKind());
        Assert.True(JsonObjectReader.TryGetInteger(node, out var value));
        Assert.Equal(expected, value);
    }

    [Theory]
    [InlineData("-Infinity")]
    [InlineData("+Infinity")]
    [InlineData("-NaN")]
    [InlineData("1e400")]
    public void NonFiniteNumbersStayStrings(string yaml)
    {
        // A non-finite double in the tree cannot be written back as JSON (control API, admin answers).
        var node = Value(yaml);
        Assert.NotNull(node);
        Assert.Equal(JsonValueKind.String, node.GetValueKind());
        var json = YamlDocument.Parse("v: " + yaml + "\n", "test.yaml")!.ToJsonString();
        Assert.Equal(yaml, JsonNode.Parse(json)!["v"]!.GetValue<string>());
    }

    [Fact]
    public void BlockScalarsAreStrings()
    {
        var root = YamlDocument.Parse("v: |\n  123\n", "test.yaml");
        Assert.Equal("123\n", root!["v"]!.GetValue<string>());
    }

    [Fact]
    public void MappingsAndSequencesNest()
    {
        var root = YamlDocument.Parse("z: 0\na:\n  b: [1, \"x\", {c: true}]\n  d:\n    - 2\nm: 3\n", "test.yaml");
        Assert.Equal("{\"z\":0,\"a\":{\"b\":[1,\"x\",{\"c\":true}],\"d\":[2]},\"m\":3}", root!.ToJsonString());
    }

    [Theory]
    [InlineData("")]
    [InlineData("# only a comment\n")]
    public void EmptyDocumentIsNull(string yaml) => Assert.Null(YamlDocument.Parse(yaml, "test.yaml"));

    [Fact]
    public void DuplicateKeysAreAnError()
    {
        var errors = ConfigAssert.Throws(() => YamlDocument.Parse("a: 1\nb: 2\na: 3\n", "dup.yaml"));
        var error = ConfigAssert.Single(errors, "dup.yaml", "a");
        Assert.Contains("duplicate key", error.Message, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("line 3", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void InvalidYamlNamesTheFileAndLine()
    {
        var errors = ConfigAssert.Throws(() => YamlDocument.Parse("a: 1\nb: [1, 2\n", "bad.yaml"));
        ConfigAssert.Single(errors, "bad.yaml", "not valid YAML at line");
    }

    [Fact]
    public void ComplexMappingKeysAreRefused()
    {
        var errors = ConfigAssert.Throws(() => YamlDocument.Parse("? [a, b]\n: 1\n", "keys.yaml"));
        ConfigAssert.Single(errors, "keys.yaml", "is not a plain value");
    }

    [Fact]
    public void NestingDeeperThanTheLimitIsRefusedWithoutOverflowingTheStack()
    {
        // 100,000 levels overflowed the stack (the process died); the parse now stops at the 65th.
        var errors = ConfigAssert.Throws(() => YamlDocument.Parse("a: " + new string('[', 100_000) + "\n", "deep.yaml"));
        var error = ConfigAssert.Single(errors, "deep.yaml", "nesting deeper than 64 levels at line 1");
        Assert.Contains("no configuration is nested that deep", error.Message, StringComparison.Ordinal);
        ConfigAssert.Throws(() => YamlDocument.Parse(new string('[', YamlDocument.MaxDepth + 1) + new string(']', YamlDocument.MaxDepth + 1), "deep.yaml"));
    }

    [Fact]
    public void NestingUpToTheLimitIsRead()
    {
        var root = YamlDocument.Parse(new string('[', YamlDocument.MaxDepth) + "1" + new string(']', YamlDocument.MaxDepth), "deep.yaml");
        var node = root;
        for (var i = 1; i < YamlDocument.MaxDepth; i++)
        {
            node = Assert.Single(node!.AsArray());
        }
        Assert.Equal(1, Assert.Single(node!.AsArray())!.GetValue<long>());
        // Block style counts the same way.
        var block = string.Concat(Enumerable.Range(0, YamlDocument.MaxDepth + 1).Select(i => new string(' ', i * 2) + "k:\n"));
        ConfigAssert.Single(ConfigAssert.Throws(() => YamlDocument.Parse(block, "deep.yaml")), "deep.yaml", "nesting deeper than 64 levels");
    }

    [Fact]
    public void AnAliasBombIsRefusedAtTheLimit()
    {
        // The 490-byte "billion laughs": nine levels of nine aliases, 387 million strings once expanded (1 GB,
        // then the OOM killer).
        var bomb = new System.Text.StringBuilder("a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n");
        for (var level = 'b'; level <= 'i'; level++)
        {
            var previous = (char)(level - 1);
            bomb.Append(level).Append(": &").Append(level).Append(" [").Append(string.Join(",", Enumerable.Repeat("*" + previous, 9))).Append("]\n");
        }
        var errors = ConfigAssert.Throws(() => YamlDocument.Parse(bomb.ToString(), "bomb.yaml"));
        var error = ConfigAssert.Single(errors, "bomb.yaml", "aliases expand to more than 1,000,000 nodes");
        Assert.Contains("write the repeated parts out instead of nesting aliases", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AliasesCopyTheirAnchorsNode()
    {
        var root = YamlDocument.Parse("""
            base: &up {nodes: {"127.0.0.1:1": 1}, type: roundrobin}
            port: &p 9100
            routes:
              - {upstream: *up, server_port: *p}
              - {upstream: *up}
            """, "anchors.yaml")!;
        Assert.Equal("""{"nodes":{"127.0.0.1:1":1},"type":"roundrobin"}""", root["routes"]![1]!["upstream"]!.ToJsonString());
        Assert.Equal(9100, root["routes"]![0]!["server_port"]!.GetValue<long>());
        // Copies, not shared nodes: each can sit in its own place in the tree.
        Assert.NotSame(root["routes"]![0]!["upstream"], root["routes"]![1]!["upstream"]);
    }

    [Theory]
    [InlineData("a: *nothing\n", "alias *nothing at line 1 refers to no anchor defined before it")]
    [InlineData("a: &x [1, *x]\n", "alias *x at line 1 refers to no anchor defined before it")]
    [InlineData("a: &k b\n*k : 1\n", "a mapping key at line 2 is not a plain value")]
    public void BadAliasesAreRefused(string yaml, string message)
    {
        ConfigAssert.Single(ConfigAssert.Throws(() => YamlDocument.Parse(yaml, "alias.yaml")), "alias.yaml", message);
    }

    [Fact]
    public void OnlyTheFirstDocumentIsTheResultAndLaterOnesAreStillChecked()
    {
        Assert.Equal("""{"a":1}""", YamlDocument.Parse("a: 1\n---\nb: 2\n", "docs.yaml")!.ToJsonString());
        ConfigAssert.Single(ConfigAssert.Throws(() => YamlDocument.Parse("a: 1\n---\nb: [\n", "docs.yaml")), "docs.yaml", "not valid YAML at line");
    }
}
