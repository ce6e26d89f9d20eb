namespace StreamGate.Stores;

/// <summary>
/// Where configuration lives, modelled on etcd v3 so the same contract serves the embedded SQLite store,
/// the standalone file and etcd: keys under a prefix (<c>/apisix/stream_routes/1</c>), one global revision
/// that every write increments, create/modify revisions per key, compare-and-swap on the modify revision,
/// and a watch that delivers every change after a given revision, in order.
/// </summary>
internal interface IConfigStore : IAsyncDisposable
{
    /// <summary>The revision of the latest write.</summary>
    long Revision { get; }

    /// <summary>Every key under <paramref name="prefix"/>, in key order, with the revision they were read at.</summary>
    Task<StoreRange> RangeAsync(string prefix, CancellationToken cancellation = default);

    Task<StoredValue?> GetAsync(string key, CancellationToken cancellation = default);

    /// <summary>
    /// Writes a key. <paramref name="expectedModRevision"/>: null writes unconditionally, 0 only if the key does
    /// not exist, n only if the key's modify revision is n; otherwise nothing is written and Succeeded is false.
    /// </summary>
    Task<StoreWriteResult> PutAsync(string key, string value, long? expectedModRevision = null, CancellationToken cancellation = default);

    /// <summary>Deletes a key, with the same compare rule as <see cref="PutAsync"/>. Deleting a missing key fails.</summary>
    Task<StoreWriteResult> DeleteAsync(string key, long? expectedModRevision = null, CancellationToken cancellation = default);

    /// <summary>
    /// Every change under <paramref name="prefix"/> with a revision above <paramref name="afterRevision"/>, in
    /// revision order, then live changes until cancelled. Throws <see cref="StoreCompactedException"/> when the
    /// history asked for is no longer kept; the caller then reads a fresh range and watches from its revision.
    /// </summary>
    IAsyncEnumerable<StoreChange> WatchAsync(string prefix, long afterRevision, CancellationToken cancellation);
}

internal sealed record StoredValue(string Key, string Value, long CreateRevision, long ModRevision);

internal sealed record StoreRange(IReadOnlyList<StoredValue> Items, long Revision);

internal enum StoreChangeType
{
    Put,
    Delete,
}

/// <summary>One change; for a delete, <see cref="Value"/> is null and <see cref="Revision"/> is the deletion's.</summary>
internal sealed record StoreChange(StoreChangeType Type, string Key, string? Value, long CreateRevision, long Revision);

internal sealed record StoreWriteResult(bool Succeeded, long Revision, StoredValue? Previous, StoredValue? Current);

internal sealed class StoreCompactedException(long compactedRevision)
    : Exception($"revision {compactedRevision} and older have been compacted")
{
    public long CompactedRevision { get; } = compactedRevision;
}
