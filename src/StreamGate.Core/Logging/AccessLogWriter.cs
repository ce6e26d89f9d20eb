using System.Text;
using System.Threading.Channels;

namespace StreamGate.Logging;

/// <summary>
/// Writes access-log lines from a queue on a background task, so an event loop never blocks on disk.
/// Lines are flushed whenever the queue runs empty: a line is on disk shortly after its connection ends.
/// </summary>
internal sealed class AccessLogWriter : IAsyncDisposable
{
    private readonly Channel<string> _lines = Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Stream _stream;
    private readonly Task _pump;

    public AccessLogWriter(string path, AccessLogFormat format)
    {
        Format = format;
        if (path is "stdout" or "/dev/stdout")
        {
            _stream = Console.OpenStandardOutput();
        }
        else
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path)) ?? ".");
            _stream = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
        }
        _pump = Task.Run(PumpAsync);
    }

    public AccessLogFormat Format { get; }

    public void Write(in AccessLogRecord record) => _lines.Writer.TryWrite(Format.Format(record));

    private async Task PumpAsync()
    {
        await using var writer = new StreamWriter(_stream, new UTF8Encoding(false), 64 * 1024);
        var reader = _lines.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            while (reader.TryRead(out var line))
            {
                await writer.WriteLineAsync(line).ConfigureAwait(false);
            }
            await writer.FlushAsync().ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _lines.Writer.TryComplete();
        await _pump.ConfigureAwait(false);
    }
}
