using System.Text;
using BenchmarkDotNet.Attributes;
using StreamGate.Routing;

namespace StreamGate.Bench.Pick;

/// <summary>
/// What finding a TLS client's route candidates costs: <see cref="SniIndex{T}.Match(ReadOnlySpan{byte})"/> on a
/// name as a ClientHello carries it, and taking the first candidate (what a route whose address fields hold costs).
/// The index has <see cref="Names"/> exact names and as many wildcards (<c>*.tenantN.example.net</c>), plus
/// <c>*.example.com</c>; 1,024 different names take turns, so the lookups do not all hit one cached slot.
/// </summary>
[MemoryDiagnoser]
public class SniIndexBenchmarks
{
    private const int Lookups = 1024;

    private SniIndex<int> _index = null!;
    private byte[][] _exact = [];
    private byte[][] _wildcard = [];
    private byte[][] _missing = [];

    [Params(10, 10_000)]
    public int Names { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var entries = new List<(SniPattern?, int)>();
        for (var i = 0; i < Names; i++)
        {
            entries.Add((SniPattern.Parse($"host{i}.tenant{i % 97}.example.com"), i));
            entries.Add((SniPattern.Parse($"*.tenant{i}.example.net"), Names + i));
        }
        entries.Add((SniPattern.Parse("*.example.com"), 2 * Names));
        _index = new SniIndex<int>(entries);
        _exact = new byte[Lookups][];
        _wildcard = new byte[Lookups][];
        _missing = new byte[Lookups][];
        for (var i = 0; i < Lookups; i++)
        {
            var n = i * 7919 % Names;
            _exact[i] = Encoding.ASCII.GetBytes($"Host{n}.tenant{n % 97}.example.com");
            _wildcard[i] = Encoding.ASCII.GetBytes($"db.eu.tenant{n}.example.net");
            _missing[i] = Encoding.ASCII.GetBytes($"host{n}.example.org");
        }
    }

    [Benchmark(OperationsPerInvoke = Lookups)]
    public int Exact() => FirstOfEach(_exact);

    [Benchmark(OperationsPerInvoke = Lookups)]
    public int Wildcard() => FirstOfEach(_wildcard);

    [Benchmark(OperationsPerInvoke = Lookups)]
    public int Missing() => FirstOfEach(_missing);

    private int FirstOfEach(byte[][] names)
    {
        var sum = 0;
        foreach (var name in names)
        {
            var matches = _index.Match(name);
            sum += matches.MoveNext() ? matches.Current.Value : -1;
        }
        return sum;
    }
}
