namespace StreamGate.Proxy.Reactor;

/// <summary>
/// One timer: its owner (a session, a worker's accept back-off) is the entry, reused for the owner's whole
/// life, so arming and cancelling allocate nothing and a session carries no second object for it. Linked into
/// one bucket of the wheel while armed.
/// </summary>
internal abstract class TimerEntry
{
    /// <summary>Called by the wheel on the loop's thread once the deadline has passed.</summary>
    public abstract void OnTimer(long now);

    /// <summary>Absolute time in milliseconds (the reactor's clock) at which the owner is called.</summary>
    public long Deadline { get; internal set; }

    public bool Armed { get; internal set; }

    internal TimerEntry? Previous;
    internal TimerEntry? Next;
    internal int Bucket;
}

/// <summary>
/// A hashed timer wheel, one per event loop (single-threaded): arming, re-arming and cancelling are O(1)
/// list operations, and the loop sleeps in epoll_wait until the earliest deadline instead of waking every
/// 100 ms to sweep every connection slot ever allocated. Entries hash by deadline tick into 1,024 buckets of
/// 10 ms (a 10 s revolution); an entry further out stays in its bucket and is skipped until its round comes.
/// Each bucket remembers the earliest deadline it may hold, so advancing visits only buckets with something due.
/// </summary>
internal sealed class TimerWheel
{
    public const int TickMs = 10;
    private const int Buckets = 1024;
    private const int Mask = Buckets - 1;

    // Bucket value of an entry taken out as due but not called yet (a Schedule or Cancel before the call clears it).
    private const int CollectedMark = -1;

    private readonly TimerEntry?[] _heads = new TimerEntry?[Buckets];

    // Earliest deadline that may be in each bucket; only lowered on insert, so after a cancel it can be early,
    // which costs one wasted look at the bucket, never a late timer.
    private readonly long[] _bucketEarliest = new long[Buckets];
    private readonly List<TimerEntry> _due = [];
    private long _earliest = long.MaxValue;

    public TimerWheel() => Array.Fill(_bucketEarliest, long.MaxValue);

    public int Count { get; private set; }

    /// <summary>Arms (or re-arms) <paramref name="timer"/> for <paramref name="deadline"/>.</summary>
    public void Schedule(TimerEntry timer, long deadline)
    {
        if (timer.Armed)
        {
            Unlink(timer);
        }
        var bucket = (int)((deadline / TickMs) & Mask);
        timer.Deadline = deadline;
        timer.Bucket = bucket;
        timer.Armed = true;
        timer.Previous = null;
        timer.Next = _heads[bucket];
        if (timer.Next is not null)
        {
            timer.Next.Previous = timer;
        }
        _heads[bucket] = timer;
        Count++;
        if (deadline < _bucketEarliest[bucket])
        {
            _bucketEarliest[bucket] = deadline;
        }
        if (deadline < _earliest)
        {
            _earliest = deadline;
        }
    }

    public void Cancel(TimerEntry timer)
    {
        if (timer.Armed)
        {
            Unlink(timer);
        }
        else if (timer.Bucket == CollectedMark)
        {
            // Due in the batch being called right now: it must not be called after all.
            timer.Bucket = 0;
        }
    }

    /// <summary>How long epoll_wait may sleep: until the earliest deadline, or forever (-1) with no timer armed.</summary>
    public int TimeoutMs(long now)
    {
        if (Count == 0)
        {
            return -1;
        }
        var wait = _earliest - now;
        return wait <= 0 ? 0 : wait >= int.MaxValue ? int.MaxValue : (int)wait;
    }

    /// <summary>Calls every timer whose deadline is at or before <paramref name="now"/>.</summary>
    public void Advance(long now)
    {
        if (now < _earliest)
        {
            return;
        }
        var earliest = long.MaxValue;
        for (var bucket = 0; bucket < Buckets; bucket++)
        {
            if (_bucketEarliest[bucket] <= now)
            {
                CollectDue(bucket, now);
            }
            if (_bucketEarliest[bucket] < earliest)
            {
                earliest = _bucketEarliest[bucket];
            }
        }
        _earliest = earliest;
        // Callbacks run after collection: one may arm timers (any bucket) or cancel others without
        // disturbing the walk. An entry cancelled by an earlier callback in this batch is skipped.
        for (var i = 0; i < _due.Count; i++)
        {
            var timer = _due[i];
            if (!timer.Armed && timer.Bucket == CollectedMark)
            {
                timer.Bucket = 0;
                timer.OnTimer(now);
            }
        }
        _due.Clear();
    }

    private void CollectDue(int bucket, long now)
    {
        var remaining = long.MaxValue;
        var timer = _heads[bucket];
        while (timer is not null)
        {
            var next = timer.Next;
            if (timer.Deadline <= now)
            {
                Unlink(timer);
                timer.Bucket = CollectedMark;
                _due.Add(timer);
            }
            else if (timer.Deadline < remaining)
            {
                remaining = timer.Deadline;
            }
            timer = next;
        }
        _bucketEarliest[bucket] = remaining;
    }

    private void Unlink(TimerEntry timer)
    {
        if (timer.Previous is null)
        {
            _heads[timer.Bucket] = timer.Next;
        }
        else
        {
            timer.Previous.Next = timer.Next;
        }
        if (timer.Next is not null)
        {
            timer.Next.Previous = timer.Previous;
        }
        timer.Previous = null;
        timer.Next = null;
        timer.Armed = false;
        Count--;
    }
}
