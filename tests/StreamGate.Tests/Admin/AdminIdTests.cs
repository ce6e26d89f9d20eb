using StreamGate.Admin;

namespace StreamGate.Tests.Admin;

/// <summary>Issue 7, fault 7: ids are checked by hand; a regex "$" also matched before a final newline.</summary>
public class AdminIdTests
{
    [Theory]
    [InlineData("1")]
    [InlineData("a-b_c.d")]
    [InlineData("0123456789012345678901234567890123456789012345678901234567890123")]
    public void Valid_ids_pass(string id) => Assert.Null(AdminApi.IdError(id));

    [Theory]
    [InlineData("abc\n", "failed to match pattern \"^[a-zA-Z0-9-_.]+$\" with \"abc\\n\"")]
    [InlineData("a b", "failed to match pattern \"^[a-zA-Z0-9-_.]+$\" with \"a b\"")]
    [InlineData("\n", "with \"\\n\"")]
    [InlineData("..", "failed to match pattern")]
    [InlineData("", "failed to match pattern")]
    [InlineData("01234567890123456789012345678901234567890123456789012345678901234", "string too long, expected at most 64, got 65")]
    public void Invalid_ids_get_APISIX_messages(string id, string expected)
    {
        var error = AdminApi.IdError(id);
        Assert.NotNull(error);
        Assert.StartsWith("invalid configuration: property \"id\" validation failed: ", error, StringComparison.Ordinal);
        Assert.Contains(expected, error, StringComparison.Ordinal);
    }
}
