using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Microsoft.Data.Sqlite;

namespace StreamGate.Stores.Sqlite;

/// <summary>
/// The embedded store: one SQLite file in WAL mode with synchronous=FULL, so a write is on disk before it is
/// acknowledged and survives kill -9 and power loss. Writes are serialised (one writer at a time, like etcd's
/// raft leader); each takes the next global revision and is appended to a change log that watchers replay.
/// </summary>
internal sealed class SqliteConfigStore : IConfigStore
{
    // Changes kept for watchers that fall behind; older ones are compacted away (etcd compacts too).
    private const long HistoryKept = 50_000;
    private const long CompactEvery = 1_000;

    private readonly SqliteConnection _connection;
    private readonly SemaphoreSlim _lock = new(1, 1);
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

    /// <summary>Opens (creating if needed) the database and checks it is intact.</summary>
    public static SqliteConfigStore Open(string path)
    {
        var directory = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(directory))
        {
            Directory.CreateDirectory(directory);
        }
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = false,
        }.ToString());
        connection.Open();
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
        _revision = Meta("revision");
        _compacted = Meta("compacted");
    }

    public async Task<StoreRange> RangeAsync(string prefix, CancellationToken cancellation = default)
    {
        await _lock.WaitAsync(cancellation).ConfigureAwait(false);
        try
        {
            using var command = Command("SELECT key, value, create_revision, mod_revision FROM kv WHERE substr(key, 1, length($p)) = $p ORDER BY key", ("$p", prefix));
            using var reader = command.ExecuteReader();
            var items = new List<StoredValue>();
            while (reader.Read())
            {
                items.Add(new StoredValue(reader.GetString(0), reader.GetString(1), reader.GetInt64(2), reader.GetInt64(3)));
            }
            return new StoreRange(items, _revision);
        }
        finally
        {
            _lock.Release();
        }
    }

    public async Task<StoredValue?> GetAsync(string key, CancellationToken cancellation = default)
    {
        await _lock.WaitAsync(cancellation).ConfigureAwait(false);
        try
        {
            return Read(key);
        }
        finally
        {
            _lock.Release();
        }
    }

    public Task<StoreWriteResult> PutAsync(string key, string value, long? expectedModRevision = null, CancellationToken cancellation = default) =>
        WriteAsync(key, value, expectedModRevision, cancellation);

    public Task<StoreWriteResult> DeleteAsync(string key, long? expectedModRevision = null, CancellationToken cancellation = default) =>
        WriteAsync(key, null, expectedModRevision, cancellation);

    private async Task<StoreWriteResult> WriteAsync(string key, string? value, long? expected, CancellationToken cancellation)
    {
        await _lock.WaitAsync(cancellation).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            using var transaction = _connection.BeginTransaction(deferred: false);
            var previous = Read(key);
            var allowed = expected switch
            {
                null => value is not null || previous is not null,
                0 => previous is null,
                _ => previous is not null && previous.ModRevision == expected,
            };
            if (!allowed)
            {
                return new StoreWriteResult(false, _revision, previous, previous);
            }
            var revision = _revision + 1;
            StoredValue? current = null;
            if (value is not null)
            {
                current = new StoredValue(key, value, previous?.CreateRevision ?? revision, revision);
                Execute(
                    "INSERT INTO kv(key, value, create_revision, mod_revision) VALUES($k, $v, $c, $m) ON CONFLICT(key) DO UPDATE SET value = $v, mod_revision = $m",
                    transaction, ("$k", key), ("$v", value), ("$c", current.CreateRevision), ("$m", revision));
            }
            else
            {
                Execute("DELETE FROM kv WHERE key = $k", transaction, ("$k", key));
            }
            Execute(
                "INSERT INTO changes(revision, key, type, value, create_revision) VALUES($r, $k, $t, $v, $c)",
                transaction, ("$r", revision), ("$k", key), ("$t", value is null ? 1 : 0), ("$v", (object?)value ?? DBNull.Value), ("$c", current?.CreateRevision ?? previous!.CreateRevision));
            SetMeta("revision", revision, transaction);
            if (revision % CompactEvery == 0 && revision > HistoryKept)
            {
                Execute("DELETE FROM changes WHERE revision <= $r", transaction, ("$r", revision - HistoryKept));
                SetMeta("compacted", revision - HistoryKept, transaction);
                _compacted = revision - HistoryKept;
            }
            transaction.Commit();
            Volatile.Write(ref _revision, revision);
            // Published under the lock, so a watcher reading history under the same lock misses nothing.
            Publish(new StoreChange(value is null ? StoreChangeType.Delete : StoreChangeType.Put, key, value, current?.CreateRevision ?? previous!.CreateRevision, revision));
            return new StoreWriteResult(true, revision, previous, current);
        }
        finally
        {
            _lock.Release();
        }
    }

    public async IAsyncEnumerable<StoreChange> WatchAsync(string prefix, long afterRevision, [EnumeratorCancellation] CancellationToken cancellation)
    {
        var channel = Channel.CreateUnbounded<StoreChange>(new UnboundedChannelOptions { SingleReader = true });
        List<StoreChange> history;
        await _lock.WaitAsync(cancellation).ConfigureAwait(false);
        try
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
        finally
        {
            _lock.Release();
        }
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

    private StoredValue? Read(string key)
    {
        using var command = Command("SELECT value, create_revision, mod_revision FROM kv WHERE key = $k", ("$k", key));
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
        await _lock.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_disposed)
            {
                return;
            }
            _disposed = true;
            lock (_watchers)
            {
                foreach (var watcher in _watchers)
                {
                    watcher.Writer.TryComplete();
                }
            }
            await _connection.DisposeAsync().ConfigureAwait(false);
        }
        finally
        {
            _lock.Release();
        }
    }
}
