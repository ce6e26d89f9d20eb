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
}
