using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Microsoft.Data.Sqlite;

namespace StreamGate.Stores.Sqlite;

/// <summary>
/// The embedded store: one SQLite file in WAL mode with synchronous=FULL, so a write is on disk before it is
/// acknowledged and survives kill -9 and power loss. Writes are accepted in order and committed by one writer
/// (like etcd's raft leader), many per transaction when they arrive together (group commit, one fsync); each
/// takes the next global revision and is appended to a change log that watchers replay.
/// </summary>
internal sealed class SqliteConfigStore : IConfigStore
{
    // Changes kept for watchers that fall behind; older ones are compacted away (etcd compacts too).
    private const long HistoryKept = 50_000;
    private const long CompactEvery = 1_000;

    private readonly SqliteConnection _connection;
    // Writes committed in one transaction at most: bounds the time a reader waits behind a commit.
    private const int MaxBatch = 512;

    // Guards the connection: SQLite connections are not thread-safe.
    private readonly Lock _db = new();

    // Guards the accepted-but-uncommitted writes, and orders acceptance.
    private readonly Lock _pendingLock = new();
    private readonly Dictionary<string, PendingWrite> _pending = new(StringComparer.Ordinal);
    private readonly Channel<PendingWrite> _queue = Channel.CreateUnbounded<PendingWrite>(new UnboundedChannelOptions { SingleReader = true });
    private Task _committer = Task.CompletedTask;
    private readonly List<Channel<StoreChange>> _watchers = [];
    private long _revision;
    private long _compacted;
    private bool _disposed;

    private SqliteConfigStore(SqliteConnection connection)
    {
        _connection = connection;
    }

    public long Revision => Volatile.Read(ref _revision);

    public string Path => _connection.DataSource;

    /// <summary>
    /// Opens the database and checks it is intact; creates it when there is no file. A new store is built under a
    /// temporary name and renamed into place whole, so a file at <paramref name="path"/> is always one this store
    /// wrote: an empty one (0 bytes) was truncated or replaced since, and is refused rather than started empty
    /// (which would also import deployment.sqlite.seed again over what the admin API had written).
    /// </summary>
    public static SqliteConfigStore Open(string path)
    {
        var fullPath = System.IO.Path.GetFullPath(path);
        var directory = System.IO.Path.GetDirectoryName(fullPath);
        if (!string.IsNullOrEmpty(directory))
        {
            Directory.CreateDirectory(directory);
        }
        if (!File.Exists(fullPath))
        {
            CreateNew(fullPath);
        }
        else if (new FileInfo(fullPath).Length == 0)
        {
            throw new InvalidOperationException(
                $"the store {fullPath} is an empty file (0 bytes). StreamGate creates a store whole, so this file was truncated or replaced after it was written; " +
                "restore it from a backup, or delete it to start with an empty store (deployment.sqlite.seed, if set, is then imported again)");
        }
        var connection = Connect(fullPath, SqliteOpenMode.ReadWrite);
        var store = new SqliteConfigStore(connection);
        try
        {
            store.Initialise();
        }
        catch
        {
            connection.Dispose();
            throw;
        }
        return store;
    }

    private static SqliteConnection Connect(string path, SqliteOpenMode mode)
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = mode,
            Pooling = false,
        }.ToString());
        connection.Open();
        return connection;
    }

    /// <summary>Builds an empty store at <c>path.creating</c> and renames it to <paramref name="path"/>.</summary>
    private static void CreateNew(string path)
    {
        var creating = path + ".creating";
        // Left by a start that died while creating: never renamed, so never used.
        foreach (var leftover in (string[])[creating, creating + "-wal", creating + "-shm", creating + "-journal"])
        {
            File.Delete(leftover);
        }
        // Closing the only connection checkpoints the WAL into the file and removes it, so the file is whole alone.
        using (var connection = Connect(creating, SqliteOpenMode.ReadWriteCreate))
        {
            var builder = new SqliteConfigStore(connection);
            builder.Execute("PRAGMA journal_mode=WAL");
            builder.Execute("PRAGMA synchronous=FULL");
            builder.CreateSchema();
        }
        File.Move(creating, path, overwrite: false);
    }

    private void Initialise()
    {
        Execute("PRAGMA journal_mode=WAL");
        Execute("PRAGMA synchronous=FULL");
        Execute("PRAGMA busy_timeout=5000");
        var check = Scalar("PRAGMA quick_check") as string;
        if (check != "ok")
        {
            throw new InvalidOperationException($"the database {Path} is damaged ({check}); restore it from a backup or move it away to start empty");
        }
        CreateSchema();
        _revision = Meta("revision");
        _compacted = Meta("compacted");
        _committer = Task.Run(CommitLoopAsync);
    }

    private void CreateSchema() =>
        Execute("""
                CREATE TABLE IF NOT EXISTS kv (
                    key TEXT PRIMARY KEY,
                    value TEXT NOT NULL,
                    create_revision INTEGER NOT NULL,
                    mod_revision INTEGER NOT NULL
                ) WITHOUT ROWID;
                CREATE TABLE IF NOT EXISTS changes (
                    revision INTEGER PRIMARY KEY,
                    key TEXT NOT NULL,
                    type INTEGER NOT NULL,
                    value TEXT,
                    create_revision INTEGER NOT NULL
                );
                CREATE TABLE IF NOT EXISTS meta (
                    name TEXT PRIMARY KEY,
                    value INTEGER NOT NULL
                ) WITHOUT ROWID;
                """);

    public async Task<StoreRange> RangeAsync(string prefix, CancellationToken cancellation = default)
    {
        await WaitForPendingAsync(prefix, exact: false, cancellation).ConfigureAwait(false);
        var items = new List<StoredValue>();
        lock (_db)
        {
            try
            {
                using var command = Command("SELECT key, value, create_revision, mod_revision FROM kv WHERE substr(key, 1, length($p)) = $p ORDER BY key", ("$p", prefix));
                using var reader = command.ExecuteReader();
                while (reader.Read())
                {
                    items.Add(new StoredValue(reader.GetString(0), reader.GetString(1), reader.GetInt64(2), reader.GetInt64(3)));
                }
                return new StoreRange(items, _revision);
            }
            catch (SqliteException e)
            {
                throw new StoreUnavailableException($"cannot read the store {Path}: {e.Message}", e);
            }
        }
    }

    public async Task<StoredValue?> GetAsync(string key, CancellationToken cancellation = default)
    {
        await WaitForPendingAsync(key, exact: true, cancellation).ConfigureAwait(false);
        lock (_db)
        {
            try
            {
                return Read(key);
            }
            catch (SqliteException e)
            {
                throw new StoreUnavailableException($"cannot read the store {Path}: {e.Message}", e);
            }
        }
    }

    /// <summary>
    /// Readers see committed writes only: a write accepted but not yet on disk has no revision yet and could still
    /// be lost, so a read of its key waits for its commit instead of showing it. Waiting for every write accepted
    /// before the read keeps read-your-writes (the admin API's reference checks rely on it); a write whose commit
    /// failed did not happen, and the committed state is the answer.
    /// </summary>
    private Task WaitForPendingAsync(string keyOrPrefix, bool exact, CancellationToken cancellation)
    {
        List<Task>? waits = null;
        lock (_pendingLock)
        {
            if (exact)
            {
                if (_pending.TryGetValue(keyOrPrefix, out var write))
                {
                    waits = [write.Completion.Task];
                }
            }
            else
            {
                foreach (var (key, write) in _pending)
                {
                    if (key.StartsWith(keyOrPrefix, StringComparison.Ordinal))
                    {
                        (waits ??= []).Add(write.Completion.Task);
                    }
                }
            }
        }
        return waits is null
            ? Task.CompletedTask
            : Task.WhenAll(waits).ContinueWith(static _ => { }, cancellation, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    /// <summary>The newest accepted value, a pending write's, else the committed one: what a new write is compared with.</summary>
    private StoredValue? CurrentValue(string key)
    {
        lock (_pendingLock)
        {
            if (_pending.TryGetValue(key, out var write))
            {
                return write.Value is null ? null : write.Placeholder;
            }
        }
        lock (_db)
        {
            return Read(key);
        }
    }

    public Task<StoreWriteResult> PutAsync(string key, string value, long? expectedModRevision = null, CancellationToken cancellation = default) =>
        Enqueue(key, value, expectedModRevision);

    public Task<StoreWriteResult> DeleteAsync(string key, long? expectedModRevision = null, CancellationToken cancellation = default) =>
        Enqueue(key, null, expectedModRevision);

    /// <summary>
    /// Accepts a write in order: the compare is decided now, against the newest accepted state; readers of its key
    /// wait for its commit. The returned task completes when the write is on disk.
    /// Writes that arrive while a commit is in progress go to disk together in the next transaction (group
    /// commit): one fsync for many writes when many clients write at once.
    /// </summary>
    private Task<StoreWriteResult> Enqueue(string key, string? value, long? expected)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        lock (_pendingLock)
        {
            var previous = CurrentValue(key);
            var allowed = expected switch
            {
                null => value is not null || previous is not null,
                0 => previous is null,
                _ => previous is not null && previous.ModRevision == expected,
            };
            if (!allowed)
            {
                return Task.FromResult(new StoreWriteResult(false, Revision, previous, previous));
            }
            var write = new PendingWrite(key, value, previous);
            _pending.TryGetValue(key, out var replaced);
            _pending[key] = write;
            if (!_queue.Writer.TryWrite(write))
            {
                // Disposed meanwhile: the committer is gone, so the write would never complete.
                if (replaced is null)
                {
                    _pending.Remove(key);
                }
                else
                {
                    _pending[key] = replaced;
                }
                throw new ObjectDisposedException(nameof(SqliteConfigStore));
            }
            return write.Completion.Task;
        }
    }

    private async Task CommitLoopAsync()
    {
        var batch = new List<PendingWrite>();
        while (await _queue.Reader.WaitToReadAsync().ConfigureAwait(false))
        {
            batch.Clear();
            while (batch.Count < MaxBatch && _queue.Reader.TryRead(out var write))
            {
                batch.Add(write);
            }
            try
            {
                Commit(batch);
            }
            catch (StoreUnavailableException e)
            {
                lock (_pendingLock)
                {
                    foreach (var write in batch)
                    {
                        if (_pending.TryGetValue(write.Key, out var current) && current == write)
                        {
                            _pending.Remove(write.Key);
                        }
                    }
                }
                foreach (var write in batch)
                {
                    write.Completion.TrySetException(e);
                }
                continue;
            }
        }
    }

    private void Commit(List<PendingWrite> batch)
    {
        var results = new StoreWriteResult[batch.Count];
        var changes = new StoreChange[batch.Count];
        lock (_db)
        {
            SqliteTransaction? transaction = null;
            var revision = _revision;
            try
            {
                transaction = _connection.BeginTransaction(deferred: false);
                revision = Write(batch, transaction, results, changes);
                transaction.Commit();
            }
            catch (Exception e) when (e is SqliteException or InvalidOperationException or IOException)
            {
                // Nothing of the batch happened: SQLite rolls the transaction back (itself already, on a full disk or
                // an I/O error), and the revision stays where it was.
                throw new StoreUnavailableException($"cannot write to the store {Path}: {e.Message}", e);
            }
            finally
            {
                Abandon(transaction);
            }
            if (revision / CompactEvery != _revision / CompactEvery && revision > HistoryKept)
            {
                _compacted = revision - HistoryKept;
            }
            Volatile.Write(ref _revision, revision);
            // Published under the database lock, so a watcher reading history under the same lock misses nothing.
            foreach (var change in changes)
            {
                Publish(change);
            }
        }
        lock (_pendingLock)
        {
            foreach (var write in batch)
            {
                if (_pending.TryGetValue(write.Key, out var current) && current == write)
                {
                    _pending.Remove(write.Key);
                }
            }
        }
        for (var i = 0; i < batch.Count; i++)
        {
            batch[i].Completion.TrySetResult(results[i]);
        }
    }

    /// <summary>Disposes a transaction that may have failed half-way; rolls it back unless it committed.</summary>
    private static void Abandon(SqliteTransaction? transaction)
    {
        try
        {
            transaction?.Dispose();
        }
        catch (SqliteException)
        {
            // "cannot rollback - no transaction is active": SQLite rolled it back itself (full disk, I/O error).
        }
    }

    /// <summary>Applies a batch inside <paramref name="transaction"/>; returns the revision of its last write.</summary>
    private long Write(List<PendingWrite> batch, SqliteTransaction transaction, StoreWriteResult[] results, StoreChange[] changes)
    {
        var revision = _revision;
        for (var i = 0; i < batch.Count; i++)
        {
            var write = batch[i];
            // Within the transaction, earlier writes of this batch are already applied.
            var committed = Read(write.Key, transaction);
            revision++;
            StoredValue? current = null;
            var createRevision = committed?.CreateRevision ?? revision;
            if (write.Value is not null)
            {
                current = new StoredValue(write.Key, write.Value, createRevision, revision);
                Execute(
                    "INSERT INTO kv(key, value, create_revision, mod_revision) VALUES($k, $v, $c, $m) ON CONFLICT(key) DO UPDATE SET value = $v, mod_revision = $m",
                    transaction, ("$k", write.Key), ("$v", write.Value), ("$c", createRevision), ("$m", revision));
            }
            else
            {
                Execute("DELETE FROM kv WHERE key = $k", transaction, ("$k", write.Key));
            }
            Execute(
                "INSERT INTO changes(revision, key, type, value, create_revision) VALUES($r, $k, $t, $v, $c)",
                transaction, ("$r", revision), ("$k", write.Key), ("$t", write.Value is null ? 1 : 0), ("$v", (object?)write.Value ?? DBNull.Value), ("$c", createRevision));
            results[i] = new StoreWriteResult(true, revision, write.Previous, current);
            changes[i] = new StoreChange(write.Value is null ? StoreChangeType.Delete : StoreChangeType.Put, write.Key, write.Value, createRevision, revision);
        }
        SetMeta("revision", revision, transaction);
        if (revision / CompactEvery != _revision / CompactEvery && revision > HistoryKept)
        {
            Execute("DELETE FROM changes WHERE revision <= $r", transaction, ("$r", revision - HistoryKept));
            SetMeta("compacted", revision - HistoryKept, transaction);
        }
        return revision;
    }

    /// <summary>A write accepted, waiting for its transaction; it decides the compare of the writes after it.</summary>
    private sealed class PendingWrite(string key, string? value, StoredValue? previous)
    {
        public string Key { get; } = key;

        /// <summary>Null for a delete.</summary>
        public string? Value { get; } = value;

        public StoredValue? Previous { get; } = previous;

        /// <summary>What later writes are compared with until the commit assigns revisions (0: not yet committed).</summary>
        public StoredValue Placeholder => new(Key, Value ?? "", Previous?.CreateRevision ?? 0, 0);

        public TaskCompletionSource<StoreWriteResult> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    public async IAsyncEnumerable<StoreChange> WatchAsync(string prefix, long afterRevision, [EnumeratorCancellation] CancellationToken cancellation)
    {
        var channel = Channel.CreateUnbounded<StoreChange>(new UnboundedChannelOptions { SingleReader = true });
        List<StoreChange> history;
        lock (_db)
        {
            if (afterRevision < _compacted)
            {
                throw new StoreCompactedException(_compacted);
            }
            history = ReadHistory(prefix, afterRevision);
            lock (_watchers)
            {
                _watchers.Add(channel);
            }
        }
        await Task.Yield();
        try
        {
            foreach (var change in history)
            {
                yield return change;
            }
            await foreach (var change in channel.Reader.ReadAllAsync(cancellation).ConfigureAwait(false))
            {
                if (change.Key.StartsWith(prefix, StringComparison.Ordinal))
                {
                    yield return change;
                }
            }
        }
        finally
        {
            lock (_watchers)
            {
                _watchers.Remove(channel);
            }
        }
    }

    private List<StoreChange> ReadHistory(string prefix, long afterRevision)
    {
        using var command = Command(
            "SELECT revision, key, type, value, create_revision FROM changes WHERE revision > $r AND substr(key, 1, length($p)) = $p ORDER BY revision",
            ("$r", afterRevision), ("$p", prefix));
        using var reader = command.ExecuteReader();
        var changes = new List<StoreChange>();
        while (reader.Read())
        {
            changes.Add(new StoreChange(
                reader.GetInt64(2) == 1 ? StoreChangeType.Delete : StoreChangeType.Put,
                reader.GetString(1),
                reader.IsDBNull(3) ? null : reader.GetString(3),
                reader.GetInt64(4),
                reader.GetInt64(0)));
        }
        return changes;
    }

    private void Publish(StoreChange change)
    {
        lock (_watchers)
        {
            foreach (var watcher in _watchers)
            {
                watcher.Writer.TryWrite(change);
            }
        }
    }

    private StoredValue? Read(string key, SqliteTransaction? transaction = null)
    {
        using var command = Command("SELECT value, create_revision, mod_revision FROM kv WHERE key = $k", ("$k", key));
        command.Transaction = transaction;
        using var reader = command.ExecuteReader();
        return reader.Read() ? new StoredValue(key, reader.GetString(0), reader.GetInt64(1), reader.GetInt64(2)) : null;
    }

    private long Meta(string name) => Scalar("SELECT value FROM meta WHERE name = $n", ("$n", name)) is long value ? value : 0;

    private void SetMeta(string name, long value, SqliteTransaction transaction) =>
        Execute("INSERT INTO meta(name, value) VALUES($n, $v) ON CONFLICT(name) DO UPDATE SET value = $v", transaction, ("$n", name), ("$v", value));

    private SqliteCommand Command(string sql, params (string Name, object? Value)[] parameters)
    {
        var command = _connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }
        return command;
    }

    private void Execute(string sql, params (string Name, object? Value)[] parameters) => Execute(sql, null, parameters);

    private void Execute(string sql, SqliteTransaction? transaction, params (string Name, object? Value)[] parameters)
    {
        using var command = Command(sql, parameters);
        command.Transaction = transaction;
        command.ExecuteNonQuery();
    }

    private object? Scalar(string sql, params (string Name, object? Value)[] parameters)
    {
        using var command = Command(sql, parameters);
        return command.ExecuteScalar();
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        // Accepted writes are committed before the connection closes.
        _queue.Writer.TryComplete();
        await _committer.ConfigureAwait(false);
        lock (_db)
        {
            lock (_watchers)
            {
                foreach (var watcher in _watchers)
                {
                    watcher.Writer.TryComplete();
                }
            }
            _connection.Dispose();
        }
    }
}
