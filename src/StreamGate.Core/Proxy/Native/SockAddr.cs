using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using StreamGate.Routing;

namespace StreamGate.Proxy.Native;

/// <summary>Linux sockaddr_in / sockaddr_in6 encoding and decoding, without allocating on the decode side.</summary>
internal static class SockAddr
{
    /// <summary>sizeof(struct sockaddr_in6), the larger of the two.</summary>
    public const int MaxLength = 28;

    public static byte[] Encode(IPEndPoint endPoint, out int length)
    {
        var buffer = new byte[MaxLength];
        length = Encode(endPoint.Address, endPoint.Port, buffer);
        return buffer;
    }

    public static int Encode(IPAddress address, int port, Span<byte> buffer)
    {
        buffer[..MaxLength].Clear();
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(buffer, LibC.AF_INET);
            BinaryPrimitives.WriteUInt16BigEndian(buffer[2..], (ushort)port);
            address.TryWriteBytes(buffer[4..8], out _);
            return 16;
        }
        BinaryPrimitives.WriteUInt16LittleEndian(buffer, LibC.AF_INET6);
        BinaryPrimitives.WriteUInt16BigEndian(buffer[2..], (ushort)port);
        address.TryWriteBytes(buffer[8..24], out _);
        BinaryPrimitives.WriteUInt32LittleEndian(buffer[24..], (uint)address.ScopeId);
        return 28;
    }

    public static void Decode(ReadOnlySpan<byte> buffer, out IpAddr address, out int port)
    {
        var family = BinaryPrimitives.ReadUInt16LittleEndian(buffer);
        port = BinaryPrimitives.ReadUInt16BigEndian(buffer[2..]);
        address = family == LibC.AF_INET
            ? IpAddr.FromV4(BinaryPrimitives.ReadUInt32BigEndian(buffer[4..]))
            : IpAddr.FromV6(buffer.Slice(8, 16));
    }
}
