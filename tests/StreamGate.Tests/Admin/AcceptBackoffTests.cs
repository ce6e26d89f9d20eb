using System.Net.Sockets;
using StreamGate.Admin;

namespace StreamGate.Tests.Admin;

public sealed class AcceptBackoffTests
{
    /// <summary>A clock that moves only when told to.</summary>
    private sealed class ManualTime : TimeProvider
    {
        private long _ticks;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override long GetTimestamp() => _ticks;

        public void Advance(TimeSpan by) => _ticks += by.Ticks;
    }

    [Fact]
    public void The_wait_doubles_from_100_ms_to_5_s_and_stays_there()
    {
        var backoff = new AcceptBackoff(new ManualTime());
        var delays = Enumerable.Range(0, 9).Select(i => backoff.Failed(out _, out _).TotalMilliseconds);
        Assert.Equal([100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000], delays);
        Assert.True(backoff.BackingOff);
    }

    [Fact]
    public void A_successful_accept_ends_the_streak_and_the_next_failure_starts_again_at_100_ms()
    {
        var time = new ManualTime();
        var backoff = new AcceptBackoff(time);
        Assert.Equal((0, TimeSpan.Zero), backoff.Succeeded());

        for (var i = 0; i < 4; i++)
        {
            time.Advance(backoff.Failed(out _, out _));
        }
        var (failures, duration) = backoff.Succeeded();
        Assert.Equal(4, failures);
        Assert.Equal(TimeSpan.FromMilliseconds(100 + 200 + 400 + 800), duration);
        Assert.False(backoff.BackingOff);

        Assert.Equal(AcceptBackoff.FirstDelay, backoff.Failed(out var warn, out var count));
        Assert.True(warn);
        Assert.Equal(1, count);
    }

    [Fact]
    public void It_warns_at_the_first_failure_then_at_most_once_per_5_s()
    {
        var time = new ManualTime();
        var backoff = new AcceptBackoff(time);
        var warnedAt = new List<(TimeSpan At, int Failures)>();
        var elapsed = TimeSpan.Zero;
        // A minute at the limit: the waits are 0.1 .. 3.2 s, then 5 s each.
        while (elapsed < TimeSpan.FromMinutes(1))
        {
            var delay = backoff.Failed(out var warn, out var failures);
            if (warn)
            {
                warnedAt.Add((elapsed, failures));
            }
            time.Advance(delay);
            elapsed += delay;
        }
        Assert.Equal((TimeSpan.Zero, 1), warnedAt[0]);
        // The next once 5 s have passed (at 6.3 s, the sixth wait's end), then every 5 s wait.
        Assert.Equal((TimeSpan.FromSeconds(6.3), 7), warnedAt[1]);
        for (var i = 2; i < warnedAt.Count; i++)
        {
            Assert.True(warnedAt[i].At - warnedAt[i - 1].At >= AcceptBackoff.LongestDelay, $"warnings {i - 1} and {i} are less than 5 s apart");
        }
        Assert.InRange(warnedAt.Count, 11, 13);
    }

    [Theory]
    [InlineData(SocketError.TooManyOpenSockets, true)]
    [InlineData(SocketError.NoBufferSpaceAvailable, true)]
    [InlineData(SocketError.AccessDenied, false)]
    [InlineData(SocketError.InvalidArgument, false)]
    public void Out_of_descriptors_or_buffers_is_resource_exhaustion(SocketError error, bool exhausted) =>
        Assert.Equal(exhausted, BackoffSocketListener.IsResourceExhaustion(new SocketException((int)error)));

    [Fact]
    public void The_message_for_too_many_open_files_names_both_limits()
    {
        // .NET reports EMFILE back as ENFILE ("... in system"), the wrong limit nearly every time.
        var text = BackoffSocketListener.Describe(new SocketException((int)SocketError.TooManyOpenSockets));
        Assert.Contains("EMFILE", text, StringComparison.Ordinal);
        Assert.Contains("ENFILE", text, StringComparison.Ordinal);
        Assert.Contains("unexpected", BackoffSocketListener.Describe(new SocketException((int)SocketError.AccessDenied)), StringComparison.Ordinal);
    }
}
