using StreamGate.Proxy.Reactor;

namespace StreamGate.Tests.Proxy;

public sealed class TimerWheelTests
{
    private sealed class TestTimer(Recorder recorder) : TimerEntry
    {
        public override void OnTimer(long now) => recorder.OnTimer(this, now);
    }

    private sealed class Recorder
    {
        public List<(TimerEntry Timer, long Now)> Calls { get; } = [];

        public Action<TimerEntry, long>? OnCall { get; set; }

        public void OnTimer(TimerEntry timer, long now)
        {
            Calls.Add((timer, now));
            OnCall?.Invoke(timer, now);
        }
    }

    [Fact]
    public void A_timer_fires_once_its_deadline_has_passed_and_not_before()
    {
        var wheel = new TimerWheel();
        var recorder = new Recorder();
        var timer = new TestTimer(recorder);
        wheel.Schedule(timer, 1_000);
        Assert.Equal(1000 - 400, wheel.TimeoutMs(400));
        wheel.Advance(999);
        Assert.Empty(recorder.Calls);
        wheel.Advance(1_000);
        Assert.Single(recorder.Calls);
        Assert.False(timer.Armed);
        Assert.Equal(-1, wheel.TimeoutMs(1_000));
        wheel.Advance(5_000);
        Assert.Single(recorder.Calls);
    }

    [Fact]
    public void Deadlines_further_than_one_revolution_wait_for_their_round()
    {
        var wheel = new TimerWheel();
        var recorder = new Recorder();
        var near = new TestTimer(recorder);
        var far = new TestTimer(recorder);
        // Same bucket (10 ms ticks, 1,024 buckets): 10,240 ms apart.
        wheel.Schedule(near, 100);
        wheel.Schedule(far, 100 + (1024 * TimerWheel.TickMs));
        wheel.Advance(150);
        Assert.Equal([near], recorder.Calls.Select(c => c.Timer));
        Assert.Equal(100 + (1024 * TimerWheel.TickMs) - 150, wheel.TimeoutMs(150));
        wheel.Advance(100 + (1024 * TimerWheel.TickMs));
        Assert.Equal([near, far], recorder.Calls.Select(c => c.Timer));
    }

    [Fact]
    public void Cancelled_and_rearmed_timers_fire_only_at_their_last_deadline()
    {
        var wheel = new TimerWheel();
        var recorder = new Recorder();
        var cancelled = new TestTimer(recorder);
        var moved = new TestTimer(recorder);
        wheel.Schedule(cancelled, 50);
        wheel.Schedule(moved, 50);
        wheel.Cancel(cancelled);
        wheel.Schedule(moved, 500);
        Assert.Equal(1, wheel.Count);
        wheel.Advance(100);
        Assert.Empty(recorder.Calls);
        wheel.Advance(500);
        Assert.Equal([moved], recorder.Calls.Select(c => c.Timer));
    }

    [Fact]
    public void A_callback_may_rearm_itself_and_cancel_another_due_timer()
    {
        var wheel = new TimerWheel();
        var recorder = new Recorder();
        var first = new TestTimer(recorder);
        var second = new TestTimer(recorder);
        recorder.OnCall = (timer, now) =>
        {
            if (timer == first)
            {
                wheel.Cancel(second);
                wheel.Schedule(first, now + 30);
            }
        };
        // Buckets are LIFO lists, so first (armed last) is called first and cancels second, due in the same batch.
        wheel.Schedule(second, 10);
        wheel.Schedule(first, 10);
        wheel.Advance(20);
        Assert.Equal([first], recorder.Calls.Select(c => c.Timer));
        Assert.True(first.Armed);
        Assert.False(second.Armed);
        wheel.Advance(50);
        Assert.Equal([first, first], recorder.Calls.Select(c => c.Timer));
    }

    [Fact]
    public void Many_timers_fire_in_deadline_batches_and_the_wheel_empties()
    {
        var wheel = new TimerWheel();
        var recorder = new Recorder();
        var random = new Random(7);
        var deadlines = new Dictionary<TimerEntry, long>();
        for (var i = 0; i < 5_000; i++)
        {
            var timer = new TestTimer(recorder);
            var deadline = random.Next(1, 60_000);
            deadlines[timer] = deadline;
            wheel.Schedule(timer, deadline);
        }
        for (long now = 0; now <= 60_000; now += random.Next(1, 700))
        {
            wheel.Advance(now);
        }
        wheel.Advance(60_000);
        Assert.Equal(5_000, recorder.Calls.Count);
        Assert.All(recorder.Calls, c => Assert.True(c.Now >= deadlines[c.Timer], "a timer fired early"));
        Assert.Equal(0, wheel.Count);
        Assert.Equal(-1, wheel.TimeoutMs(60_000));
    }
}
