using System.Net;
using System.Net.Sockets;

namespace StreamGate.Runtime;

/// <summary>
/// /etc/hosts, read before any DNS query as glibc's "files dns" order does: a name listed there resolves without
/// a query. The file is parsed again only when its modification time or size changes (one stat per look).
/// </summary>
internal sealed class HostsFile
{
    private readonly string _path;
    private (long Ticks, long Length)? _stamp;
    private Dictionary<string, IPAddress> _names = new(StringComparer.OrdinalIgnoreCase);

    public HostsFile(string path) => _path = path;

    /// <summary>Reads the file again if it changed since the last look; true when what it says changed.</summary>
    public bool Refresh()
    {
        (long, long)? stamp;
        try
        {
            var info = new FileInfo(_path);
            stamp = info.Exists ? (info.LastWriteTimeUtc.Ticks, info.Length) : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            stamp = null;
        }
        if (stamp == _stamp)
        {
            return false;
        }
        _stamp = stamp;
        Dictionary<string, IPAddress> names;
        try
        {
            names = stamp is null ? new(StringComparer.OrdinalIgnoreCase) : Parse(File.ReadAllText(_path));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Unreadable now: as if empty, and read again once it changes.
            names = new(StringComparer.OrdinalIgnoreCase);
        }
        var changed = names.Count != _names.Count || names.Any(n => !_names.TryGetValue(n.Key, out var old) || !old.Equals(n.Value));
        _names = names;
        return changed;
    }

    /// <summary>The name's address in the file (as of the last <see cref="Refresh"/>), or null when it is not listed.</summary>
    public IPAddress? Lookup(string name) => _names.GetValueOrDefault(name.EndsWith('.') ? name[..^1] : name);

    /// <summary>
    /// "address name [aliases...]" per line, <c>#</c> to the end of a line a comment. A name gets the first IPv4
    /// address listed for it, else the first IPv6, as the resolver prefers IPv4 for DNS answers too.
    /// </summary>
    public static Dictionary<string, IPAddress> Parse(string text)
    {
        var names = new Dictionary<string, IPAddress>(StringComparer.OrdinalIgnoreCase);
        foreach (var raw in text.Split('\n'))
        {
            var hash = raw.IndexOf('#', StringComparison.Ordinal);
            var line = hash < 0 ? raw : raw[..hash];
            var fields = line.Split([' ', '\t', '\r'], StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length < 2 || !IPAddress.TryParse(fields[0], out var address))
            {
                continue;
            }
            for (var i = 1; i < fields.Length; i++)
            {
                var name = fields[i].EndsWith('.') ? fields[i][..^1] : fields[i];
                if (!names.TryGetValue(name, out var first) ||
                    (first.AddressFamily == AddressFamily.InterNetworkV6 && address.AddressFamily == AddressFamily.InterNetwork))
                {
                    names[name] = address;
                }
            }
        }
        return names;
    }
}
