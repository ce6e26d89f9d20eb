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
    public async Task AFailingNameIsLoggedOncePerBuildWithItsName()
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
        // The next build reports it again, even from the cache; connections never do.
        await resolver.ResolveAsync(set).WaitAsync(Timeout);
        Assert.Equal(2, logger.Messages.Count);
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
        clock.Advance(HostResolver.CacheFor - TimeSpan.FromTicks(1));
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
