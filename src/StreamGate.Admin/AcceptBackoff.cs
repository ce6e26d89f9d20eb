namespace StreamGate.Admin;

/// <summary>
/// How long an accept loop waits after accept() fails for want of resources, and when it says so. The wait
/// starts at 100 ms and doubles to 5 s, and a successful accept resets it (Garnet's accept loop does the same):
/// short enough that one freed descriptor is used soon, long enough that a process at its limit stays idle.
/// A warning goes out on the first failure and then at most once per longest wait, so a limit that holds for an
/// hour logs 720 lines, not one per attempt. Used by one accept loop at a time; not thread-safe.
/// </summary>
internal sealed class AcceptBackoff(TimeProvider time)
{
    public static readonly TimeSpan FirstDelay = TimeSpan.FromMilliseconds(100);
    public static readonly TimeSpan LongestDelay = TimeSpan.FromSeconds(5);

    private TimeSpan _delay;
    private long _startedAt;
    private long _warnedAt;
    private int _failures;

    /// <summary>Whether the last accept failed and no accept has succeeded since.</summary>
    public bool BackingOff => _failures > 0;

    /// <summary>
    /// Records a failed accept. Returns how long to wait before the next attempt; <paramref name="warn"/> says
    /// whether to log it now, and <paramref name="failures"/> counts the failures of this streak so far.
    /// </summary>
    public TimeSpan Failed(out bool warn, out int failures)
    {
        var now = time.GetTimestamp();
        if (_failures == 0)
        {
            _startedAt = now;
            _delay = FirstDelay;
            warn = true;
        }
        else
        {
            _delay = _delay * 2 < LongestDelay ? _delay * 2 : LongestDelay;
            warn = time.GetElapsedTime(_warnedAt, now) >= LongestDelay;
        }
        if (warn)
        {
            _warnedAt = now;
        }
        failures = ++_failures;
        return _delay;
    }

    /// <summary>
    /// Records a successful accept and resets the wait. Returns the failures of the streak it ends and how long
    /// the streak lasted; zero failures when the last accept did not fail.
    /// </summary>
    public (int Failures, TimeSpan Duration) Succeeded()
    {
        if (_failures == 0)
        {
            return (0, TimeSpan.Zero);
        }
        var streak = (_failures, time.GetElapsedTime(_startedAt));
        _failures = 0;
        _delay = TimeSpan.Zero;
        return streak;
    }
}
