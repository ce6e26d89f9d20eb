using System.Text;

namespace StreamGate.Tests.Proxy.Protocols;

/// <summary>
/// Builds ClientHellos field by field for the cases real clients never send, and re-cuts any hello into other
/// records. Lengths are computed unless a test sets the raw bytes itself.
/// </summary>
internal sealed class HelloBuilder
{
    public ushort RecordVersion { get; set; } = 0x0301;

    public ushort LegacyVersion { get; set; } = 0x0303;

    public byte[] SessionId { get; set; } = new byte[32];

    /// <summary>The cipher_suites vector's content (TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384).</summary>
    public byte[] CipherSuites { get; set; } = [0x13, 0x01, 0x13, 0x02];

    public byte[] Compression { get; set; } = [0];

    /// <summary>The extensions in order; null sends no extensions block at all (TLS 1.2 and older allow it).</summary>
    public List<(int Type, byte[] Data)>? Extensions { get; set; } = [];

    public HelloBuilder Extension(int type, byte[] data)
    {
        (Extensions ??= []).Add((type, data));
        return this;
    }

    public HelloBuilder ServerName(string name) => Extension(0, ServerNameList((0, Encoding.Latin1.GetBytes(name))));

    public HelloBuilder Alpn(params string[] protocols) => Extension(16, AlpnList(protocols.Select(Encoding.Latin1.GetBytes).ToArray()));

    public HelloBuilder Versions(params ushort[] versions)
    {
        var list = new List<byte> { (byte)(versions.Length * 2) };
        foreach (var v in versions)
        {
            list.AddRange(U16(v));
        }
        return Extension(43, [.. list]);
    }

    /// <summary>server_name extension data: a ServerNameList of (name_type, name) entries.</summary>
    public static byte[] ServerNameList(params (byte Type, byte[] Name)[] entries)
    {
        var list = new List<byte>();
        foreach (var (type, name) in entries)
        {
            list.Add(type);
            list.AddRange(U16(name.Length));
            list.AddRange(name);
        }
        return [.. U16(list.Count), .. list];
    }

    /// <summary>ALPN extension data: a ProtocolNameList.</summary>
    public static byte[] AlpnList(params byte[][] protocols)
    {
        var list = new List<byte>();
        foreach (var p in protocols)
        {
            list.Add((byte)p.Length);
            list.AddRange(p);
        }
        return [.. U16(list.Count), .. list];
    }

    /// <summary>The handshake message: type 1, 24-bit length, body.</summary>
    public byte[] Message()
    {
        var body = new List<byte>();
        body.AddRange(U16(LegacyVersion));
        body.AddRange(Enumerable.Range(0, 32).Select(i => (byte)i));
        body.Add((byte)SessionId.Length);
        body.AddRange(SessionId);
        body.AddRange(U16(CipherSuites.Length));
        body.AddRange(CipherSuites);
        body.Add((byte)Compression.Length);
        body.AddRange(Compression);
        if (Extensions is not null)
        {
            var extensions = new List<byte>();
            foreach (var (type, data) in Extensions)
            {
                extensions.AddRange(U16(type));
                extensions.AddRange(U16(data.Length));
                extensions.AddRange(data);
            }
            body.AddRange(U16(extensions.Count));
            body.AddRange(extensions);
        }
        return [1, .. U24(body.Count), .. body];
    }

    /// <summary>The hello in records of the given payload sizes (the last one takes the rest), or in one record.</summary>
    public byte[] Build(params int[] fragments) => Records(Message(), RecordVersion, fragments);

    public static byte[] Records(byte[] message, ushort recordVersion, params int[] fragments)
    {
        var output = new List<byte>();
        var offset = 0;
        var i = 0;
        while (offset < message.Length)
        {
            var size = i < fragments.Length ? Math.Min(fragments[i], message.Length - offset) : message.Length - offset;
            output.Add(22);
            output.AddRange(U16(recordVersion));
            output.AddRange(U16(size));
            output.AddRange(message.AsSpan(offset, size).ToArray());
            offset += size;
            i++;
        }
        return [.. output];
    }

    /// <summary>The handshake bytes of a chain of handshake records (their headers dropped), up to the first non-handshake record.</summary>
    public static byte[] Unwrap(byte[] records)
    {
        var message = new List<byte>();
        var p = 0;
        while (p + 5 <= records.Length && records[p] == 22)
        {
            var n = (records[p + 3] << 8) | records[p + 4];
            message.AddRange(records.AsSpan(p + 5, n).ToArray());
            p += 5 + n;
        }
        return [.. message];
    }

    /// <summary>A captured hello cut into records of other sizes, as a client that fragments would send it.</summary>
    public static byte[] Refragment(byte[] records, params int[] fragments) =>
        Records(Unwrap(records), (ushort)((records[1] << 8) | records[2]), fragments);

    public static byte[] U16(int value) => [(byte)(value >> 8), (byte)value];

    public static byte[] U24(int value) => [(byte)(value >> 16), (byte)(value >> 8), (byte)value];
}
