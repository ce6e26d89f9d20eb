using StreamGate.Config;

namespace StreamGate.Tests.Config;

public class StandaloneFileTests
{
    private static IReadOnlyList<ConfigError> Errors(string yaml) => ConfigAssert.Throws(() => StandaloneFile.Parse(yaml));

    [Fact]
    public void ParsesRoutesUpstreamsAndServices()
    {
        var set = StandaloneFile.Parse("""
            upstreams:
              - id: u1
                nodes:
                  "127.0.0.1:1980": 1
            services:
              - id: s1
                upstream_id: u1
            stream_routes:
              - id: 1
                server_port: 9100
                upstream_id: u1
              - id: r2
                service_id: s1
            #END
            """);
        Assert.Equal(["1", "r2"], set.Routes.Select(r => r.Id));
        Assert.Equal(9100, set.Routes[0].ServerPort);
        Assert.Equal("u1", set.Routes[0].UpstreamId);
        Assert.Equal("s1", set.Routes[1].ServiceId);
        Assert.Equal("u1", Assert.Single(set.Upstreams).Key);
        Assert.Equal("u1", set.Services["s1"].UpstreamId);
    }

    [Fact]
    public void RoutesKeepFileOrder()
    {
        var set = StandaloneFile.Parse("""
            stream_routes:
              - {id: c, upstream_id: u}
              - {id: a, upstream_id: u}
              - {id: b, upstream_id: u}
            #END
            """);
        Assert.Equal(["c", "a", "b"], set.Routes.Select(r => r.Id));
    }

    [Theory]
    [InlineData("stream_routes: []\n")]
    [InlineData("stream_routes: []\n#END-ish\n")]
    [InlineData("stream_routes: []\n# END\n")]
    [InlineData("stream_routes: []\n#END\nupstreams: []\n")]
    [InlineData("")]
    public void FileWithoutEndMarkerIsRefused(string text)
    {
        ConfigAssert.Single(Errors(text), "apisix.yaml", "does not end with the line #END");
    }

    [Theory]
    [InlineData("stream_routes: []\n#END")]
    [InlineData("stream_routes: []\n#END\n")]
    [InlineData("stream_routes: []\r\n#END\r\n")]
    [InlineData("stream_routes: []\n  #END  \n\n\n")]
    [InlineData("#END\n")]
    public void EndMarkerIsTheLastNonEmptyLine(string text)
    {
        Assert.True(StandaloneFile.HasEndMarker(text));
        Assert.Empty(StandaloneFile.Parse(text).Routes);
    }

    [Fact]
    public void OnlyEndMarkerIsAnEmptySet()
    {
        var set = StandaloneFile.Parse("#END\n");
        Assert.Empty(set.Routes);
        Assert.Empty(set.Upstreams);
        Assert.Empty(set.Services);
    }

    [Fact]
    public void ApisixHttpSideListsAreAcceptedAndIgnored()
    {
        var set = StandaloneFile.Parse("routes:\n  - {id: 1, uri: /x}\nglobal_rules: []\nconsumers: []\nssls: []\nplugin_metadata: []\n#END\n");
        Assert.Empty(set.Routes);
    }

    [Fact]
    public void DuplicateIdsAreErrors()
    {
        var errors = Errors("""
            upstreams:
              - {id: 1, nodes: {"127.0.0.1:80": 1}}
              - {id: "1", nodes: {"127.0.0.1:81": 1}}
            stream_routes:
              - {id: r, upstream_id: 1}
              - {id: x, upstream_id: 1}
              - {id: r, upstream_id: 1}
            #END
            """);
        Assert.Equal(2, errors.Count);
        ConfigAssert.Single(errors, "upstreams[1].id", "duplicate id \"1\" in upstreams");
        ConfigAssert.Single(errors, "stream_routes[2].id", "duplicate id \"r\" in stream_routes");
    }

    [Fact]
    public void ErrorsFromEveryListAreReportedTogether()
    {
        var errors = Errors("""
            upstreams:
              - {id: u, nodes: {"127.0.0.1:80": -1}}
            services:
              - {id: s, bogus: 1}
            stream_routes:
              - {id: 1, server_port: 70000, upstream_id: u}
            #END
            """);
        var nodes = ConfigAssert.Single(errors, "upstreams[0].nodes", "object matches none of the required");
        Assert.Contains("nodes[\"127.0.0.1:80\"]: the weight must be an integer of at least 0", nodes.Hint, StringComparison.Ordinal);
        ConfigAssert.Single(errors, "services[0].bogus", "additional properties forbidden, found bogus");
        ConfigAssert.Single(errors, "stream_routes[0].server_port", "property \"server_port\" validation failed: expected 70000 to be at most 65535");
    }

    [Theory]
    [InlineData("- 1\n#END\n", "apisix.yaml", "the top level must be a mapping")]
    [InlineData("stream_routes: [\n#END\n", "apisix.yaml", "not valid YAML")]
    [InlineData("stream_route: []\n#END\n", "stream_route", "unknown top-level key \"stream_route\"; expected one of stream_routes, upstreams, services")]
    [InlineData("ssls:\n  - id: 1\n#END\n", "ssls", "not available in this StreamGate version yet")]
    [InlineData("plugin_metadata:\n  - id: syslog\n#END\n", "plugin_metadata", "not available in this StreamGate version yet")]
    [InlineData("stream_routes:\n  - upstream_id: 1\n#END\n", "stream_routes[0]", "property \"id\" is required")]
    [InlineData("upstreams:\n  - nodes: {\"127.0.0.1:80\": 1}\n#END\n", "upstreams[0]", "property \"id\" is required")]
    [InlineData("services:\n  - {id: s}\n  - upstream_id: 1\n#END\n", "services[1]", "property \"id\" is required")]
    [InlineData("stream_routes:\n  - 5\n#END\n", "stream_routes[0]", "wrong type: expected object, got number")]
    [InlineData("upstreams: {id: 1}\n#END\n", "upstreams", "wrong type: expected array, got object")]
    [InlineData("services: 1\n#END\n", "services", "wrong type: expected array, got number")]
    public void InvalidFilesAreErrorsNamingThePlace(string yaml, string path, string message)
    {
        var errors = Errors(yaml);
        ConfigAssert.Single(errors, path, message);
        Assert.Single(errors);
    }

    [Theory]
    [InlineData(new byte[] { 0x61, 0x3a, 0x20, 0xff, 0x0a }, "not valid UTF-8: 0xFF at line 1 (byte offset 3)")]
    [InlineData(new byte[] { 0x61, 0x3a, 0x20, 0x31, 0x0a, 0x62, 0x3a, 0x20, 0xc3, 0x28, 0x0a }, "not valid UTF-8: 0xC3 at line 2 (byte offset 8)")]
    [InlineData(new byte[] { 0x61, 0x3a, 0x20, 0xe2, 0x82 }, "not valid UTF-8: 0xE2 at line 1 (byte offset 3)")]
    public void InvalidUtf8IsRefusedWithWhereItIs(byte[] bytes, string message)
    {
        var error = Assert.Single(ConfigAssert.Throws(() => StandaloneFile.Decode(bytes)));
        Assert.Equal(StandaloneFile.FileName, error.Path);
        Assert.Equal(message + "; save the file as UTF-8", error.Message);
    }

    [Fact]
    public void Utf8WithAByteOrderMarkIsRead()
    {
        Assert.Equal("a: é", StandaloneFile.Decode([0xEF, 0xBB, 0xBF, 0x61, 0x3a, 0x20, 0xc3, 0xa9]));
    }

    [Fact]
    public void AFileOverTheSizeLimitIsRefusedBeforeItIsRead()
    {
        var path = Path.GetTempFileName();
        try
        {
            using (var file = File.OpenWrite(path))
            {
                file.SetLength(StandaloneFile.MaxBytes + 1);
            }
            var error = Assert.Single(ConfigAssert.Throws(() => StandaloneFile.ReadBytes(path)));
            Assert.Equal($"{path} is 33,554,433 bytes, over the limit of 32 MiB (33,554,432 bytes); it is not read (split the configuration, or serve it from the store)", error.Message);
            Assert.Equal(error.Message, Assert.Single(ConfigAssert.Throws(() => StandaloneFile.Load(path))).Message);

            using (var file = File.OpenWrite(path))
            {
                file.SetLength(StandaloneFile.MaxBytes);
            }
            Assert.Equal(StandaloneFile.MaxBytes, StandaloneFile.ReadBytes(path).Length);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
