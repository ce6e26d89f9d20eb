using System.Runtime.CompilerServices;
using System.Threading.Channels;
using StreamGate.Stores;

namespace StreamGate.Tests.Runtime;

/// <summary>
/// A store in memory for tests of what reads a store: values are put as given (no validation, as a hand-edited
/// or older database holds them), every put takes the next revision and is delivered to the watch.
/// <see cref="FailNextWatch"/> makes the next watch throw, as a store in trouble does.
/// </summary>
internal sealed class MemoryConfigStore : IConfigStore
{
    private readonly Lock _lock = new();
    private readonly SortedDictionary<string, StoredValue> _items = new(StringComparer.Ordinal);
    private readonly List<StoreChange> _history = [];
    private readonly List<Channel<StoreChange>> _watchers = [];
    private long _revision;
    private int _failures;

    public long Revision => Interlocked.Read(ref _revision);

    /// <summary>How many watches were started (a watch that failed and was started again counts twice).</summary>
    public int Watches { get; private set; }

    public void FailNextWatch() => Interlocked.Increment(ref _failures);

    public long Put(string key, string value)
    {
        lock (_lock)
        {
            var revision = ++_revision;
            var create = _items.TryGetValue(key, out var old) ? old.CreateRevision : revision;
            _items[key] = new StoredValue(key, value, create, revision);
            Publish(new StoreChange(StoreChangeType.Put, key, value, create, revision));
            return revision;
        }
    }

    public long Delete(string key)
    {
        lock (_lock)
        {
            var revision = ++_revision;
            var old = _items[key];
            _items.Remove(key);
            Publish(new StoreChange(StoreChangeType.Delete, key, null, old.CreateRevision, revision));
            return revision;
        }
    }

    private void Publish(StoreChange change)
    {
        _history.Add(change);
        foreach (var watcher in _watchers)
        {
            watcher.Writer.TryWrite(change);
        }
    }

    public Task<StoreRange> RangeAsync(string prefix, CancellationToken cancellation = default)
    {
        lock (_lock)
        {
            return Task.FromResult(new StoreRange([.. _items.Values.Where(v => v.Key.StartsWith(prefix, StringComparison.Ordinal))], _revision));
        }
    }

    public Task<StoredValue?> GetAsync(string key, CancellationToken cancellation = default)
    {
        lock (_lock)
        {
            return Task.FromResult(_items.GetValueOrDefault(key));
        }
    }

    public Task<StoreWriteResult> PutAsync(string key, string value, long? expectedModRevision = null, CancellationToken cancellation = default) =>
        throw new NotSupportedException();

    public Task<StoreWriteResult> DeleteAsync(string key, long? expectedModRevision = null, CancellationToken cancellation = default) =>
        throw new NotSupportedException();

    public async IAsyncEnumerable<StoreChange> WatchAsync(string prefix, long afterRevision, [EnumeratorCancellation] CancellationToken cancellation)
    {
        var channel = Channel.CreateUnbounded<StoreChange>();
        lock (_lock)
        {
            Watches++;
            if (_failures > 0)
            {
                _failures--;
                throw new IOException("disk I/O error (injected)");
            }
            foreach (var change in _history.Where(c => c.Revision > afterRevision))
            {
                channel.Writer.TryWrite(change);
            }
            _watchers.Add(channel);
        }
        try
        {
            await foreach (var change in channel.Reader.ReadAllAsync(cancellation))
            {
                if (change.Key.StartsWith(prefix, StringComparison.Ordinal))
                {
                    yield return change;
                }
            }
        }
        finally
        {
            lock (_lock)
            {
                _watchers.Remove(channel);
            }
        }
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
