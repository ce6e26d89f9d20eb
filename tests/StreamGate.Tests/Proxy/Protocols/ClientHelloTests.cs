using System.Text;
using StreamGate.Proxy.Protocols;

namespace StreamGate.Tests.Proxy.Protocols;

/// <summary>
/// The ClientHello parser on hellos captured from real clients (OpenSSL, .NET, curl), on the same hellos cut into
/// other records and other reads, and on hand-built edge cases.
/// </summary>
public sealed class ClientHelloTests
{
    private static ClientHelloResult Parse(byte[] data, int maxLength = ClientHello.DefaultMaxLength) => ClientHello.Parse(data, maxLength);

    private static List<string> AlpnOf(ClientHelloResult hello, byte[] data)
    {
        var list = new List<string>();
        foreach (var protocol in hello.EnumerateAlpn(data))
        {
            list.Add(hello.GetString(data, protocol));
        }
        return list;
    }

    private static List<ushort> VersionsOf(ClientHelloResult hello, byte[] data)
    {
        var list = new List<ushort>();
        foreach (var version in hello.EnumerateSupportedVersions(data))
        {
            list.Add(version);
        }
        return list;
    }

    private static ClientHelloResult AssertComplete(byte[] data, int maxLength = ClientHello.DefaultMaxLength)
    {
        var hello = Parse(data, maxLength);
        Assert.True(hello.Status == ClientHelloStatus.Complete, $"{hello.Status}: {hello.Reason}");
        return hello;
    }

    private static void AssertMalformed(byte[] data, string reason)
    {
        var hello = Parse(data);
        Assert.Equal(ClientHelloStatus.Malformed, hello.Status);
        Assert.Equal(reason, hello.Reason);
    }

    // Real clients.

    [Fact]
    public async Task OpenSsl_tls13_hello_gives_its_server_name_alpn_and_tls13()
    {
        var data = await RealHellos.OpenSslTls13;
        var hello = AssertComplete(data);
        Assert.Equal("tls13.example.test", hello.GetServerName(data));
        Assert.Equal(["h2", "http/1.1"], AlpnOf(hello, data));
        Assert.Equal(2, hello.AlpnCount);
        Assert.True(hello.OffersTls13);
        Assert.Equal([(ushort)0x0304], VersionsOf(hello, data));
        Assert.Equal(0x0303, hello.LegacyVersion);
        Assert.Equal(data.Length, hello.Length);
        Assert.Equal(1, hello.Records);
        Assert.True(hello.TryGetBytes(data, hello.ServerName, out var name));
        Assert.True(name.SequenceEqual("tls13.example.test"u8));
    }

    [Fact]
    public async Task OpenSsl_tls12_only_hello_does_not_offer_tls13()
    {
        var data = await RealHellos.OpenSslTls12;
        var hello = AssertComplete(data);
        Assert.Equal("tls12.example.test", hello.GetServerName(data));
        Assert.False(hello.OffersTls13);
        Assert.Equal(0x0303, hello.LegacyVersion);
        Assert.Equal(0, hello.AlpnCount);
        Assert.Empty(AlpnOf(hello, data));
    }

    [Fact]
    public async Task A_hello_without_server_name_is_complete_with_no_name()
    {
        var data = await RealHellos.OpenSslNoSni;
        var hello = AssertComplete(data);
        Assert.False(hello.HasServerName);
        Assert.Null(hello.GetServerName(data));
        Assert.Equal(["http/1.1"], AlpnOf(hello, data));
    }

    [Fact]
    public async Task DotNet_SslStream_hello_gives_its_target_host_and_application_protocols()
    {
        var data = await RealHellos.DotNet;
        var hello = AssertComplete(data);
        Assert.Equal("dotnet.example.test", hello.GetServerName(data));
        Assert.Equal(["h2", "http/1.1"], AlpnOf(hello, data));
        Assert.True(hello.OffersTls13);
        Assert.Contains((ushort)0x0303, VersionsOf(hello, data));
    }

    [Fact]
    public async Task Curl_hello_gives_the_url_host_and_h2()
    {
        if (!RealHellos.CurlInstalled)
        {
            return;
        }
        var data = await RealHellos.Curl;
        var hello = AssertComplete(data);
        Assert.Equal("curl.example.test", hello.GetServerName(data));
        Assert.Equal(["h2", "http/1.1"], AlpnOf(hello, data));
    }

    [Fact]
    public async Task Every_prefix_of_a_real_hello_needs_more_and_never_more_than_the_hello()
    {
        foreach (var (client, data) in await RealHellos.AllAsync())
        {
            for (var n = 0; n < data.Length; n++)
            {
                var prefix = Parse(data[..n]);
                Assert.True(prefix.Status == ClientHelloStatus.NeedMore, $"{client}, {n} bytes: {prefix.Status} {prefix.Reason}");
                Assert.InRange(prefix.MinimumLength, n + 1, data.Length);
            }
        }
    }

    [Fact]
    public async Task Bytes_after_the_hello_are_not_its_own()
    {
        var data = await RealHellos.OpenSslTls13;
        // A ChangeCipherSpec record and early data would follow; anything does.
        byte[] more = [.. data, 20, 3, 3, 0, 1, 1, 23, 3, 3, 0, 2, 0xAA, 0xBB];
        var hello = AssertComplete(more);
        Assert.Equal(data.Length, hello.Length);
        Assert.Equal("tls13.example.test", hello.GetServerName(more));
    }

    [Fact]
    public async Task Parsing_a_complete_hello_allocates_nothing()
    {
        var data = await RealHellos.DotNet;
        Assert.Equal(0, AllocatedWhileReading(data, 1));
        Assert.Equal(0, AllocatedWhileReading(data, 1_000));

        var fragmented = HelloBuilder.Refragment(data, 7, 100);
        Assert.Equal(0, AllocatedWhileReading(fragmented, 1));
        Assert.Equal(0, AllocatedWhileReading(fragmented, 1_000));
    }

    private static long AllocatedWhileReading(byte[] data, int times)
    {
        Span<byte> name = stackalloc byte[256];
        var before = GC.GetAllocatedBytesForCurrentThread();
        var seen = 0;
        for (var i = 0; i < times; i++)
        {
            var hello = ClientHello.Parse(data);
            seen += hello.CopyTo(data, hello.ServerName, name);
            foreach (var protocol in hello.EnumerateAlpn(data))
            {
                seen += hello.TryGetBytes(data, protocol, out var bytes) ? bytes.Length : 0;
            }
            foreach (var version in hello.EnumerateSupportedVersions(data))
            {
                seen += version;
            }
        }
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(seen > 0);
        return allocated;
    }

    // Fragmentation: records and reads.

    [Theory]
    [InlineData(new[] { 1 })]                 // the handshake header split 1 + 3
    [InlineData(new[] { 1, 1, 1 })]           // the handshake header in three 1-byte records
    [InlineData(new[] { 100 })]
    [InlineData(new[] { 100, 50 })]
    [InlineData(new[] { 40, 40, 40, 40 })]
    public async Task A_hello_split_over_records_gives_the_same_fields(int[] fragments)
    {
        var original = await RealHellos.OpenSslTls13;
        var data = HelloBuilder.Refragment(original, fragments);
        var hello = AssertComplete(data);
        var single = AssertComplete(original);
        Assert.Equal(data.Length, hello.Length);
        Assert.True(hello.Records > 1);
        Assert.Equal(single.GetServerName(original), hello.GetServerName(data));
        Assert.Equal(AlpnOf(single, original), AlpnOf(hello, data));
        Assert.Equal(VersionsOf(single, original), VersionsOf(hello, data));
        Assert.Equal(single.ServerName, hello.ServerName);
        Assert.Equal(single.MessageLength, hello.MessageLength);

        for (var n = 0; n < data.Length; n++)
        {
            var prefix = Parse(data[..n]);
            Assert.True(prefix.Status == ClientHelloStatus.NeedMore, $"{n} bytes: {prefix.Status} {prefix.Reason}");
            Assert.InRange(prefix.MinimumLength, n + 1, data.Length);
        }
    }

    [Fact]
    public async Task A_server_name_straddling_two_records_is_copied_across_them()
    {
        var original = await RealHellos.OpenSslTls13;
        var single = AssertComplete(original);
        var cut = single.ServerName.Offset + 5;   // five characters in the first record, the rest in the second
        var data = HelloBuilder.Refragment(original, cut);
        var hello = AssertComplete(data);

        Assert.False(hello.TryGetBytes(data, hello.ServerName, out _));
        var name = new byte[hello.ServerName.Length];
        Assert.Equal(name.Length, hello.CopyTo(data, hello.ServerName, name));
        Assert.Equal("tls13.example.test", Encoding.ASCII.GetString(name));
        Assert.Equal("tls13.example.test", hello.GetServerName(data));
    }

    [Fact]
    public void Needed_bytes_grow_as_the_length_fields_arrive()
    {
        var data = new HelloBuilder().ServerName("a.example").Build();
        // Nothing yet: a record header, a handshake header and the fixed fields at least.
        Assert.Equal(50, Parse([]).MinimumLength);
        // The record header says how long the record is.
        Assert.Equal(data.Length, Parse(data[..5]).MinimumLength);
        var fragmented = new HelloBuilder().ServerName("a.example").Build(4);
        // Only the handshake header in the first record: its length asks for one more record of the rest.
        Assert.Equal(fragmented.Length, Parse(fragmented[..9]).MinimumLength);
    }

    // The limit.

    [Fact]
    public async Task A_hello_longer_than_the_limit_is_too_large_as_soon_as_its_lengths_say_so()
    {
        var data = await RealHellos.OpenSslTls13;
        Assert.Equal(ClientHelloStatus.Complete, Parse(data, data.Length).Status);
        var over = Parse(data[..5], data.Length - 1);
        Assert.Equal(ClientHelloStatus.Malformed, over.Status);
        Assert.Equal("too large", over.Reason);

        // Fragmented: the handshake length in the first record already tells the records cannot fit.
        var fragmented = HelloBuilder.Refragment(data, 10);
        Assert.Equal("too large", Parse(fragmented[..15], fragmented.Length - 1).Reason);
        Assert.Equal(ClientHelloStatus.Complete, Parse(fragmented, fragmented.Length).Status);
    }

    [Fact]
    public void A_hello_over_several_full_records_fits_a_larger_limit_only()
    {
        // 20 000 bytes of padding (RFC 7685, type 21): two records, as a post-quantum hello may need.
        var builder = new HelloBuilder().ServerName("big.example").Extension(21, new byte[20_000]);
        var data = builder.Build(16_384);
        Assert.Equal("too large", Parse(data).Reason);
        var hello = AssertComplete(data, 32 * 1024);
        Assert.Equal(2, hello.Records);
        Assert.Equal("big.example", hello.GetServerName(data));
    }

    [Fact]
    public void A_record_longer_than_two_to_the_fourteen_is_malformed()
    {
        var data = new HelloBuilder().Extension(21, new byte[17_000]).Build();
        Assert.Equal("record longer than 16384 bytes", Parse(data[..5], 64 * 1024).Reason);
    }

    [Fact]
    public void The_limit_cannot_be_smaller_than_the_smallest_hello() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => ClientHello.Parse([], ClientHello.MinimumMaxLength - 1));

    // Not TLS.

    [Fact]
    public void Plain_text_is_not_tls_from_the_first_byte()
    {
        Assert.Equal(ClientHelloStatus.NotTls, Parse("G"u8.ToArray()).Status);
        var http = Parse("GET / HTTP/1.1\r\n"u8.ToArray());
        Assert.Equal(ClientHelloStatus.NotTls, http.Status);
        Assert.Equal("not a TLS handshake record", http.Reason);
    }

    [Fact]
    public void A_handshake_record_of_another_major_version_is_not_tls()
    {
        var result = Parse([22, 2, 0]);
        Assert.Equal(ClientHelloStatus.NotTls, result.Status);
        Assert.Equal("record version is not 3.x", result.Reason);
    }

    [Fact]
    public void An_sslv2_compatible_hello_is_not_tls()
    {
        // SSLv2 header (length 0x2e with the high bit), CLIENT-HELLO, version 3.1, cipher specs ... no extensions.
        byte[] sslv2 = [0x80, 0x2e, 0x01, 0x03, 0x01, 0x00, 0x15, 0x00, 0x00, 0x00, 0x10, 0x01, 0x00, 0x80];
        var result = Parse(sslv2);
        Assert.Equal(ClientHelloStatus.NotTls, result.Status);
        Assert.Equal("SSLv2-compatible ClientHello", result.Reason);
    }

    // Record layer.

    [Fact]
    public void Another_record_type_inside_the_hello_is_malformed()
    {
        var data = new HelloBuilder().ServerName("a.example").Build(30);
        data[35] = 21;   // the second record becomes an alert
        AssertMalformed(data, "a record of another type inside the ClientHello");
        Assert.Equal(ClientHelloStatus.Malformed, Parse(data[..36]).Status);
    }

    [Fact]
    public void An_empty_record_is_malformed() => AssertMalformed([22, 3, 1, 0, 0], "empty handshake record");

    [Fact]
    public void A_handshake_message_other_than_client_hello_is_malformed()
    {
        var data = new HelloBuilder().Build();
        data[5] = 2;   // ServerHello
        AssertMalformed(data, "not a ClientHello");
        Assert.Equal("not a ClientHello", Parse(data[..6]).Reason);
    }

    [Fact]
    public void Bytes_after_the_hello_inside_its_record_are_malformed()
    {
        var message = new HelloBuilder().Message();
        byte[] data = [.. HelloBuilder.Records([.. message, 0, 0, 0, 0], 0x0301)];
        AssertMalformed(data, "bytes after the ClientHello in its last record");
    }

    [Fact]
    public void A_body_shorter_than_the_fixed_fields_is_malformed() =>
        AssertMalformed([22, 3, 1, 0, 44, 1, 0, 0, 40, .. new byte[40]], "ClientHello shorter than its fixed fields");

    // Fixed fields.

    [Fact]
    public void A_hello_without_extensions_is_complete_with_nothing_offered()
    {
        var data = new HelloBuilder { Extensions = null }.Build();
        var hello = AssertComplete(data);
        Assert.False(hello.HasServerName);
        Assert.Equal(0, hello.AlpnCount);
        Assert.False(hello.OffersTls13);
        Assert.True(hello.SupportedVersions.IsEmpty);
    }

    [Fact]
    public void A_hello_with_an_empty_extensions_block_is_complete() => AssertComplete(new HelloBuilder().Build());

    [Fact]
    public void A_tls12_hello_built_by_hand_reads_its_versions()
    {
        var data = new HelloBuilder { RecordVersion = 0x0303, LegacyVersion = 0x0303 }.ServerName("old.example").Build();
        var hello = AssertComplete(data);
        Assert.Equal(0x0303, hello.RecordVersion);
        Assert.False(hello.OffersTls13);
    }

    [Fact]
    public void A_session_id_over_32_bytes_is_malformed() =>
        AssertMalformed(new HelloBuilder { SessionId = new byte[33] }.Build(), "session id longer than 32 bytes");

    [Fact]
    public void Odd_or_empty_cipher_suites_are_malformed()
    {
        AssertMalformed(new HelloBuilder { CipherSuites = [0x13, 0x01, 0x13] }.Build(), "cipher_suites length is zero or odd");
        AssertMalformed(new HelloBuilder { CipherSuites = [] }.ServerName("a.example").Build(), "cipher_suites length is zero or odd");
    }

    [Fact]
    public void No_compression_method_is_malformed() =>
        AssertMalformed(new HelloBuilder { Compression = [] }.ServerName("a.example").Build(), "no compression method");

    [Fact]
    public void A_stray_byte_where_the_extensions_would_start_is_malformed()
    {
        var message = new HelloBuilder { Extensions = null }.Message();
        message[3]++;   // the body claims one byte more
        AssertMalformed(HelloBuilder.Records([.. message, 0], 0x0301), "a stray byte after compression_methods");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(-1)]
    public void An_extensions_length_that_disagrees_with_the_hello_is_malformed(int delta)
    {
        var message = new HelloBuilder().ServerName("a.example").Message();
        var at = message.Length - 20;   // extensions length: 2 bytes before server_name's 4 + 2 + 3 + 9
        var value = (message[at] << 8) | message[at + 1];
        message[at] = (byte)((value + delta) >> 8);
        message[at + 1] = (byte)(value + delta);
        AssertMalformed(HelloBuilder.Records(message, 0x0301), "extensions length does not match the ClientHello");
    }

    // Extensions.

    [Fact]
    public void An_extension_longer_than_what_is_left_is_malformed()
    {
        var message = new HelloBuilder().Extension(23, []).Message();
        message[^1] = 1;   // extended_master_secret claims one byte that is not there
        AssertMalformed(HelloBuilder.Records(message, 0x0301), "extension overruns the extensions");
    }

    [Fact]
    public void A_truncated_extension_header_is_malformed()
    {
        var message = new HelloBuilder().Extension(23, []).Message();
        byte[] cut = [.. message[..^2]];
        // Shorten the handshake and extensions lengths by the two bytes removed.
        cut[3] -= 2;
        cut[^4] = 0;
        cut[^3] = 2;
        AssertMalformed(HelloBuilder.Records(cut, 0x0301), "truncated extension header");
    }

    [Fact]
    public void Zero_length_extensions_are_skipped()
    {
        var data = new HelloBuilder().Extension(23, []).Extension(22, []).ServerName("a.example").Extension(0xFF01, [0]).Build();
        Assert.Equal("a.example", AssertComplete(data).GetServerName(data));
    }

    [Fact]
    public void The_same_extension_twice_is_malformed()
    {
        AssertMalformed(new HelloBuilder().ServerName("a.example").ServerName("b.example").Build(), "duplicate extension");
        AssertMalformed(new HelloBuilder().Extension(23, []).Extension(23, []).Build(), "duplicate extension");
        AssertMalformed(new HelloBuilder().Extension(0xFE0D, [1]).Extension(0xFE0D, [2]).Build(), "duplicate extension");
    }

    [Fact]
    public void Grease_extensions_are_ignored_even_repeated()
    {
        var data = new HelloBuilder().Extension(0x0A0A, []).ServerName("a.example").Extension(0x0A0A, [0]).Extension(0xFAFA, [1, 2]).Build();
        Assert.Equal("a.example", AssertComplete(data).GetServerName(data));
    }

    [Theory]
    [InlineData(0x0A0A, true)]
    [InlineData(0x3A3A, true)]
    [InlineData(0xFAFA, true)]
    [InlineData(0x0A1A, false)]
    [InlineData(0x0B0B, false)]
    [InlineData(0x0303, false)]
    public void Grease_values_are_the_reserved_ones(int value, bool grease) => Assert.Equal(grease, ClientHello.IsGrease((ushort)value));

    // server_name.

    [Fact]
    public void A_server_name_longer_than_255_characters_is_taken_as_sent()
    {
        var name = string.Join('.', Enumerable.Repeat("label-of-49-characters-0123456789-0123456789-abcd", 6));
        Assert.True(name.Length > 255);
        var data = new HelloBuilder().ServerName(name).Build();
        Assert.Equal(name, AssertComplete(data).GetServerName(data));
    }

    [Fact]
    public void The_server_name_keeps_the_clients_case()
    {
        var data = new HelloBuilder().ServerName("API.Example.TEST").Build();
        Assert.Equal("API.Example.TEST", AssertComplete(data).GetServerName(data));
    }

    [Theory]
    [InlineData("a.example.", "host_name ends with a dot")]
    [InlineData(".", "host_name ends with a dot")]
    [InlineData("a example", "host_name has a byte outside printable ASCII")]
    [InlineData("a\u0000example", "host_name has a byte outside printable ASCII")]
    [InlineData("a\texample", "host_name has a byte outside printable ASCII")]
    [InlineData("a\u007Fexample", "host_name has a byte outside printable ASCII")]
    [InlineData("b\u00FCcher.example", "host_name has a byte outside printable ASCII")]
    [InlineData("", "empty host_name")]
    public void Host_names_outside_rfc_6066_are_malformed(string name, string reason) =>
        AssertMalformed(new HelloBuilder().ServerName(name).Build(), reason);

    [Fact]
    public void The_host_name_entry_is_taken_among_other_name_types()
    {
        var list = HelloBuilder.ServerNameList((7, [1, 2, 3]), (0, "a.example"u8.ToArray()), (9, []));
        var data = new HelloBuilder().Extension(0, list).Build();
        Assert.Equal("a.example", AssertComplete(data).GetServerName(data));

        var otherOnly = new HelloBuilder().Extension(0, HelloBuilder.ServerNameList((7, [1, 2, 3]))).Build();
        Assert.False(AssertComplete(otherOnly).HasServerName);
    }

    [Fact]
    public void Two_host_name_entries_are_malformed()
    {
        var list = HelloBuilder.ServerNameList((0, "a.example"u8.ToArray()), (0, "b.example"u8.ToArray()));
        AssertMalformed(new HelloBuilder().Extension(0, list).Build(), "two host_name entries");
    }

    [Fact]
    public void Broken_server_name_lists_are_malformed()
    {
        AssertMalformed(new HelloBuilder().Extension(0, []).Build(), "server_name extension too short");
        AssertMalformed(new HelloBuilder().Extension(0, [0, 0]).Build(), "empty server_name list");
        AssertMalformed(new HelloBuilder().Extension(0, [0, 5, 0, 0, 1, (byte)'a']).Build(), "server_name list length does not match its extension");
        AssertMalformed(new HelloBuilder().Extension(0, [0, 2, 0, 0]).Build(), "truncated server_name entry");
        AssertMalformed(new HelloBuilder().Extension(0, [0, 4, 0, 0, 9, (byte)'a']).Build(), "server name overruns its list");
    }

    // ALPN.

    [Fact]
    public void Alpn_keeps_the_clients_order_and_skips_grease()
    {
        var list = HelloBuilder.AlpnList([0x2A, 0x2A], "h2"u8.ToArray(), "http/1.1"u8.ToArray(), [0x4A, 0x4A], "x"u8.ToArray());
        var data = new HelloBuilder().Extension(16, list).Build();
        var hello = AssertComplete(data);
        Assert.Equal(["h2", "http/1.1", "x"], AlpnOf(hello, data));
        Assert.Equal(3, hello.AlpnCount);
    }

    [Fact]
    public void An_empty_alpn_protocol_is_malformed() =>
        AssertMalformed(new HelloBuilder().Extension(16, HelloBuilder.AlpnList("h2"u8.ToArray(), [])).Build(), "empty ALPN protocol name");

    [Fact]
    public void Broken_alpn_lists_are_malformed()
    {
        AssertMalformed(new HelloBuilder().Extension(16, []).Build(), "ALPN extension too short");
        AssertMalformed(new HelloBuilder().Extension(16, [0, 0]).Build(), "empty ALPN list");
        AssertMalformed(new HelloBuilder().Extension(16, [0, 9, 2, (byte)'h', (byte)'2']).Build(), "ALPN list length does not match its extension");
        AssertMalformed(new HelloBuilder().Extension(16, [0, 3, 5, (byte)'h', (byte)'2']).Build(), "ALPN protocol name overruns its list");
    }

    // supported_versions.

    [Fact]
    public void Supported_versions_skip_grease_and_show_tls13()
    {
        var data = new HelloBuilder().Versions(0x7A7A, 0x0304, 0x0303).Build();
        var hello = AssertComplete(data);
        Assert.True(hello.OffersTls13);
        Assert.Equal([(ushort)0x0304, (ushort)0x0303], VersionsOf(hello, data));
    }

    [Fact]
    public void Supported_versions_without_tls13_do_not_offer_it()
    {
        var data = new HelloBuilder().Versions(0x0303, 0x0302).Build();
        Assert.False(AssertComplete(data).OffersTls13);
    }

    [Fact]
    public void Broken_supported_versions_are_malformed()
    {
        AssertMalformed(new HelloBuilder().Extension(43, []).Build(), "supported_versions extension too short");
        AssertMalformed(new HelloBuilder().Extension(43, [0]).Build(), "supported_versions list is empty or odd");
        AssertMalformed(new HelloBuilder().Extension(43, [3, 3, 4, 3]).Build(), "supported_versions list is empty or odd");
        AssertMalformed(new HelloBuilder().Extension(43, [4, 3, 4]).Build(), "supported_versions list length does not match its extension");
    }

    // Accessors.

    [Fact]
    public void Fields_are_read_only_from_a_complete_hello_and_its_whole_buffer()
    {
        var data = new HelloBuilder().ServerName("a.example").Build();
        var hello = AssertComplete(data);
        Assert.Throws<ArgumentException>(() => hello.GetServerName(data.AsSpan(0, data.Length - 1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => hello.GetString(data, new HelloField(hello.MessageLength, 1)));
        var needMore = Parse(data[..10]);
        Assert.Throws<InvalidOperationException>(() => needMore.GetServerName(data));
        Assert.Throws<ArgumentOutOfRangeException>(() => hello.CopyTo(data, hello.ServerName, new byte[3]));
    }
}
