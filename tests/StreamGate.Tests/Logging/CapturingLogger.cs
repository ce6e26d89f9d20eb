using Microsoft.Extensions.Logging;

namespace StreamGate.Tests.Logging;

/// <summary>An ILogger that keeps every entry, with the thread that logged it, so tests can assert on both.</summary>
internal sealed class CapturingLogger : ILogger
{
    private readonly Lock _lock = new();
    private readonly List<Entry> _entries = [];

    public IReadOnlyList<Entry> Entries
    {
        get
        {
            lock (_lock)
            {
                return [.. _entries];
            }
        }
    }

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        var values = state as IReadOnlyList<KeyValuePair<string, object?>> ?? [];
        lock (_lock)
        {
            _entries.Add(new Entry(logLevel, eventId.Id, formatter(state, exception), values, Thread.CurrentThread.Name));
        }
    }

    public bool IsEnabled(LogLevel logLevel) => true;

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    /// <summary>Waits until an entry with <paramref name="eventId"/> was logged.</summary>
    public async Task<Entry> WaitForAsync(int eventId, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            foreach (var entry in Entries)
            {
                if (entry.EventId == eventId)
                {
                    return entry;
                }
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"no log entry {eventId} within {timeout}; got: {string.Join(" | ", Entries.Select(e => e.Message))}");
            }
            await Task.Delay(10);
        }
    }

    internal sealed record Entry(LogLevel Level, int EventId, string Message, IReadOnlyList<KeyValuePair<string, object?>> Values, string? Thread)
    {
        public object? this[string name] => Values.First(v => v.Key == name).Value;
    }
}
