using Microsoft.Extensions.Time.Testing;

namespace StreamGate.Tests.Health;

/// <summary>
/// A FakeTimeProvider that counts the timers armed on it. Each probe arms one (its timeout) when it starts and each
/// wait between probes one more, so a test knows a probe loop is waiting before it moves the clock.
/// </summary>
internal sealed class ProbeClock : FakeTimeProvider
{
    private int _timers;

    public int Timers => Volatile.Read(ref _timers);

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        Interlocked.Increment(ref _timers);
        return base.CreateTimer(callback, state, dueTime, period);
    }

    /// <summary>Waits (bounded, in real time) until at least <paramref name="count"/> timers were armed.</summary>
    public async Task WaitForTimersAsync(int count)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (Timers < count)
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"{Timers} timers armed, expected {count}");
            }
            await Task.Delay(5);
        }
    }
}
