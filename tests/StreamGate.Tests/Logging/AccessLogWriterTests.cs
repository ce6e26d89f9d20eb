using System.Diagnostics;
using System.Text;
using StreamGate.Logging;
using static StreamGate.Tests.TestData;

namespace StreamGate.Tests.Logging;

/// <summary>The writer against real files and a real pipe: appending after truncation, reopening, dropping when blocked.</summary>
public sealed class AccessLogWriterTests : IDisposable
{
    private const int TestTimeoutMs = 60_000;
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    private readonly string _directory = Path.Combine(Path.GetTempPath(), "streamgate-log-" + Guid.NewGuid().ToString("N")[..12]);
    private readonly CapturingLogger _logger = new();

    public AccessLogWriterTests() => Directory.CreateDirectory(_directory);

    private string LogPath => Path.Combine(_directory, "access.log");

    private static AccessLogRecord Record(long connection)
    {
        var record = AccessLogFormatTests.Record();
        record.ServerAddress = Ip("2001:db8::1");
        record.ConnectionNumber = connection;
        return record;
    }

    private AccessLogWriter Writer(string format = "line $connection") => new(LogPath, new AccessLogFormat(format), _logger);

    private static void Log(AccessLogBuffer buffer, long connection)
    {
        buffer.Append(Record(connection));
        buffer.Flush();
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task Lines_land_at_the_end_of_a_file_truncated_under_the_writer()
    {
        await using var writer = Writer();
        var buffer = writer.CreateLoopBuffer();
        Log(buffer, 1);
        await WaitForFileAsync(LogPath, "line 1\n");

        // What logrotate's copytruncate does after copying: the file is cut to 0 while the writer holds it open.
        using (var file = new FileStream(LogPath, FileMode.Open, FileAccess.Write, FileShare.ReadWrite))
        {
            file.SetLength(0);
        }
        Log(buffer, 2);

        // With O_APPEND the next line starts at offset 0; at the writer's old offset it would follow 7 NUL bytes.
        await WaitForFileAsync(LogPath, "line 2\n");
        Assert.DoesNotContain((byte)0, await File.ReadAllBytesAsync(LogPath));
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task An_existing_file_is_appended_to_not_overwritten()
    {
        await File.WriteAllTextAsync(LogPath, "earlier\n");
        await using var writer = Writer();
        Log(writer.CreateLoopBuffer(), 1);
        await WaitForFileAsync(LogPath, "earlier\nline 1\n");
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task Reopen_after_rename_writes_to_a_new_file()
    {
        await using var writer = Writer();
        var buffer = writer.CreateLoopBuffer();
        Log(buffer, 1);
        await WaitForFileAsync(LogPath, "line 1\n");

        File.Move(LogPath, LogPath + ".1");
        writer.Reopen();
        Log(buffer, 2);

        await WaitForFileAsync(LogPath, "line 2\n");
        Assert.Equal("line 1\n", await File.ReadAllTextAsync(LogPath + ".1"));
        var reopened = await _logger.WaitForAsync(302, Wait);
        Assert.Equal("streamgate-access-log", reopened.Thread);
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task A_failed_reopen_keeps_writing_to_the_old_file()
    {
        var folder = Path.Combine(_directory, "logs");
        var path = Path.Combine(folder, "access.log");
        await using var writer = new AccessLogWriter(path, new AccessLogFormat("line $connection"), _logger);
        var buffer = writer.CreateLoopBuffer();
        Log(buffer, 1);
        await WaitForFileAsync(path, "line 1\n");

        // The folder is gone, so the path cannot be opened again; the open descriptor still works.
        Directory.Move(folder, folder + ".old");
        writer.Reopen();
        Log(buffer, 2);

        await WaitForFileAsync(Path.Combine(folder + ".old", "access.log"), "line 1\nline 2\n");
        var failed = await _logger.WaitForAsync(303, Wait);
        Assert.Contains(path, failed.Message, StringComparison.Ordinal);
        Assert.Equal(0, writer.DroppedLines);
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task A_long_line_is_written_whole()
    {
        var literal = new string('x', 5000);
        await using var writer = Writer("$connection " + literal);
        var buffer = writer.CreateLoopBuffer();
        buffer.Append(Record(1));
        buffer.Append(Record(2));
        buffer.Flush();
        await WaitForFileAsync(LogPath, $"1 {literal}\n2 {literal}\n");
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task A_line_longer_than_the_ring_is_dropped_and_counted()
    {
        await using var writer = Writer("$connection " + new string('x', AccessLogWriter.RingSize));
        var buffer = writer.CreateLoopBuffer();
        buffer.Append(Record(1));
        buffer.Flush();
        Assert.Equal(1, writer.DroppedLines);
    }

    [Theory(Timeout = TestTimeoutMs)]
    [InlineData(100)]
    [InlineData(200_000)]
    public async Task Lines_wrap_around_the_ring_in_order_each_written_or_counted(int linesPerTurn)
    {
        // 200 000 lines of 12-13 bytes: the ring (1 MiB) wraps more than twice. With one turn of all of them,
        // the ring fills before the writer can free any of it, so some are dropped; none is torn or reordered.
        const int Total = 200_000;
        var writer = Writer("line $connection");
        var buffer = writer.CreateLoopBuffer();
        for (var i = 0; i < Total; i++)
        {
            buffer.Append(Record(i));
            if ((i + 1) % linesPerTurn == 0)
            {
                buffer.Flush();
            }
        }
        buffer.Flush();
        await writer.DisposeAsync().AsTask().WaitAsync(Wait);

        var lines = await File.ReadAllLinesAsync(LogPath);
        Assert.Equal(Total, lines.Length + writer.DroppedLines);
        var previous = -1L;
        foreach (var line in lines)
        {
            Assert.StartsWith("line ", line, StringComparison.Ordinal);
            var number = long.Parse(line.AsSpan(5), System.Globalization.CultureInfo.InvariantCulture);
            Assert.True(number > previous, $"{number} after {previous}");
            previous = number;
        }
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task Disposing_writes_everything_handed_over()
    {
        var writer = Writer();
        var buffer = writer.CreateLoopBuffer();
        for (var i = 0; i < 1000; i++)
        {
            Log(buffer, i);
        }
        await writer.DisposeAsync().AsTask().WaitAsync(Wait);
        Assert.Equal(1000, (await File.ReadAllLinesAsync(LogPath)).Length);
        Assert.Equal(0, writer.DroppedLines);
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task A_blocked_output_drops_and_counts_lines_instead_of_queueing_them()
    {
        var fifo = Path.Combine(_directory, "pipe");
        using (var mkfifo = Process.Start("mkfifo", fifo))
        {
            await mkfifo.WaitForExitAsync().WaitAsync(Wait);
            Assert.Equal(0, mkfifo.ExitCode);
        }
        // Both ends' open() wait for each other; the reader then reads nothing until the end of the test,
        // so once the pipe is full the writer thread is stuck in write(2).
        var opening = Task.Run(() => new FileStream(fifo, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1));
        var writer = await Task.Run(() => new AccessLogWriter(fifo, new AccessLogFormat("$connection $remote_addr $server_addr $upstream_addr"), _logger)).WaitAsync(Wait);
        await using var reader = await opening.WaitAsync(Wait);
        var buffer = writer.CreateLoopBuffer();

        long appended = 0;
        void Turn()
        {
            for (var i = 0; i < 100; i++)
            {
                buffer.Append(Record(appended++));
            }
            buffer.Flush();
        }
        while (writer.DroppedLines == 0)
        {
            Turn();
        }
        // Far more than the pipe and the ring hold (~20 MB): an unbounded queue would keep all of it.
        for (var i = 0; i < 4000; i++)
        {
            Turn();
        }
        Assert.True(writer.DroppedLines > 0);

        var draining = Task.Run(async () =>
        {
            var lines = 0L;
            var bytes = 0L;
            var chunk = new byte[64 * 1024];
            int n;
            while ((n = await reader.ReadAsync(chunk)) > 0)
            {
                bytes += n;
                lines += chunk.AsSpan(0, n).Count((byte)'\n');
            }
            return (lines, bytes);
        });
        await writer.DisposeAsync().AsTask().WaitAsync(Wait);
        var (written, writtenBytes) = await draining.WaitAsync(Wait);

        // Every line is either written whole or counted as dropped.
        Assert.Equal(appended, written + writer.DroppedLines);
        // What waited is bounded: the pipe (at most 1 MiB, Linux's pipe-max-size) plus the loop's ring.
        Assert.True(writtenBytes <= (1 << 20) + AccessLogWriter.RingSize, $"{writtenBytes} bytes written");
        // The drops are reported by the writer thread, rate-limited, and the reports add up to the count.
        var warnings = _logger.Entries.Where(e => e.EventId == 300).ToList();
        Assert.NotEmpty(warnings);
        Assert.All(warnings, w => Assert.Equal("streamgate-access-log", w.Thread));
        Assert.Equal(writer.DroppedLines, warnings.Sum(w => (long)w["Dropped"]!));
    }

    [Fact]
    public async Task Appending_a_record_allocates_nothing()
    {
        await using var writer = Writer(string.Join(" ", AccessLogFormat.KnownVariables.Select(v => "$" + v)));
        var buffer = writer.CreateLoopBuffer();
        var record = Record(1);
        for (var i = 0; i < 1000; i++)
        {
            record.EndUnixMs += 7;
            buffer.Append(record);
            if (i % 100 == 0)
            {
                buffer.Flush();
            }
        }
        buffer.Flush();

        // Only the appends are measured: Flush may wake the writer through SemaphoreSlim.Release, whose monitor
        // can allocate once when it first meets contention (a CI run saw 7,696 bytes there, once per process).
        long allocated = 0;
        for (var turn = 0; turn < 50; turn++)
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            for (var i = 0; i < 100; i++)
            {
                // 7 ms apart: the time cache crosses a second every ~140 records.
                record.EndUnixMs += 7;
                record.ConnectionNumber++;
                buffer.Append(record);
            }
            allocated += GC.GetAllocatedBytesForCurrentThread() - before;
            buffer.Flush();
        }
        Assert.Equal(0, allocated);
    }

    private static async Task WaitForFileAsync(string path, string expected)
    {
        var deadline = DateTime.UtcNow + Wait;
        var content = "";
        while (DateTime.UtcNow < deadline)
        {
            content = File.Exists(path) ? await File.ReadAllTextAsync(path) : "";
            if (content == expected)
            {
                return;
            }
            await Task.Delay(10);
        }
        Assert.Equal(expected, content);
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
