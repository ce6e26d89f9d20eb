using System.Text.Json.Nodes;
using StreamGate.Config;

namespace StreamGate.Tests.Config;

/// <summary>
/// The evaluator alone, on small schemas: each keyword's message in api7/jsonschema's words, a value's first
/// failing keyword in api7's order, and the paths of failures nested in properties, items and anyOf.
/// </summary>
public class SchemaValidatorTests
{
    private static List<ConfigError> Errors(string schema, string value, string path = "")
    {
        var errors = new List<ConfigError>();
        var ok = SchemaValidator.Validate(JsonNode.Parse(schema)!.AsObject(), JsonNode.Parse(value), path, errors);
        Assert.Equal(ok, errors.Count == 0);
        return errors;
    }

    private static ConfigError One(string schema, string value) => Assert.Single(Errors(schema, value));

    [Theory]
    [InlineData("""{"type": "integer"}""", "\"a\"", "wrong type: expected integer, got string")]
    [InlineData("""{"type": "integer"}""", "1.5", "wrong type: expected integer, got number")]
    [InlineData("""{"type": "object"}""", "[1]", "wrong type: expected object, got array")]
    [InlineData("""{"type": ["object", "array"]}""", "true", "wrong type: expected object or array, got boolean")]
    [InlineData("""{"minLength": 2}""", "\"a\"", "string too short, expected at least 2, got 1")]
    [InlineData("""{"maxLength": 64}""", "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"", "string too long, expected at most 64, got 65")]
    [InlineData("""{"pattern": "^[a-z]+$"}""", "\"a\\n\"", "failed to match pattern \"^[a-z]+$\" with \"a\n\"")]
    [InlineData("""{"minimum": 1}""", "0", "expected 0 to be at least 1")]
    [InlineData("""{"exclusiveMinimum": 0}""", "0", "expected 0 to be greater than 0")]
    [InlineData("""{"maximum": 2147483.647}""", "1e16", "expected 1e+16 to be at most 2147483.647")]
    [InlineData("""{"exclusiveMaximum": 10}""", "10", "expected 10 to be less than 10")]
    [InlineData("""{"enum": ["a", "b"]}""", "\"c\"", "matches none of the enum values")]
    [InlineData("""{"minItems": 1}""", "[]", "expect array to have at least 1 items")]
    [InlineData("""{"maxItems": 1}""", "[1, 2]", "expect array to have at most 1 items")]
    [InlineData("""{"uniqueItems": true}""", "[1, 2, 1]", "expected unique items but items 1 and 3 are equal")]
    [InlineData("""{"items": {"type": "string"}}""", "[\"a\", 2]", "failed to validate item 2: wrong type: expected string, got number")]
    [InlineData("""{"minProperties": 1}""", "{}", "expect object to have at least 1 properties")]
    [InlineData("""{"anyOf": [{"type": "string"}, {"type": "integer", "minimum": 1}]}""", "0", "object matches none of the required")]
    [InlineData("""{"oneOf": [{"type": "string"}, {"type": "integer"}]}""", "true", "value should match only one schema, but matches none")]
    [InlineData("""{"oneOf": [{"type": "integer"}, {"minimum": 0}]}""", "1", "value should match only one schema, but matches both schemas 1 and 2")]
    [InlineData("""{"not": {"type": "string"}}""", "\"a\"", "value wasn't supposed to match schema")]
    [InlineData("""{"if": {"type": "string"}, "then": {"minLength": 2}}""", "\"a\"", "then clause did not match")]
    [InlineData("""{"if": {"type": "string"}, "else": {"minimum": 2}}""", "1", "else clause did not match")]
    [InlineData("""{"patternProperties": {".*": {"type": "string"}}}""", """{"env": ["a"]}""", "failed to validate env (matching \".*\"): wrong type: expected string, got table")]
    [InlineData("""{"patternProperties": {".*": {"type": "string"}}}""", """{"env": null}""", "failed to validate env (matching \".*\"): wrong type: expected string, got userdata")]
    public void Each_keyword_fails_in_api7s_words(string schema, string value, string message)
    {
        var error = One(schema, value);
        Assert.Equal(message, error.Message);
        Assert.Equal(ConfigErrorForm.Schema, error.Form);
    }

    [Fact]
    public void Properties_required_and_additional_properties()
    {
        const string schema = """{"type": "object", "properties": {"a": {"type": "integer"}, "b": {}}, "required": ["b", "c"], "additionalProperties": false}""";
        var errors = Errors(schema, """{"a": "x", "z": 1}""", "obj");
        Assert.Equal(
            [("obj.a", "property \"a\" validation failed: wrong type: expected integer, got string"), ("obj.b", "property \"b\" is required"),
             ("obj.c", "property \"c\" is required"), ("obj.z", "additional properties forbidden, found z")],
            errors.Select(e => (e.Path, e.Message)));
    }

    [Fact]
    public void A_property_of_null_counts_as_absent()
    {
        Assert.Equal("property \"a\" is required", One("""{"properties": {"a": {"type": "string"}}, "required": ["a"]}""", """{"a": null}""").Message);
        Assert.Empty(Errors("""{"properties": {"a": {"type": "string"}}}""", """{"a": null}"""));
    }

    [Fact]
    public void A_values_first_failing_keyword_in_api7s_order_is_its_only_error()
    {
        // type before length, length before pattern, pattern before enum; minimum before maximum.
        Assert.Equal("wrong type: expected string, got number", One("""{"type": "string", "minLength": 3, "enum": ["abc"]}""", "5").Message);
        Assert.Equal("string too short, expected at least 3, got 1", One("""{"minLength": 3, "pattern": "^b", "enum": ["abc"]}""", "\"a\"").Message);
        Assert.Equal("failed to match pattern \"^b\" with \"aaa\"", One("""{"minLength": 3, "pattern": "^b", "enum": ["abc"]}""", "\"aaa\"").Message);
        Assert.Equal("matches none of the enum values", One("""{"minimum": 0, "enum": [1], "anyOf": [{"type": "string"}]}""", "2").Message);
        // Object keywords come before enum and the applicators.
        Assert.Equal("property \"a\" is required", One("""{"required": ["a"], "not": {}}""", "{}").Message);
    }

    [Fact]
    public void Paths_nest_through_properties_and_items()
    {
        const string schema = """
            {"properties": {"nodes": {"type": "array", "items": {"type": "object", "properties": {"port": {"minimum": 1}}, "required": ["host"]}}}}
            """;
        var errors = Errors(schema, """{"nodes": [{"host": "a", "port": 0}, {"port": 1}, 5]}""", "up");
        Assert.Equal(
            [("up.nodes[0].port", "property \"port\" validation failed: expected 0 to be at least 1"),
             ("up.nodes[1].host", "property \"host\" is required"),
             ("up.nodes[2]", "property \"nodes\" validation failed: failed to validate item 3: wrong type: expected object, got number")],
            errors.Select(e => (e.Path, e.Message)));
        Assert.Equal("invalid configuration: property \"up\" validation failed: property \"nodes\" validation failed: property \"port\" validation failed: expected 0 to be at least 1",
            "invalid configuration: " + ConfigErrorText.Nest(errors[0]));
    }

    [Fact]
    public void AnyOf_answers_its_one_message_and_hints_the_branch_meant_for_the_value()
    {
        const string schema = """{"properties": {"id": {"description": "an id", "anyOf": [{"type": "string", "maxLength": 2}, {"type": "integer", "minimum": 1}]}}}""";
        var error = One(schema, """{"id": "abc"}""");
        Assert.Equal(("id", "property \"id\" validation failed: object matches none of the required"), (error.Path, error.Message));
        Assert.Equal("an id: string too long, expected at most 2, got 3", error.Hint);
        Assert.Equal("an id: expected 0 to be at least 1", One(schema, """{"id": 0}""").Hint);
        Assert.Equal("an id: wrong type: expected string or integer, got boolean", One(schema, """{"id": true}""").Hint);
    }

    [Fact]
    public void A_branch_reported_as_its_own_answers_in_its_words_with_its_paths()
    {
        const string schema = """
            {"properties": {"nodes": {"anyOf": [
              {"type": "object", "patternProperties": {".*": {"type": "integer", "x-message": "bad weight"}}, "x-report": "own"},
              {"type": "array", "items": {"required": ["port"]}, "x-report": "own"}]}}}
            """;
        Assert.Equal(("nodes[0].port", "property \"port\" is required"), Pair(One(schema, """{"nodes": [{}]}""")));
        Assert.Equal(("nodes[\"a:1\"]", "bad weight"), Pair(One(schema, """{"nodes": {"a:1": "x"}}""")));
        Assert.Equal(("nodes", "property \"nodes\" validation failed: wrong type: expected object or array, got string"), Pair(One(schema, """{"nodes": "a"}""")));
    }

    private static (string, string) Pair(ConfigError error) => (error.Path, error.Message);

    [Fact]
    public void Then_and_else_clauses()
    {
        const string schema = """
            {"if": {"properties": {"type": {"enum": ["server"]}}},
             "then": {"description": "why", "oneOf": [{"required": ["sni"]}, {"required": ["snis"]}]},
             "else": {"required": ["key"], "x-report": "own"}}
            """;
        var then = One(schema, """{"sni": "a", "snis": ["a"]}""");
        Assert.Equal(("", "then clause did not match", "why"), (then.Path, then.Message, then.Hint));
        Assert.Equal(("key", "property \"key\" is required"), Pair(One(schema, """{"type": "client"}""")));
        Assert.Empty(Errors(schema, """{"sni": "a"}"""));
    }

    [Fact]
    public void Enum_hints_the_allowed_values()
    {
        Assert.Equal("expected one of a, b, got \"c\"", One("""{"enum": ["a", "b"]}""", "\"c\"").Hint);
        Assert.Equal("expected one of 1, 0, got 2", One("""{"enum": [1, 0]}""", "2").Hint);
    }

    [Fact]
    public void Dollar_ends_the_text_as_in_PCRE()
    {
        Assert.Matches(SchemaValidator.Pattern("^[a-z]+$"), "abc");
        Assert.DoesNotMatch(SchemaValidator.Pattern("^[a-z]+$"), "abc\n");
        Assert.Matches(SchemaValidator.Pattern("^[$a]+$"), "$a");
        Assert.Matches(SchemaValidator.Pattern("^\\$x$"), "$x");
    }
}
