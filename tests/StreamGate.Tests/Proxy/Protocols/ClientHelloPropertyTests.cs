using System.Collections.Concurrent;
using CsCheck;
using Xunit.Abstractions;
using StreamGate.Proxy.Protocols;

namespace StreamGate.Tests.Proxy.Protocols;

/// <summary>
/// The parser on random bytes and on random mutations of real hellos: it never throws, every answer keeps its
/// contract (bounds, fields inside the message, fields readable), and answers agree across prefixes of one input.
/// A failure prints CsCheck's seed; <c>Sample(..., seed: "...")</c> replays it.
/// </summary>
public sealed class ClientHelloPropertyTests(ITestOutputHelper output)
{
    private const int MaxLength = 4 * 1024;

    /// <summary>A mutation: 0 set a byte, 1 flip a bit, 2 delete a byte, 3 insert a byte, 4 cut the input, 5 add or take one from a byte (a length off by one).</summary>
    private readonly record struct Mutation(int Kind, int Position, byte Value);

    private static readonly Gen<Mutation> s_mutation = Gen.Select(Gen.Int[0, 5], Gen.Int[0, int.MaxValue], Gen.Byte, (k, p, v) => new Mutation(k, p, v));

    [Fact]
    public void Random_bytes_never_throw_and_keep_the_contract() =>
        Gen.Byte.Array[0, 300].Sample(data => CheckContract(data, MaxLength), iter: 5_000);

    [Fact]
    public void Random_bodies_behind_a_plausible_header_never_throw_and_keep_the_contract()
    {
        // A handshake record carrying a ClientHello header whose lengths fit: the parser gets past the record layer.
        var gen = Gen.Select(Gen.Byte.Array[0, 300], Gen.Int[-2, 2], (body, skew) =>
        {
            var length = Math.Max(0, body.Length + skew);
            return (byte[])[22, 3, 1, .. HelloBuilder.U16(length + 4), 1, .. HelloBuilder.U24(length), .. body];
        });
        gen.Sample(data => CheckContract(data, MaxLength), iter: 5_000);
    }

    [Fact]
    public async Task Mutated_real_hellos_never_throw_and_keep_the_contract()
    {
        var seeds = await SeedsAsync();
        var gen = Gen.Select(Gen.Int[0, seeds.Count - 1], s_mutation.Array[1, 6], (i, mutations) => Mutate(seeds[i], mutations));
        var answers = new ConcurrentDictionary<string, int>();
        gen.Sample(data =>
        {
            CheckContract(data, MaxLength);
            var result = ClientHello.Parse(data, MaxLength);
            answers.AddOrUpdate($"{result.Status} {result.Reason}", 1, (_, n) => n + 1);
        }, iter: 3_000);

        foreach (var (answer, count) in answers.OrderByDescending(a => a.Value))
        {
            output.WriteLine($"{count,6} {answer}");
        }
        // The mutations reach past the record layer: some hellos survive, and the body checks refuse others.
        Assert.Contains(answers.Keys, a => a.StartsWith("Complete", StringComparison.Ordinal));
        Assert.True(answers.Keys.Count(a => a.StartsWith("Malformed", StringComparison.Ordinal)) >= 10, string.Join(", ", answers.Keys));
    }

    [Fact]
    public async Task Real_hellos_cut_into_any_records_give_the_same_fields()
    {
        var seeds = (await RealHellos.AllAsync()).Select(c => c.Hello).ToArray();
        var gen = Gen.Select(Gen.Int[0, seeds.Length - 1], Gen.Int[1, 300].Array[0, 8], (i, cuts) => (seeds[i], cuts));
        gen.Sample((original, cuts) =>
        {
            var data = HelloBuilder.Refragment(original, cuts);
            var single = ClientHello.Parse(original);
            var split = ClientHello.Parse(data);
            Assert.Equal(ClientHelloStatus.Complete, split.Status);
            Assert.Equal(data.Length, split.Length);
            Assert.Equal(single.GetServerName(original), split.GetServerName(data));
            Assert.Equal(Alpn(single, original), Alpn(split, data));
            Assert.Equal(single.OffersTls13, split.OffersTls13);
            Assert.Equal(single.MessageLength, split.MessageLength);
            CheckContract(data, ClientHello.DefaultMaxLength);
        }, iter: 500);
    }

    private static async Task<List<byte[]>> SeedsAsync()
    {
        var seeds = new List<byte[]>();
        foreach (var (_, hello) in await RealHellos.AllAsync())
        {
            seeds.Add(hello);
            seeds.Add(HelloBuilder.Refragment(hello, 1, 3, 60));
        }
        seeds.Add(new HelloBuilder { Extensions = null }.Build());
        seeds.Add(new HelloBuilder().ServerName("a.example").Alpn("h2", "x").Versions(0x0304, 0x0303).Build(20, 20));
        return seeds;
    }

    private static byte[] Mutate(byte[] seed, Mutation[] mutations)
    {
        var data = new List<byte>(seed);
        foreach (var m in mutations)
        {
            if (data.Count == 0)
            {
                break;
            }
            var at = m.Position % data.Count;
            switch (m.Kind)
            {
                case 0: data[at] = m.Value; break;
                case 1: data[at] ^= (byte)(1 << (m.Value & 7)); break;
                case 2: data.RemoveAt(at); break;
                case 3: data.Insert(at, m.Value); break;
                case 4: data.RemoveRange(at, data.Count - at); break;
                default: data[at] = (byte)(data[at] + ((m.Value & 1) == 0 ? 1 : -1)); break;
            }
        }
        return [.. data];
    }

    private static List<string> Alpn(ClientHelloResult hello, byte[] data)
    {
        var list = new List<string>();
        foreach (var protocol in hello.EnumerateAlpn(data))
        {
            list.Add(hello.GetString(data, protocol));
        }
        return list;
    }

    /// <summary>The answer for <paramref name="data"/> keeps its contract, and every prefix's answer agrees with it.</summary>
    private static void CheckContract(byte[] data, int maxLength)
    {
        var result = ClientHello.Parse(data, maxLength);
        CheckOne(data, result, maxLength);

        var step = data.Length <= 400 ? 1 : data.Length / 200;
        var previous = 0;
        for (var n = 0; n < data.Length; n += step)
        {
            var prefix = ClientHello.Parse(data.AsSpan(0, n), maxLength);
            CheckOne(data.AsSpan(0, n), prefix, maxLength);
            if (prefix.Status == ClientHelloStatus.NeedMore)
            {
                // A lower bound only grows as bytes arrive, and a hello that completes is never shorter than it.
                Assert.True(prefix.MinimumLength >= previous, $"{n} bytes: needs {prefix.MinimumLength}, fewer bytes needed {previous}");
                previous = prefix.MinimumLength;
                if (result.Status == ClientHelloStatus.Complete)
                {
                    Assert.True(prefix.MinimumLength <= result.Length, $"{n} bytes: needs {prefix.MinimumLength}, the hello has {result.Length}");
                }
            }
            else if (result.Status == ClientHelloStatus.Complete)
            {
                // Before its end a complete hello is only ever "need more"; from its end on, the same hello.
                Assert.True(n >= result.Length, $"{n} bytes of a {result.Length}-byte hello: {prefix.Status} {prefix.Reason}");
                Assert.Equal(ClientHelloStatus.Complete, prefix.Status);
                Assert.Equal(result.Length, prefix.Length);
                Assert.Equal(result.ServerName, prefix.ServerName);
            }
            else
            {
                // Once refused, more bytes do not change the verdict.
                Assert.Equal(result.Status, prefix.Status);
            }
        }
    }

    private static void CheckOne(ReadOnlySpan<byte> data, ClientHelloResult result, int maxLength)
    {
        switch (result.Status)
        {
            case ClientHelloStatus.NeedMore:
                Assert.InRange(result.MinimumLength, data.Length + 1, maxLength);
                Assert.Null(result.Reason);
                break;
            case ClientHelloStatus.NotTls:
            case ClientHelloStatus.Malformed:
                Assert.False(string.IsNullOrEmpty(result.Reason));
                break;
            case ClientHelloStatus.Complete:
                CheckComplete(data, result, maxLength);
                break;
            default:
                Assert.Fail($"unknown status {result.Status}");
                break;
        }
    }

    private static void CheckComplete(ReadOnlySpan<byte> data, ClientHelloResult hello, int maxLength)
    {
        Assert.Null(hello.Reason);
        Assert.InRange(hello.Length, ClientHello.MinimumMaxLength, Math.Min(data.Length, maxLength));
        Assert.InRange(hello.Records, 1, hello.Length / 6);
        Assert.Equal(hello.Length, hello.MessageLength + 5 * hello.Records);
        foreach (var field in (ReadOnlySpan<HelloField>)[hello.ServerName, hello.Alpn, hello.SupportedVersions])
        {
            Assert.InRange(field.Offset, 0, hello.MessageLength);
            Assert.InRange(field.Length, 0, hello.MessageLength - field.Offset);
        }

        if (hello.HasServerName)
        {
            var name = hello.GetServerName(data)!;
            Assert.Equal(hello.ServerName.Length, name.Length);
            Assert.All(name, c => Assert.InRange(c, '!', '~'));
            Assert.NotEqual('.', name[^1]);
        }

        var count = 0;
        foreach (var protocol in hello.EnumerateAlpn(data))
        {
            Assert.InRange(protocol.Length, 1, 255);
            Assert.Equal(protocol.Length, hello.GetString(data, protocol).Length);
            count++;
        }
        Assert.Equal(hello.AlpnCount, count);

        var tls13 = false;
        foreach (var version in hello.EnumerateSupportedVersions(data))
        {
            Assert.False(ClientHello.IsGrease(version));
            tls13 |= version == 0x0304;
        }
        Assert.Equal(hello.OffersTls13, tls13);

        // The bytes after the hello are not its own: the hello alone gives the same answer.
        var alone = ClientHello.Parse(data[..hello.Length], maxLength);
        Assert.Equal(ClientHelloStatus.Complete, alone.Status);
        Assert.Equal(hello.ServerName, alone.ServerName);
        Assert.Equal(hello.Alpn, alone.Alpn);
    }
}
