using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using StreamGate.Config;
using StreamGate.Runtime;

namespace StreamGate.Tests.Runtime;

public class HostResolverTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    private static ConfigSet Set(string yaml) => StandaloneFile.Parse(yaml + "\n#END\n");

    // One name in a named upstream, one in a service's, one in a route's, and literals of both families.
    private static readonly ConfigSet ThreeNames = Set("""
        upstreams:
          - {id: u, nodes: {"a.internal:1": 1, "127.0.0.1:2": 1}}
        services:
          - id: s
            upstream: {nodes: {"b.internal:1": 1}}
        stream_routes:
          - id: 1
            upstream: {nodes: {"c.internal:1": 1, "[::1]:2": 1}}
        """);

    private static Task<IPAddress[]> Answer(string address) => Task.FromResult(new[] { IPAddress.Parse(address) });

    [Fact]
    public async Task AllNamesAreLookedUpAtOnce()
    {
        var started = new ConcurrentDictionary<string, TaskCompletionSource<IPAddress[]>>();
        var allStarted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var resolver = new HostResolver(NullLogger.Instance, (host, _) =>
        {
            var answer = new TaskCompletionSource<IPAddress[]>(TaskCreationOptions.RunContinuationsAsynchronously);
            started[host] = answer;
            if (started.Count == 3)
            {
                allStarted.TrySetResult();
            }
            return answer.Task;
        });
        var resolving = resolver.ResolveAsync(ThreeNames);
        // Every lookup started while none has answered: one after another would have stopped at the first.
        await allStarted.Task.WaitAsync(Timeout);
        Assert.False(resolving.IsCompleted);
        Assert.Equal(["a.internal", "b.internal", "c.internal"], started.Keys.Order());
        started["a.internal"].SetResult([IPAddress.Parse("10.0.0.1")]);
        started["b.internal"].SetResult([IPAddress.Parse("10.0.0.2")]);
        started["c.internal"].SetResult([IPAddress.Parse("10.0.0.3")]);
        var hosts = await resolving.WaitAsync(Timeout);
        Assert.Equal(3, hosts.Count);
        Assert.Equal(IPAddress.Parse("10.0.0.1"), hosts["a.internal"]);
        Assert.Equal(IPAddress.Parse("10.0.0.2"), hosts["b.internal"]);
        Assert.Equal(IPAddress.Parse("10.0.0.3"), hosts["c.internal"]);
    }

    [Fact]
    public async Task ALookupThatNeverAnswersTimesOutToNoAddress()
    {
        var logger = new ListLogger();
        // The hanging lookup ignores its token, as a getaddrinfo under way does.
        var never = new TaskCompletionSource<IPAddress[]>();
        var resolver = new HostResolver(logger, (host, _) => host == "b.internal" ? never.Task : Answer("10.0.0.1"), timeout: TimeSpan.FromMilliseconds(50));
        var hosts = await resolver.ResolveAsync(ThreeNames).WaitAsync(Timeout);
        Assert.Null(hosts["b.internal"]);
        Assert.Equal(IPAddress.Parse("10.0.0.1"), hosts["a.internal"]);
        Assert.Equal(IPAddress.Parse("10.0.0.1"), hosts["c.internal"]);
        var warning = Assert.Single(logger.Messages);
        Assert.Contains("b.internal", warning, StringComparison.Ordinal);
        Assert.Contains("no answer within 0.05 s", warning, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AFailingNameIsLoggedOncePerFailureStreakWithItsName()
    {
        var logger = new ListLogger();
        var set = Set("""
            upstreams:
              - {id: u, nodes: {"gone.internal:1": 1, "a.internal:1": 1}}
              - {id: v, nodes: {"gone.internal:2": 1}}
            """);
        var clock = new ManualClock();
        var resolver = new HostResolver(logger, (host, _) => host == "a.internal"
            ? Answer("10.0.0.1")
            : Task.FromException<IPAddress[]>(new SocketException((int)SocketError.HostNotFound)), clock);
        var hosts = await resolver.ResolveAsync(set).WaitAsync(Timeout);
        Assert.Null(hosts["gone.internal"]);
        Assert.Equal(IPAddress.Parse("10.0.0.1"), hosts["a.internal"]);
        Assert.Contains("gone.internal", Assert.Single(logger.Messages), StringComparison.Ordinal);
        Assert.NotNull(resolver.LastError("gone.internal"));
        Assert.Null(resolver.LastError("a.internal"));
        // The next builds, from the cache or asking again, say nothing more while the streak lasts.
        await resolver.ResolveAsync(set).WaitAsync(Timeout);
        clock.Advance(TimeSpan.FromMinutes(5));
        await resolver.ResolveAsync(set).WaitAsync(Timeout);
        Assert.Single(logger.Messages);
    }

    [Fact]
    public async Task AnswersServeOnlyWithinCacheFor()
    {
        var clock = new ManualClock();
        var lookups = 0;
        var resolver = new HostResolver(NullLogger.Instance, (_, _) =>
        {
            Interlocked.Increment(ref lookups);
            return Answer("10.0.0.1");
        }, clock);
        await resolver.ResolveAsync(ThreeNames).WaitAsync(Timeout);
        // An answer due within the batch window is renewed with the one due: just before it, none is.
        clock.Advance(HostResolver.CacheFor - HostResolver.BatchWindow - TimeSpan.FromTicks(1));
        await resolver.ResolveAsync(ThreeNames).WaitAsync(Timeout);
        Assert.Equal(3, lookups);
        clock.Advance(TimeSpan.FromTicks(1));
        await resolver.ResolveAsync(ThreeNames).WaitAsync(Timeout);
        Assert.Equal(6, lookups);
    }

    [Fact]
    public async Task BuildsWaitingOnTheSameNameShareOneLookup()
    {
        var lookups = 0;
        var answer = new TaskCompletionSource<IPAddress[]>(TaskCreationOptions.RunContinuationsAsynchronously);
        var resolver = new HostResolver(NullLogger.Instance, (_, _) =>
        {
            Interlocked.Increment(ref lookups);
            return answer.Task;
        });
        var set = Set("upstreams:\n  - {id: u, nodes: {\"a.internal:1\": 1}}");
        var first = resolver.ResolveAsync(set);
        var second = resolver.ResolveAsync(set);
        answer.SetResult([IPAddress.Parse("10.0.0.1")]);
        Assert.Equal(IPAddress.Parse("10.0.0.1"), (await first.WaitAsync(Timeout))["a.internal"]);
        Assert.Equal(IPAddress.Parse("10.0.0.1"), (await second.WaitAsync(Timeout))["a.internal"]);
        Assert.Equal(1, lookups);
    }

    [Fact]
    public async Task ASetOfLiteralsAsksNothing()
    {
        var resolver = new HostResolver(NullLogger.Instance, (host, _) => throw new InvalidOperationException($"looked up {host}"));
        var hosts = await resolver.ResolveAsync(Set("upstreams:\n  - {id: u, nodes: {\"127.0.0.1:1\": 1, \"[::1]:2\": 1}}")).WaitAsync(Timeout);
        Assert.Empty(hosts);
    }

    // ---- TTLs, the last good answer and expiry, on an injected clock ----

    private static readonly ConfigSet OneName = Set("upstreams:\n  - {id: u, nodes: {\"db.internal:1\": 1}}");

    /// <summary>A resolver whose lookups answer what <paramref name="answer"/> says now, with no hosts file.</summary>
    private static HostResolver WithTtls(Func<string, DnsAnswer> answer, ManualClock clock, DnsOptions? options = null, ILogger? logger = null, HostsFile? hosts = null) =>
        new(logger ?? NullLogger.Instance, options ?? DnsOptions.Default, (name, _) => Task.FromResult(answer(name)), clock, hosts);

    private static DnsAnswer Ok(string address, double ttlSeconds) => new(IPAddress.Parse(address), TimeSpan.FromSeconds(ttlSeconds), null);

    [Theory]
    [InlineData(30, 30)]
    [InlineData(0, 1)]
    [InlineData(86400, 3600)]
    public async Task TtlsAreKeptWithinTheBounds(double ttl, double kept)
    {
        var clock = new ManualClock();
        var lookups = 0;
        var resolver = WithTtls(_ => { lookups++; return Ok("10.0.0.1", ttl); }, clock);
        await resolver.ResolveAsync(OneName).WaitAsync(Timeout);
        Assert.Equal(TimeSpan.FromSeconds(kept), resolver.NextExpiry);
        clock.Advance(TimeSpan.FromSeconds(kept) - HostResolver.BatchWindow - TimeSpan.FromTicks(1));
        await resolver.ResolveAsync(OneName).WaitAsync(Timeout);
        Assert.Equal(1, lookups);
        clock.Advance(HostResolver.BatchWindow + TimeSpan.FromTicks(1));
        await resolver.ResolveAsync(OneName).WaitAsync(Timeout);
        Assert.Equal(2, lookups);
    }

    [Fact]
    public async Task TheBoundsAndDnsResolverValidComeFromTheOptions()
    {
        var clock = new ManualClock();
        var narrow = WithTtls(_ => Ok("10.0.0.1", 300), clock, DnsOptions.Default with { TtlMin = TimeSpan.FromSeconds(10), TtlMax = TimeSpan.FromSeconds(60) });
        await narrow.ResolveAsync(OneName).WaitAsync(Timeout);
        Assert.Equal(TimeSpan.FromSeconds(60), narrow.NextExpiry);
        var short_ = WithTtls(_ => Ok("10.0.0.1", 2), clock, DnsOptions.Default with { TtlMin = TimeSpan.FromSeconds(10) });
        await short_.ResolveAsync(OneName).WaitAsync(Timeout);
        Assert.Equal(TimeSpan.FromSeconds(10), short_.NextExpiry);
        // dns_resolver_valid replaces every TTL, as in APISIX, whatever the bounds.
        var valid = WithTtls(_ => Ok("10.0.0.1", 2), clock, DnsOptions.Default with { Valid = TimeSpan.FromSeconds(7200) });
        await valid.ResolveAsync(OneName).WaitAsync(Timeout);
        Assert.Equal(TimeSpan.FromSeconds(7200), valid.NextExpiry);
    }

    [Fact]
    public async Task AFailedRefreshKeepsTheLastGoodAnswerAndSaysSoOncePerStreak()
    {
        var clock = new ManualClock();
        var logger = new ListLogger();
        DnsAnswer next = Ok("10.0.0.1", 30);
        var resolver = WithTtls(_ => next, clock, logger: logger);
        Assert.Equal(IPAddress.Parse("10.0.0.1"), (await resolver.ResolveAsync(OneName).WaitAsync(Timeout))["db.internal"]);
        Assert.Empty(logger.Messages);

        next = new DnsAnswer(null, null, "connection refused");
        clock.Advance(TimeSpan.FromSeconds(30));
        Assert.Equal(IPAddress.Parse("10.0.0.1"), (await resolver.ResolveAsync(OneName).WaitAsync(Timeout))["db.internal"]);
        Assert.Equal("connection refused", resolver.LastError("db.internal"));
        var warning = Assert.Single(logger.Messages);
        Assert.Contains("db.internal", warning, StringComparison.Ordinal);
        Assert.Contains("10.0.0.1", warning, StringComparison.Ordinal);
        Assert.Contains("connection refused", warning, StringComparison.Ordinal);
        // Failures are asked again 5 s, then 10 s, 20 s, ... apart (at most 60 s); the streak is not logged again.
        Assert.Equal(HostResolver.CacheFor, resolver.NextExpiry);
        clock.Advance(HostResolver.CacheFor);
        Assert.Equal(IPAddress.Parse("10.0.0.1"), (await resolver.ResolveAsync(OneName).WaitAsync(Timeout))["db.internal"]);
        Assert.Equal(HostResolver.CacheFor * 2, resolver.NextExpiry);
        Assert.Single(logger.Messages);

        next = Ok("10.0.0.2", 30);
        clock.Advance(HostResolver.CacheFor * 2);
        Assert.Equal(IPAddress.Parse("10.0.0.2"), (await resolver.ResolveAsync(OneName).WaitAsync(Timeout))["db.internal"]);
        Assert.Null(resolver.LastError("db.internal"));
        Assert.Equal(2, logger.Messages.Count);
        Assert.Contains("resolves again, to 10.0.0.2, after 2 failed lookups", logger.Messages.Last(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ARotatedAnswerKeepsTheAddressInUseWhileItIsListed()
    {
        var clock = new ManualClock();
        IPAddress a = IPAddress.Parse("10.0.0.1"), b = IPAddress.Parse("10.0.0.2"), c = IPAddress.Parse("10.0.0.3");
        var next = new DnsAnswer(a, TimeSpan.FromSeconds(30), null, [a, b]);
        var resolver = WithTtls(_ => next, clock);
        Assert.Equal(a, (await resolver.ResolveAsync(OneName).WaitAsync(Timeout))["db.internal"]);

        // The same records in another order (CoreDNS's loadbalance): the address in use stays, nothing is rebuilt.
        next = new DnsAnswer(b, TimeSpan.FromSeconds(30), null, [b, a]);
        clock.Advance(TimeSpan.FromSeconds(30));
        Assert.Equal(a, (await resolver.ResolveAsync(OneName).WaitAsync(Timeout))["db.internal"]);

        // The address is no longer listed: the answer's first one takes over.
        next = new DnsAnswer(c, TimeSpan.FromSeconds(30), null, [c, b]);
        clock.Advance(TimeSpan.FromSeconds(30));
        Assert.Equal(c, (await resolver.ResolveAsync(OneName).WaitAsync(Timeout))["db.internal"]);
    }

    [Fact]
    public async Task ANameThatNeverResolvedIsNullWithItsReason()
    {
        var clock = new ManualClock();
        var resolver = WithTtls(_ => new DnsAnswer(null, null, "no such name (NXDOMAIN)"), clock);
        var hosts = await resolver.ResolveAsync(OneName).WaitAsync(Timeout);
        Assert.Null(hosts["db.internal"]);
        Assert.Equal("no such name (NXDOMAIN)", resolver.LastError("db.internal"));
        Assert.Null(resolver.LastError("never.asked"));
    }

    [Fact]
    public async Task RetriesOfAFailingNameBackOffTo60Seconds()
    {
        var clock = new ManualClock();
        var resolver = WithTtls(_ => new DnsAnswer(null, null, "timeout"), clock);
        var waits = new List<double>();
        for (var i = 0; i < 6; i++)
        {
            await resolver.ResolveAsync(OneName).WaitAsync(Timeout);
            var wait = resolver.NextExpiry!.Value;
            waits.Add(wait.TotalSeconds);
            clock.Advance(wait);
        }
        Assert.Equal([5, 10, 20, 40, 60, 60], waits);
    }

    [Fact]
    public async Task ExpiryIsRaisedOncePerBatchAndArmedAgainByTheNextResolve()
    {
        var clock = new ManualClock();
        var set = Set("upstreams:\n  - {id: u, nodes: {\"a.internal:1\": 1, \"b.internal:1\": 1, \"c.internal:1\": 1}}");
        var lookups = new ConcurrentDictionary<string, int>();
        // a and b expire 100 ms apart (one batch); c much later.
        var resolver = WithTtls(name =>
        {
            lookups.AddOrUpdate(name, 1, (_, n) => n + 1);
            return Ok("10.0.0.1", name switch { "a.internal" => 10, "b.internal" => 10.1, _ => 100 });
        }, clock);
        var raised = 0;
        resolver.Expired += () => Interlocked.Increment(ref raised);
        await resolver.ResolveAsync(set).WaitAsync(Timeout);
        Assert.Equal(TimeSpan.FromSeconds(10), resolver.NextExpiry);
        Assert.False(resolver.CheckExpiry());
        clock.Advance(TimeSpan.FromSeconds(10));
        Assert.True(resolver.CheckExpiry());
        Assert.False(resolver.CheckExpiry());
        Assert.Equal(1, raised);
        // The owner's rebuild: a and b are renewed together, c is not asked.
        await resolver.ResolveAsync(set).WaitAsync(Timeout);
        Assert.Equal(2, lookups["a.internal"]);
        Assert.Equal(2, lookups["b.internal"]);
        Assert.Equal(1, lookups["c.internal"]);
        Assert.Equal(TimeSpan.FromSeconds(10), resolver.NextExpiry);
        Assert.False(resolver.CheckExpiry());
        clock.Advance(TimeSpan.FromSeconds(10));
        Assert.True(resolver.CheckExpiry());
        Assert.Equal(2, raised);
    }

    [Fact]
    public async Task NamesNoLongerInUseRaiseNothing()
    {
        var clock = new ManualClock();
        var resolver = WithTtls(_ => Ok("10.0.0.1", 10), clock);
        var raised = 0;
        resolver.Expired += () => raised++;
        await resolver.ResolveAsync(OneName).WaitAsync(Timeout);
        await resolver.ResolveAsync(Set("upstreams:\n  - {id: u, nodes: {\"127.0.0.1:1\": 1}}")).WaitAsync(Timeout);
        Assert.Null(resolver.NextExpiry);
        clock.Advance(TimeSpan.FromSeconds(20));
        Assert.False(resolver.CheckExpiry());
        Assert.Equal(0, raised);
    }

    [Fact]
    public async Task TheTimerRaisesExpiredOnItsOwn()
    {
        // The system clock: a TTL of 1 s expires within a second or so, on a timer thread.
        var raised = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var resolver = new HostResolver(NullLogger.Instance, DnsOptions.Default, (_, _) => Task.FromResult(Ok("10.0.0.1", 1)), null, null);
        resolver.Expired += () => raised.TrySetResult();
        await resolver.ResolveAsync(OneName).WaitAsync(Timeout);
        await raised.Task.WaitAsync(Timeout);
    }

    // ---- /etc/hosts ----

    [Fact]
    public async Task TheHostsFileAnswersWithoutAQueryAndItsChangesRaiseExpired()
    {
        using var folder = new TempFolder();
        var path = folder.Write("hosts", "# comment\n127.0.0.1 localhost\n10.1.1.1 db.internal db # the database\n::1 six.internal\n");
        var hostsFile = new HostsFile(path);
        var clock = new ManualClock();
        var asked = new ConcurrentBag<string>();
        var resolver = WithTtls(name => { asked.Add(name); return Ok("10.9.9.9", 30); }, clock, hosts: hostsFile);
        var raised = 0;
        resolver.Expired += () => raised++;
        var set = Set("upstreams:\n  - {id: u, nodes: {\"DB.internal:1\": 1, \"six.internal:1\": 1, \"dns.internal:1\": 1}}");
        var hosts = await resolver.ResolveAsync(set).WaitAsync(Timeout);
        Assert.Equal(IPAddress.Parse("10.1.1.1"), hosts["DB.internal"]);
        Assert.Equal(IPAddress.IPv6Loopback, hosts["six.internal"]);
        Assert.Equal(IPAddress.Parse("10.9.9.9"), hosts["dns.internal"]);
        Assert.Equal(["dns.internal"], asked);

        // Unchanged, the file raises nothing; changed for a name in use, it does.
        Assert.False(resolver.CheckExpiry());
        folder.Write("hosts", "10.1.1.2 db.internal\n::1 six.internal\n");
        File.SetLastWriteTimeUtc(path, DateTime.UtcNow.AddSeconds(5));
        Assert.True(resolver.CheckExpiry());
        Assert.Equal(1, raised);
        hosts = await resolver.ResolveAsync(set).WaitAsync(Timeout);
        Assert.Equal(IPAddress.Parse("10.1.1.2"), hosts["DB.internal"]);
        Assert.Single(asked);

        // A name the file lists from now on is due too, and no longer asked.
        folder.Write("hosts", "10.1.1.2 db.internal\n::1 six.internal\n10.3.3.3 dns.internal\n");
        File.SetLastWriteTimeUtc(path, DateTime.UtcNow.AddSeconds(10));
        Assert.True(resolver.CheckExpiry());
        Assert.Equal(IPAddress.Parse("10.3.3.3"), (await resolver.ResolveAsync(set).WaitAsync(Timeout))["dns.internal"]);
    }

    [Fact]
    public void TheHostsFileParserTakesTheFirstIPv4OfAName()
    {
        var names = HostsFile.Parse("fe80::1%lo six\n::2 both\n10.0.0.2 both\n10.0.0.3 both\nbad line\n  \n10.0.0.4\tTabbed.Name. alias\n");
        Assert.Equal(IPAddress.Parse("10.0.0.2"), names["both"]);
        Assert.Equal(IPAddress.Parse("10.0.0.4"), names["tabbed.name"]);
        Assert.Equal(IPAddress.Parse("10.0.0.4"), names["alias"]);
        Assert.Equal(System.Net.Sockets.AddressFamily.InterNetworkV6, names["six"].AddressFamily);
        Assert.False(names.ContainsKey("bad"));
    }

    [Fact]
    public void ResolvConfGivesServersSearchAndNdots()
    {
        var conf = ResolvConf.Parse("# generated\nnameserver 10.0.0.10\nnameserver ::1\nsearch default.svc.cluster.local svc.cluster.local\noptions ndots:5 timeout:2\n");
        Assert.Equal([new IPEndPoint(IPAddress.Parse("10.0.0.10"), 53), new IPEndPoint(IPAddress.IPv6Loopback, 53)], conf.Servers);
        Assert.Equal(5, conf.Ndots);
        Assert.Equal(["redis.default.svc.cluster.local", "redis.svc.cluster.local", "redis"], conf.Candidates("redis"));
        Assert.Equal(["db.example.com."], conf.Candidates("db.example.com."));
        var plain = ResolvConf.Parse("search corp\n");
        Assert.Equal([new IPEndPoint(IPAddress.Loopback, 53)], plain.Servers);
        Assert.Equal(["db.example", "db.example.corp"], plain.Candidates("db.example"));
        Assert.Equal(["db.corp", "db"], plain.Candidates("db"));
    }

    // ---- a real DNS server ----

    /// <summary>A resolver asking only <paramref name="server"/>, with no hosts file and no search domains.</summary>
    private static HostResolver RealDns(Dnsmasq server, TempFolder folder, DnsOptions? options = null, ILogger? logger = null) =>
        new(logger ?? NullLogger.Instance, (options ?? DnsOptions.Default) with
        {
            Servers = [server.EndPoint],
            HostsPath = folder.Write("hosts", ""),
            ResolvConfPath = folder.Write("resolv.conf", ""),
        });

    [Fact]
    public async Task ARealServersAAndAaaaAnswersCarryTheirTtls()
    {
        await using var server = await Dnsmasq.StartAsync("--host-record=db.test,127.0.0.5,42", "--host-record=six.test,::5,7", "--host-record=dual.test,127.0.0.6,::6,300");
        using var folder = new TempFolder();
        using var resolver = RealDns(server, folder);
        var hosts = await resolver.ResolveAsync(Set("upstreams:\n  - {id: u, nodes: {\"db.test:1\": 1, \"six.test:1\": 1, \"dual.test:1\": 1, \"nope.test:1\": 1}}")).WaitAsync(Timeout);
        Assert.Equal(IPAddress.Parse("127.0.0.5"), hosts["db.test"]);
        Assert.Equal(IPAddress.Parse("::5"), hosts["six.test"]);
        Assert.Equal(IPAddress.Parse("127.0.0.6"), hosts["dual.test"]);
        Assert.Null(hosts["nope.test"]);
        Assert.Equal("no such name (NXDOMAIN)", resolver.LastError("nope.test"));
        // The earliest TTL in use is six.test's 7 s; a failure's retry (5 s) comes first.
        Assert.InRange(resolver.NextExpiry!.Value.TotalSeconds, 4, 5);
        using var onlyGood = RealDns(server, folder);
        await onlyGood.ResolveAsync(Set("upstreams:\n  - {id: u, nodes: {\"db.test:1\": 1, \"six.test:1\": 1}}")).WaitAsync(Timeout);
        Assert.InRange(onlyGood.NextExpiry!.Value.TotalSeconds, 6, 7);
    }

    [Fact]
    public async Task AChangedRecordIsFollowedAtItsTtl()
    {
        await using var server = await Dnsmasq.StartAsync("--local-ttl=1");
        await server.WriteHostsAsync("127.0.0.7 moving.test\n");
        using var folder = new TempFolder();
        var set = Set("upstreams:\n  - {id: u, nodes: {\"moving.test:1\": 1}}");
        // dnsmasq reads its hosts directory a moment after the write; a new resolver each time, so no failure is kept.
        HostResolver fresh = RealDns(server, folder);
        for (var i = 0; i < 50 && (await fresh.ResolveAsync(set).WaitAsync(Timeout))["moving.test"] is null; i++)
        {
            fresh.Dispose();
            await Task.Delay(100);
            fresh = RealDns(server, folder);
        }
        using var _ = fresh;
        Assert.Equal(IPAddress.Parse("127.0.0.7"), (await fresh.ResolveAsync(set).WaitAsync(Timeout))["moving.test"]);
        var expired = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        fresh.Expired += () => expired.TrySetResult();
        await server.WriteHostsAsync("127.0.0.8 moving.test\n");
        await expired.Task.WaitAsync(Timeout);
        IPAddress? moved = null;
        for (var i = 0; i < 50 && !IPAddress.Parse("127.0.0.8").Equals(moved); i++)
        {
            await Task.Delay(i == 0 ? 0 : 200);
            // What the owner does on Expired: resolve again.
            moved = (await fresh.ResolveAsync(set).WaitAsync(Timeout))["moving.test"];
        }
        Assert.Equal(IPAddress.Parse("127.0.0.8"), moved);
    }

    [Fact]
    public async Task AServerThatStopsAnsweringLeavesTheLastGoodAddress()
    {
        var server = await Dnsmasq.StartAsync("--host-record=db.test,127.0.0.5,1");
        using var folder = new TempFolder();
        var logger = new ListLogger();
        using var resolver = RealDns(server, folder, DnsOptions.Default with { Timeout = TimeSpan.FromMilliseconds(300) }, logger);
        var set = Set("upstreams:\n  - {id: u, nodes: {\"db.test:1\": 1}}");
        Assert.Equal(IPAddress.Parse("127.0.0.5"), (await resolver.ResolveAsync(set).WaitAsync(Timeout))["db.test"]);
        await server.DisposeAsync();
        await Task.Delay(TimeSpan.FromSeconds(1.1));
        Assert.Equal(IPAddress.Parse("127.0.0.5"), (await resolver.ResolveAsync(set).WaitAsync(Timeout))["db.test"]);
        Assert.NotNull(resolver.LastError("db.test"));
        Assert.Contains("keeps serving", Assert.Single(logger.Messages), StringComparison.Ordinal);
    }

    [Fact]
    public async Task SearchDomainsOfResolvConfApply()
    {
        await using var server = await Dnsmasq.StartAsync("--host-record=db.svc.test,127.0.0.9,60");
        using var folder = new TempFolder();
        using var resolver = new HostResolver(NullLogger.Instance, DnsOptions.Default with
        {
            Servers = [server.EndPoint],
            HostsPath = folder.Write("hosts", ""),
            ResolvConfPath = folder.Write("resolv.conf", "search other.test svc.test\noptions ndots:2\n"),
        });
        var hosts = await resolver.ResolveAsync(Set("upstreams:\n  - {id: u, nodes: {\"db:1\": 1}}")).WaitAsync(Timeout);
        Assert.Equal(IPAddress.Parse("127.0.0.9"), hosts["db"]);
    }

    [Fact]
    public async Task ResolvConfNameserversServeWhenNoneAreConfigured()
    {
        await using var server = await Dnsmasq.StartAsync("--host-record=db.test,127.0.0.5,60");
        using var folder = new TempFolder();
        // resolv.conf has no port; a nameserver on a high port is only reachable through dns_resolver, so this
        // points resolv.conf at a closed one and dns_resolver at dnsmasq, then the other way round.
        using var configured = new HostResolver(NullLogger.Instance, DnsOptions.Default with
        {
            Servers = [server.EndPoint],
            HostsPath = folder.Write("hosts", ""),
            ResolvConfPath = folder.Write("resolv.conf", "nameserver 127.0.0.254\n"),
            Timeout = TimeSpan.FromMilliseconds(500),
        });
        var set = Set("upstreams:\n  - {id: u, nodes: {\"db.test:1\": 1}}");
        Assert.Equal(IPAddress.Parse("127.0.0.5"), (await configured.ResolveAsync(set).WaitAsync(Timeout))["db.test"]);
        using var fromConf = new HostResolver(NullLogger.Instance, DnsOptions.Default with
        {
            HostsPath = folder.Write("hosts", ""),
            ResolvConfPath = folder.Write("resolv.conf", "nameserver 127.0.0.254\n"),
            Timeout = TimeSpan.FromMilliseconds(500),
        });
        Assert.Null((await fromConf.ResolveAsync(set).WaitAsync(Timeout))["db.test"]);
        Assert.NotNull(fromConf.LastError("db.test"));
    }

    private sealed class TempFolder : IDisposable
    {
        public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "streamgate-dns-" + Guid.NewGuid().ToString("N"));

        public TempFolder() => Directory.CreateDirectory(Path);

        public string Write(string name, string text)
        {
            var path = System.IO.Path.Combine(Path, name);
            File.WriteAllText(path, text);
            return path;
        }

        public void Dispose() => Directory.Delete(Path, recursive: true);
    }

    private sealed class ListLogger : ILogger
    {
        private readonly ConcurrentQueue<string> _messages = new();

        public IReadOnlyCollection<string> Messages => _messages;

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            _messages.Enqueue(formatter(state, exception));
    }
}
