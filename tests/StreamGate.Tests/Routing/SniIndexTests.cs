using System.Text;
using CsCheck;
using StreamGate.Config;
using StreamGate.Routing;

namespace StreamGate.Tests.Routing;

public class SniIndexTests
{
    /// <summary>An index of the values "0", "1", ... under the given patterns (null: no sni), in that order.</summary>
    private static SniIndex<string> Index(params string?[] patterns)
    {
        var entries = new List<(SniPattern?, string)>();
        for (var i = 0; i < patterns.Length; i++)
        {
            entries.Add((patterns[i] is { } p ? SniPattern.Parse(p) : null, i.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        }
        return new SniIndex<string>(entries);
    }

    /// <summary>Every candidate for the name, looked up as chars and as UTF-8 bytes (which must agree).</summary>
    private static List<(string Value, SniMatchKind Kind)> Candidates<T>(SniIndex<T> index, string name)
    {
        var byChars = new List<(string, SniMatchKind)>();
        foreach (var match in index.Match(name.AsSpan()))
        {
            byChars.Add((match.Value!.ToString()!, match.Kind));
        }
        var byBytes = new List<(string, SniMatchKind)>();
        foreach (var match in index.Match(Encoding.UTF8.GetBytes(name).AsSpan()))
        {
            byBytes.Add((match.Value!.ToString()!, match.Kind));
        }
        Assert.Equal(byChars, byBytes);
        return byChars;
    }

    private static string[] Values<T>(SniIndex<T> index, string name) => [.. Candidates(index, name).Select(c => c.Value)];

    [Fact]
    public void ExactThenWildcardThenAnyThenRoutesWithoutSni()
    {
        // Configured in the reverse of the order they are tried in: specificity decides, not configuration order.
        var index = Index(null, "*", "*.example.com", "db.example.com");
        Assert.Equal(
            [("3", SniMatchKind.Exact), ("2", SniMatchKind.Wildcard), ("1", SniMatchKind.Any), ("0", SniMatchKind.WithoutSni)],
            Candidates(index, "db.example.com"));
        Assert.Equal(["2", "1", "0"], Values(index, "web.example.com"));
        Assert.Equal(["1", "0"], Values(index, "example.org"));
    }

    [Fact]
    public void LongestWildcardSuffixWins()
    {
        var index = Index("*.example.com", "*", "*.b.example.com", "*.com");
        Assert.Equal(["2", "0", "3", "1"], Values(index, "a.b.example.com"));
        Assert.Equal(["0", "3", "1"], Values(index, "a.c.example.com"));
    }

    [Fact]
    public void WildcardStandsForAnyNumberOfLabels()
    {
        // ip_port.lua: "it is fine to let '*.x.com' to match 'a.b.x.com'", unlike the ssl matcher.
        var index = Index("*.example.com");
        Assert.Equal(["0"], Values(index, "a.example.com"));
        Assert.Equal(["0"], Values(index, "a.b.c.example.com"));
        Assert.Empty(Values(index, "example.com"));
        Assert.Empty(Values(index, "badexample.com"));
        // The radix tree's prefix match takes an empty first label too.
        Assert.Equal(["0"], Values(index, ".example.com"));
    }

    [Fact]
    public void WildcardSuffixNeedNotStartAtALabel()
    {
        // host_def allows "*example.com": the rest is a plain suffix, which the name itself may equal.
        var index = Index("*example.com", "*ample.com");
        Assert.Equal(["0", "1"], Values(index, "example.com"));
        Assert.Equal(["0", "1"], Values(index, "myexample.com"));
        Assert.Equal(["0", "1"], Values(index, "a.example.com"));
        Assert.Equal(["1"], Values(index, "sample.com"));
    }

    [Fact]
    public void NamesThatArePrefixesOrSuffixesOfEachOther()
    {
        var index = Index("example.com", "*.example.com", "com", "*.com", "*com", "*");
        Assert.Equal(["0", "3", "4", "5"], Values(index, "example.com"));
        Assert.Equal(["1", "3", "4", "5"], Values(index, "a.example.com"));
        Assert.Equal(["2", "4", "5"], Values(index, "com"));
        Assert.Equal(["4", "5"], Values(index, "telecom"));
        Assert.Equal(["5"], Values(index, "co"));
        Assert.Equal(["5"], Values(index, "example.co"));
        Assert.Equal(["5"], Values(index, "example.comx"));
    }

    [Fact]
    public void CaseIsIgnoredInNamesAndPatterns()
    {
        var index = Index("DB.Example.COM", "*.EXAMPLE.com");
        Assert.Equal(["0", "1"], Values(index, "db.example.com"));
        Assert.Equal(["0", "1"], Values(index, "dB.eXaMpLe.CoM"));
        Assert.Equal(["1"], Values(index, "WEB.EXAMPLE.COM"));
        Assert.Equal("db.example.com", SniPattern.Parse("DB.Example.COM").Text);
    }

    [Fact]
    public void OneTrailingDotOfTheNameIsDropped()
    {
        // apisix/ssl.lua server_name: ngx.re.sub(sni, "\\.$", ""), once.
        var index = Index("db.example.com", "*.example.com");
        Assert.Equal(["0", "1"], Values(index, "db.example.com."));
        Assert.Equal(["1"], Values(index, "x.example.com."));
        Assert.Empty(Values(index, "db.example.com.."));
        // A pattern is matched as written: its own trailing dot stays and would need a name with two.
        var dotted = Index("db.example.com.");
        Assert.Empty(Values(dotted, "db.example.com"));
        Assert.Equal(["0"], Values(dotted, "db.example.com.."));
    }

    [Fact]
    public void EmptyNameOrALoneDotMatchOnlyAnyAndRoutesWithoutSni()
    {
        var index = Index("a.com", "*.com", "*", null);
        Assert.Equal(["2", "3"], Values(index, ""));
        Assert.Equal(["2", "3"], Values(index, "."));
    }

    [Fact]
    public void NonAsciiNamesAreComparedAsTheirBytes()
    {
        // Punycode is plain ASCII; the UTF-8 spelling of the same IDN name is not translated to it.
        var index = Index("xn--bcher-kva.example", "*.example", "a.com", "k.com", "s.com");
        Assert.Equal(["0", "1"], Values(index, "XN--BCHER-KVA.example"));
        Assert.Equal(["1"], Values(index, "bücher.example"));
        // Characters whose low byte or upper case is ASCII must not pass for it.
        Assert.Empty(Values(index, "\u0161.com"));  // š: U+0161, low byte 'a'
        Assert.Empty(Values(index, "\u212A.com"));  // Kelvin sign, lower case 'k'
        Assert.Empty(Values(index, "\u017F.com"));  // long s, upper case 'S'

        var bytes = Index("*.com");
        var count = 0;
        foreach (var _ in bytes.Match(new byte[] { 0xFF, 0x80, (byte)'.', (byte)'c', (byte)'o', (byte)'m' }))
        {
            count++;
        }
        Assert.Equal(1, count);
    }

    [Fact]
    public void ValuesUnderOnePatternKeepTheirConfigurationOrder()
    {
        // ip_port.lua keeps the routes of one sni in a list and tries them in order; the caller checks the
        // address fields of each and falls through (sni.t TEST 6-9).
        var index = Index("a.test.com", null, "*.test.com", "a.test.com", "*.test.com", "A.TEST.COM", null);
        Assert.Equal(["0", "3", "5", "2", "4", "1", "6"], Values(index, "a.test.com"));
        Assert.Equal(["2", "4", "1", "6"], Values(index, "b.test.com"));
    }

    [Fact]
    public void WithoutANameOnlyRoutesWithoutSniAreCandidates()
    {
        var index = Index("*", null, "a.com", null);
        var values = new List<string>();
        foreach (var match in index.MatchWithoutName())
        {
            Assert.Equal(SniMatchKind.WithoutSni, match.Kind);
            values.Add(match.Value);
        }
        Assert.Equal(["1", "3"], values);
    }

    [Fact]
    public void EmptyIndexHasNoCandidates()
    {
        var index = new SniIndex<int>([]);
        Assert.Equal(0, index.Count);
        Assert.Empty(Candidates(index, "a.example.com"));
        Assert.Empty(Candidates(index, ""));
        Assert.False(index.MatchWithoutName().MoveNext());
        Assert.False(default(SniMatches<int>).MoveNext());
    }

    [Fact]
    public void TenThousandNamesEachFindTheirOwnWithoutAllocating()
    {
        const int Names = 10_000;
        var entries = new List<(SniPattern?, int)>();
        for (var i = 0; i < Names; i++)
        {
            entries.Add((SniPattern.Parse($"host{i}.tenant{i % 97}.example.com"), i));
            entries.Add((SniPattern.Parse($"*.tenant{i}.example.net"), Names + i));
        }
        entries.Add((SniPattern.Parse("*.example.com"), 3 * Names));
        var index = new SniIndex<int>(entries);

        var exactNames = new byte[Names][];
        var wildcardNames = new byte[Names][];
        for (var i = 0; i < Names; i++)
        {
            exactNames[i] = Encoding.ASCII.GetBytes($"HOST{i}.tenant{i % 97}.example.com");
            wildcardNames[i] = Encoding.ASCII.GetBytes($"db.eu.tenant{i}.example.net.");
        }
        var missing = "nobody.example.org"u8.ToArray();

        // Each name's candidates, counted and checked, over every name twice: once to warm up, once measured.
        var failures = 0;
        long allocated = 0;
        for (var round = 0; round < 2; round++)
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            for (var i = 0; i < Names; i++)
            {
                failures += ExpectCandidates(index.Match(exactNames[i]), i, 3 * Names) ? 0 : 1;
                failures += ExpectCandidates(index.Match(wildcardNames[i]), Names + i, -1) ? 0 : 1;
                failures += index.Match(missing).MoveNext() ? 1 : 0;
            }
            allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        }
        Assert.Equal(0, failures);
        Assert.Equal(0, allocated);
    }

    private static bool ExpectCandidates(SniMatches<int> matches, int first, int second)
    {
        if (!matches.MoveNext() || matches.Current.Value != first)
        {
            return false;
        }
        if (second < 0)
        {
            return !matches.MoveNext();
        }
        return matches.MoveNext() && matches.Current == new SniMatch<int>(second, SniMatchKind.Wildcard) && !matches.MoveNext();
    }

    // Names from a few labels that share prefixes and suffixes, so patterns and names collide often.
    private static readonly Gen<string> s_label = Gen.OneOf("a", "b", "ab", "ba", "x-1", "com", "example", "Example", "EXAMPLE", "c_m");

    private static readonly Gen<string> s_name = Gen.Select(s_label.Array[0, 4], Gen.Int[0, 9], (labels, dot) =>
        string.Join('.', labels) + (dot == 0 ? "." : ""));

    private static readonly Gen<string?> s_pattern = Gen.Frequency<string?>(
        (4, s_name.Where(n => n.Length > 0).Select(n => (string?)n)),
        (3, s_name.Select(n => (string?)("*." + n))),
        (2, Gen.Select(s_name, Gen.Int[0, 20], (n, cut) => (string?)("*" + n[Math.Min(cut, n.Length)..]))),
        (1, Gen.Const((string?)"*")),
        (1, Gen.Const(static () => (string?)null)));

    /// <summary>The candidates by a scan of every entry: the rules written out, with no index.</summary>
    private static List<(string, SniMatchKind)> Reference(string?[] patterns, string name)
    {
        if (name.EndsWith('.'))
        {
            name = name[..^1];
        }
        name = name.ToLowerInvariant();
        var exact = new List<(string, SniMatchKind)>();
        var wildcards = new List<(int Length, int Order, string Value, SniMatchKind Kind)>();
        var without = new List<(string, SniMatchKind)>();
        for (var i = 0; i < patterns.Length; i++)
        {
            var value = i.ToString(System.Globalization.CultureInfo.InvariantCulture);
            var pattern = patterns[i]?.ToLowerInvariant();
            if (pattern is null)
            {
                without.Add((value, SniMatchKind.WithoutSni));
            }
            else if (!pattern.StartsWith('*'))
            {
                if (pattern == name)
                {
                    exact.Add((value, SniMatchKind.Exact));
                }
            }
            else if (name.EndsWith(pattern[1..], StringComparison.Ordinal))
            {
                wildcards.Add((pattern.Length - 1, i, value, pattern == "*" ? SniMatchKind.Any : SniMatchKind.Wildcard));
            }
        }
        return
        [
            .. exact,
            .. wildcards.OrderByDescending(w => w.Length).ThenBy(w => w.Order).Select(w => (w.Value, w.Kind)),
            .. without,
        ];
    }

    [Fact]
    public void AgreesWithAScanOfEveryPatternOnRandomNamesAndPatterns()
    {
        Gen.Select(s_pattern.Array[0, 12], s_name.Array[1, 8]).Sample((patterns, names) =>
        {
            var index = Index(patterns);
            foreach (var name in names)
            {
                Assert.Equal(Reference(patterns, name), Candidates(index, name));
            }
        }, iter: 2_000, threads: 1);
    }

    [Theory]
    [InlineData("db.example.com", "Exact", "db.example.com")]
    [InlineData("*.example.com", "Wildcard", ".example.com")]
    [InlineData("*example.com", "Wildcard", "example.com")]
    [InlineData("*", "Any", "")]
    [InlineData("*.", "Wildcard", ".")]
    [InlineData("xn--bcher-kva.example", "Exact", "xn--bcher-kva.example")]
    [InlineData("[::1]", "Exact", "[::1]")]
    [InlineData("under_score.Example.COM", "Exact", "under_score.example.com")]
    public void PatternsTheSchemaAccepts(string text, string kind, string suffix)
    {
        Assert.True(SniPattern.TryParse(text, out var pattern, out var error), error);
        Assert.Equal(kind, pattern.Kind.ToString());
        Assert.Equal(suffix, pattern.Suffix);
    }

    [Theory]
    [InlineData("")]
    [InlineData("**")]
    [InlineData("a*.example.com")]
    [InlineData("*.*.example.com")]
    [InlineData("example.com*")]
    [InlineData("db example.com")]
    [InlineData("bücher.example")]
    [InlineData("db.example.com\n")]
    [InlineData("db/example")]
    public void PatternsTheSchemaRefusesWithApisixMessage(string text)
    {
        Assert.False(SniPattern.TryParse(text, out var pattern, out var error));
        Assert.Null(pattern);
        Assert.Equal($"failed to match pattern \"^\\*$|^\\*?[0-9a-zA-Z-._\\[\\]:]+$\" with \"{text}\"", error);
        Assert.Throws<FormatException>(() => SniPattern.Parse(text));
    }

    [Fact]
    public void TryParseAcceptsExactlyWhatTheSchemaPatternDoes()
    {
        var schema = SchemaValidator.Pattern(CommonDefinitions.HostPattern);
        Gen.String[Gen.Char["*aZ09-._[]:/ \n\u00e9"], 0, 6].Sample(text =>
            Assert.Equal(schema.IsMatch(text), SniPattern.TryParse(text, out _, out _)), iter: 5_000, threads: 1);
    }
}
