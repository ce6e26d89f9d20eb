using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Primitives;

namespace StreamGate.Admin;

/// <summary>
/// A list request's <c>name</c>, <c>label</c>, <c>page</c> and <c>page_size</c>, read as APISIX 3's admin API
/// (apisix/admin/v3_adapter.lua) reads them, with the facts of t/admin/filter.t:
/// <list type="bullet">
/// <item><c>name</c> is a regular expression searched in the object's name (<c>name=1</c> finds 1, 10 and 11).</item>
/// <item><c>label</c> matches a label's key, never its value; <c>label=</c> (empty) matches nothing.</item>
/// <item>Paging happens only when both <c>page</c> and <c>page_size</c> are numbers (Lua's tonumber); otherwise the
/// whole list is answered. A <c>page_size</c> below 10 or above 500 is 400 with APISIX's plain-text body; a
/// <c>page</c> below 1 is page 1. A paged list is in creation order (createdIndex), an unpaged one in key order,
/// as etcd ranges it.</item>
/// <item>The filters apply first: <c>total</c> counts what they keep, before paging.</item>
/// </list>
/// </summary>
internal sealed class AdminListQuery
{
    /// <summary>APISIX's answer to a page_size out of range, a plain-text body (core.response.exit with a string).</summary>
    public const string PageSizeError = "page_size must be between 10 and 500";

    private AdminListQuery()
    {
    }

    /// <summary>Present (even empty) when the query has a name; a repeated name matches nothing.</summary>
    private StringValues Name { get; init; }

    private StringValues Label { get; init; }

    private double Page { get; init; }

    private double PageSize { get; init; }

    public bool Paged { get; private init; }

    private Regex? _name;

    /// <summary>The query read; null with <paramref name="error"/> set when APISIX refuses it.</summary>
    public static AdminListQuery? Read(IQueryCollection query, out string? error)
    {
        error = null;
        var page = LuaNumber(query["page"]);
        var pageSize = LuaNumber(query["page_size"]);
        var paged = page is not null && pageSize is not null;
        if (paged && pageSize is < 10 or > 500)
        {
            error = PageSizeError;
            return null;
        }
        var result = new AdminListQuery
        {
            Name = query.TryGetValue("name", out var name) ? name : StringValues.Empty,
            Label = query.TryGetValue("label", out var label) ? label : StringValues.Empty,
            Paged = paged,
            Page = paged && page >= 1 ? page!.Value : 1,
            PageSize = pageSize ?? 0,
        };
        if (result.Name.Count == 1)
        {
            try
            {
                // Linear in the name's length whatever the pattern, so a viewer's regex cannot cost a list
                // items x timeout of CPU; what it cannot run (backreferences, lookarounds) is refused here.
                result._name = new Regex(result.Name[0]!, RegexOptions.CultureInvariant | RegexOptions.NonBacktracking);
            }
            catch (Exception e) when (e is ArgumentException or NotSupportedException)
            {
                // ngx.re.find answers an error for a pattern it cannot compile: nothing matches (_name stays null).
            }
        }
        return result;
    }

    /// <summary>Whether an object passes the name and label filters.</summary>
    public bool Matches(JsonObject value)
    {
        if (Name.Count > 0)
        {
            if (_name is null || value["name"] is not JsonValue nameValue || nameValue.GetValueKind() != JsonValueKind.String
                || !_name.IsMatch(nameValue.GetValue<string>()))
            {
                return false;
            }
        }
        if (Label.Count > 0)
        {
            // A repeated label is a table in Lua, equal to no key.
            if (Label.Count > 1 || value["labels"] is not JsonObject labels || !labels.ContainsKey(Label[0]!))
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>The page asked for of <paramref name="items"/> (in creation order), or all of them in key order.</summary>
    public IEnumerable<T> Select<T>(List<T> items, Func<T, long> createdIndex, Func<T, string> key)
    {
        if (!Paged)
        {
            return items.OrderBy(key, StringComparer.Ordinal);
        }
        var sorted = items.OrderBy(createdIndex).ToList();
        // Lua: for i = from, to do res[#res + 1] = list[i] end; only whole indices name an item.
        var to = Page * PageSize;
        var from = to - PageSize + 1;
        if (from != Math.Floor(from) || from > sorted.Count)
        {
            return [];
        }
        var first = (int)Math.Max(from, 1);
        var last = (int)Math.Min(Math.Floor(to), sorted.Count);
        return last < first ? [] : sorted.GetRange(first - 1, last - first + 1);
    }

    /// <summary>Lua's tonumber on a query argument: decimal or hexadecimal, spaces around; null otherwise (a repeated argument is a table).</summary>
    internal static double? LuaNumber(StringValues values)
    {
        if (values.Count != 1 || values[0] is not { } text)
        {
            return null;
        }
        var trimmed = text.Trim(' ', '\t', '\n', '\r', '\f', '\v');
        if (trimmed.Length == 0)
        {
            return null;
        }
        var negative = trimmed[0] == '-';
        var unsigned = trimmed[0] is '-' or '+' ? trimmed[1..] : trimmed;
        if (unsigned.Length > 2 && unsigned[0] == '0' && unsigned[1] is 'x' or 'X')
        {
            var digits = unsigned[2..];
            if (!digits.All(char.IsAsciiHexDigit))
            {
                return null;
            }
            double hex = 0;
            foreach (var c in digits)
            {
                hex = (hex * 16) + Convert.ToInt32(c.ToString(), 16);
            }
            return negative ? -hex : hex;
        }
        // Digits, one optional point, an optional exponent: no "Infinity", "NaN", thousands or currency.
        if (!unsigned.All(c => char.IsAsciiDigit(c) || c is '.' or 'e' or 'E' or '+' or '-'))
        {
            return null;
        }
        return double.TryParse(trimmed, NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint | NumberStyles.AllowExponent, CultureInfo.InvariantCulture, out var number)
            && double.IsFinite(number) ? number : null;
    }
}
