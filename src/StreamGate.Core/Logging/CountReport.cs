namespace StreamGate.Logging;

/// <summary>
/// Decides when a growing count (lines dropped, writes failed) is worth a warning: at once the first time,
/// then at most once per interval with what was added since, so a writer that stays behind for minutes logs
/// one line every interval instead of one per loss. Not thread-safe: the access-log writer thread owns it.
/// </summary>
internal sealed class CountReport(TimeProvider time, TimeSpan interval)
{
    private long _reported;
    private long _reportedAt;
    private bool _hasReported;

    /// <summary>
    /// True when <paramref name="total"/> grew since the last report and the interval has passed (or
    /// <paramref name="force"/>); <paramref name="added"/> is the growth, now counted as reported.
    /// </summary>
    public bool TryReport(long total, out long added, bool force = false)
    {
        added = total - _reported;
        if (added <= 0)
        {
            return false;
        }
        var now = time.GetTimestamp();
        if (!force && _hasReported && time.GetElapsedTime(_reportedAt, now) < interval)
        {
            return false;
        }
        _reported = total;
        _reportedAt = now;
        _hasReported = true;
        return true;
    }

    /// <summary>How long until growth up to <paramref name="total"/> may be reported; null when there is none to report.</summary>
    public TimeSpan? DueIn(long total)
    {
        if (total <= _reported)
        {
            return null;
        }
        if (!_hasReported)
        {
            return TimeSpan.Zero;
        }
        var left = interval - time.GetElapsedTime(_reportedAt);
        return left > TimeSpan.Zero ? left : TimeSpan.Zero;
    }
}
