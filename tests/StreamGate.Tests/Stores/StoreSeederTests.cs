using System.Text;
using StreamGate.Config;
using StreamGate.Stores;
using StreamGate.Tests.Runtime;

namespace StreamGate.Tests.Stores;

/// <summary>The seed file (deployment.sqlite.seed) is read with the standalone reader's caps: size, strict UTF-8, YAML nesting. A good seed is imported: StoreLifecycleTests.</summary>
public sealed class StoreSeederTests : IDisposable
{
    private readonly string _path = Path.Combine(Path.GetTempPath(), $"sg-seed-{Guid.NewGuid():N}.yaml");

    public void Dispose() => File.Delete(_path);

    private async Task<ConfigError> SeedFailsAsync(MemoryConfigStore store)
    {
        var error = await Assert.ThrowsAsync<ConfigException>(() => StoreSeeder.SeedAsync(store, "/apisix", _path, TimeProvider.System));
        Assert.Equal(0, store.Revision);
        return Assert.Single(error.Errors);
    }

    [Fact]
    public async Task A_seed_over_32_MiB_is_refused_unread()
    {
        using (var file = File.OpenWrite(_path))
        {
            file.SetLength(StandaloneFile.MaxBytes + 1);
        }
        var error = await SeedFailsAsync(new MemoryConfigStore());
        Assert.Equal("deployment.sqlite.seed", error.Path);
        Assert.Equal($"{_path}: {_path} is 33,554,433 bytes, over the limit of 32 MiB (33,554,432 bytes); it is not read (split the configuration, or serve it from the store)", error.Message);
    }

    [Fact]
    public async Task A_seed_that_is_not_UTF_8_is_refused()
    {
        // Latin-1 "é" in a name: File.ReadAllText would have made it U+FFFD and imported it.
        await File.WriteAllBytesAsync(_path, [.. Encoding.ASCII.GetBytes("upstreams:\n  - id: u\n    name: caf"), 0xE9, .. Encoding.ASCII.GetBytes("\n    nodes: {\"127.0.0.1:1\": 1}\n#END\n")]);
        var error = await SeedFailsAsync(new MemoryConfigStore());
        Assert.Equal("deployment.sqlite.seed", error.Path);
        Assert.Equal($"{_path}: not valid UTF-8: 0xE9 at line 3 (byte offset 34); save the file as UTF-8", error.Message);
    }

    [Fact]
    public async Task A_seed_nested_past_the_YAML_depth_cap_is_refused()
    {
        var deep = string.Concat(Enumerable.Repeat("[", YamlDocument.MaxDepth + 1)) + string.Concat(Enumerable.Repeat("]", YamlDocument.MaxDepth + 1));
        await File.WriteAllTextAsync(_path, $"upstreams:\n  - id: u\n    desc: {deep}\n#END\n");
        var error = await SeedFailsAsync(new MemoryConfigStore());
        Assert.Equal("apisix.yaml", error.Path);
    }

    [Fact]
    public async Task A_missing_seed_names_its_key()
    {
        var error = await SeedFailsAsync(new MemoryConfigStore());
        Assert.Equal("deployment.sqlite.seed", error.Path);
        Assert.StartsWith($"cannot read {_path}: ", error.Message, StringComparison.Ordinal);
    }
}
