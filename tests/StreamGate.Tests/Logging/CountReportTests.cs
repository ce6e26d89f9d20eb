using StreamGate.Logging;

namespace StreamGate.Tests.Logging;

public class CountReportTests
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(10);

    [Fact]
    public void FirstGrowthIsReportedAtOnce()
    {
        var report = new CountReport(new ManualTime(), Interval);
        Assert.False(report.TryReport(0, out _));
        Assert.Null(report.DueIn(0));
        Assert.Equal(TimeSpan.Zero, report.DueIn(3));
        Assert.True(report.TryReport(3, out var added));
        Assert.Equal(3, added);
    }

    [Fact]
    public void FurtherGrowthWaitsForTheIntervalAndIsReportedAsOneSum()
    {
        var time = new ManualTime();
        var report = new CountReport(time, Interval);
        Assert.True(report.TryReport(3, out _));
        time.Advance(TimeSpan.FromSeconds(4));
        Assert.False(report.TryReport(10, out _));
        Assert.Equal(TimeSpan.FromSeconds(6), report.DueIn(10));
        time.Advance(TimeSpan.FromSeconds(5));
        Assert.False(report.TryReport(25, out _));
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.True(report.TryReport(25, out var added));
        Assert.Equal(22, added);
        Assert.Null(report.DueIn(25));
    }

    [Fact]
    public void NoGrowthNoReportHoweverLongItWaits()
    {
        var time = new ManualTime();
        var report = new CountReport(time, Interval);
        Assert.True(report.TryReport(3, out _));
        time.Advance(TimeSpan.FromMinutes(5));
        Assert.False(report.TryReport(3, out _));
    }

    [Fact]
    public void ForceReportsWithinTheInterval()
    {
        // At exit: whatever is left is reported, so the warnings add up to the whole count.
        var time = new ManualTime();
        var report = new CountReport(time, Interval);
        Assert.True(report.TryReport(3, out _));
        Assert.True(report.TryReport(5, out var added, force: true));
        Assert.Equal(2, added);
    }

    private sealed class ManualTime : TimeProvider
    {
        private long _ticks;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override long GetTimestamp() => _ticks;

        public void Advance(TimeSpan by) => _ticks += by.Ticks;
    }
}
