using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;
using StreamGate.Config;

// The request bodies are anonymous objects with array literals, each built once by its test.
#pragma warning disable CA1861

namespace StreamGate.Tests.Config;

/// <summary>ssl objects in APISIX's messages: ports of t/admin/ssl.t and ssl2.t, each citing its block.</summary>
public class SslParserTests
{
    private static readonly (string Cert, string Key) Pair = NewPair("test.com");
    private static readonly (string Cert, string Key) Other = NewPair("other.com");

    private static (string Cert, string Key) NewPair(string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        using var cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        return (cert.ExportCertificatePem(), key.ExportPkcs8PrivateKeyPem());
    }

    private static JsonObject Ssl(object fields)
    {
        var obj = (JsonObject)System.Text.Json.JsonSerializer.SerializeToNode(fields)!;
        return obj;
    }

    private static List<ConfigError> Errors(JsonObject obj)
    {
        var errors = new List<ConfigError>();
        Assert.Null(SslParser.Parse(obj, "", errors));
        return errors;
    }

    private static SslConfig Valid(JsonObject obj)
    {
        var errors = new List<ConfigError>();
        var ssl = SslParser.Parse(obj, "", errors);
        Assert.True(errors.Count == 0, string.Join(" | ", errors));
        return ssl!;
    }

    // A syntactically PEM-shaped certificate that does not parse (ssl2.t TEST 6's truncated body).
    private const string BadCert = "-----BEGIN CERTIFICATE-----\nMIIEojCCAwqgAwIBAgIJAK253pMhgCkxMA0GCSqGSIb3DQEBCwUAMFYxCzAJBgNV\nBAYTAkNOMRIwEAYDVQQIDAlHdWFuZ0RvbmcxDzANBgNVBAcMBlpodUhhaTEPMA0G\n-----END CERTIFICATE-----\n";
    private const string BadKey = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDSPcQ1kD7TV8A+\n-----END PRIVATE KEY-----\n";

    [Fact]
    public void A_valid_server_certificate()
    {
        var ssl = Valid(Ssl(new { cert = Pair.Cert, key = Pair.Key, snis = new[] { "test.com", "*.test.com" } }));
        Assert.Equal(["test.com", "*.test.com"], ssl.Snis);
        Assert.Equal("server", ssl.Type);
    }

    // ssl.t TEST 6: missing certificate information.
    [Fact]
    public void Ssl_t_TEST_6_missing_cert_and_key()
    {
        var error = Assert.Single(Errors(Ssl(new { sni = "foo.com" })));
        Assert.Equal("then clause did not match", error.Message);
        Assert.Equal("", error.Path);
        Assert.NotNull(error.Hint);
    }

    // ssl.t TEST 19: missing sni information.
    [Fact]
    public void Ssl_t_TEST_19_missing_sni()
    {
        Assert.Equal("then clause did not match", Assert.Single(Errors(Ssl(new { cert = Pair.Cert, key = Pair.Key }))).Message);
    }

    [Fact]
    public void Both_sni_and_snis_fail_the_oneOf()
    {
        Assert.Equal("then clause did not match", Assert.Single(Errors(Ssl(new { cert = Pair.Cert, key = Pair.Key, sni = "a.com", snis = new[] { "b.com" } }))).Message);
    }

    // ssl.t TEST 20: type client, missing sni information: accepted.
    [Fact]
    public void Ssl_t_TEST_20_client_certificates_need_no_sni()
    {
        Assert.Equal("client", Valid(Ssl(new { type = "client", cert = Pair.Cert, key = Pair.Key })).Type);
    }

    [Fact]
    public void A_client_certificate_still_needs_cert_and_key()
    {
        var error = Assert.Single(Errors(Ssl(new { type = "client", cert = Pair.Cert })));
        Assert.Equal("key", error.Path);
        Assert.Equal("property \"key\" is required", error.Message);
    }

    // ssl.t TEST 21: references to a secret manager are stored unparsed.
    [Fact]
    public void Ssl_t_TEST_21_secret_references()
    {
        var ssl = Valid(Ssl(new
        {
            sni = "test.com",
            cert = "$secret://vault/test/ssl/test.com.crt",
            key = "$secret://vault/test/ssl/test.com.key",
            certs = new[] { "$secret://vault/test/ssl/test.com.2.crt" },
            keys = new[] { "$secret://vault/test/ssl/test.com.2.key" },
        }));
        Assert.Equal("$secret://vault/test/ssl/test.com.crt", ssl.Cert);
    }

    // ssl.t TEST 22: environment references, in either case of the prefix.
    [Fact]
    public void Ssl_t_TEST_22_environment_references()
    {
        Valid(Ssl(new
        {
            sni = "test.com",
            cert = "$ENV://APISIX_TEST_SSL_CERT",
            key = "$env://APISIX_TEST_SSL_KEY",
            certs = new[] { "$env://APISIX_TEST_SSL_CERTS" },
            keys = new[] { "$ENV://APISIX_TEST_SSL_KEYS" },
        }));
    }

    [Theory]
    [InlineData("$secret://vault/a", true)]
    [InlineData("$ENV://A", true)]
    [InlineData("$env://A", true)]
    [InlineData("$Env://A", true)]
    [InlineData("$SECRET://vault/a", false)]
    [InlineData("secret://vault/a", false)]
    public void Secret_references_are_APISIX_prefixes(string text, bool reference)
    {
        Assert.Equal(reference, SslParser.IsSecretReference(text));
    }

    // ssl2.t TEST 6: bad cert.
    [Fact]
    public void Ssl2_t_TEST_6_bad_cert()
    {
        var error = Assert.Single(Errors(Ssl(new { cert = BadCert, key = Pair.Key, sni = "test.com" })));
        Assert.Equal("failed to parse cert: PEM_read_bio_X509_AUX() failed", error.Message);
        Assert.Equal(ConfigErrorForm.Bare, error.Form);
    }

    // ssl2.t TEST 7: bad key.
    [Fact]
    public void Ssl2_t_TEST_7_bad_key()
    {
        var error = Assert.Single(Errors(Ssl(new { cert = Pair.Cert, key = BadKey, sni = "test.com" })));
        Assert.Equal("failed to parse key: PEM_read_bio_PrivateKey() failed", error.Message);
        Assert.Equal(ConfigErrorForm.Bare, error.Form);
    }

    // ssl2.t TEST 8: bad certs.
    [Fact]
    public void Ssl2_t_TEST_8_bad_certs()
    {
        var error = Assert.Single(Errors(Ssl(new { cert = Pair.Cert, key = Pair.Key, sni = "t.com", certs = new[] { BadCert }, keys = new[] { Pair.Key } })));
        Assert.Equal("failed to handle cert-key pair[1]: failed to parse cert: PEM_read_bio_X509_AUX() failed", error.Message);
    }

    // ssl2.t TEST 9: bad keys.
    [Fact]
    public void Ssl2_t_TEST_9_bad_keys()
    {
        var error = Assert.Single(Errors(Ssl(new { cert = Pair.Cert, key = Pair.Key, sni = "t.com", certs = new[] { Pair.Cert }, keys = new[] { BadKey } })));
        Assert.Equal("failed to handle cert-key pair[1]: failed to parse key: PEM_read_bio_PrivateKey() failed", error.Message);
    }

    [Fact]
    public void The_second_extra_pair_is_pair_2()
    {
        var error = Assert.Single(Errors(Ssl(new { cert = Pair.Cert, key = Pair.Key, sni = "t.com", certs = new[] { Other.Cert, BadCert }, keys = new[] { Other.Key, Pair.Key } })));
        Assert.StartsWith("failed to handle cert-key pair[2]: ", error.Message, StringComparison.Ordinal);
    }

    // ssl2.t TEST 10: empty snis.
    [Fact]
    public void Ssl2_t_TEST_10_empty_snis()
    {
        var error = Assert.Single(Errors(Ssl(new { cert = Pair.Cert, key = Pair.Key, snis = Array.Empty<string>() })));
        Assert.Equal("property \"snis\" validation failed: expect array to have at least 1 items", error.Message);
    }

    [Fact]
    public void Mismatched_numbers_of_certs_and_keys()
    {
        var error = Assert.Single(Errors(Ssl(new { cert = Pair.Cert, key = Pair.Key, sni = "t.com", certs = new[] { Other.Cert } })));
        Assert.Equal("mismatched number of certs and keys", error.Message);
    }

    [Fact]
    public void A_key_of_another_certificate_is_refused_beyond_APISIX()
    {
        // APISIX stores it ("TODO: check if key & cert match") and fails every handshake.
        var error = Assert.Single(Errors(Ssl(new { cert = Pair.Cert, key = Other.Key, sni = "test.com" })));
        Assert.StartsWith("failed to handle cert-key pair: ", error.Message, StringComparison.Ordinal);
    }

    // ssl.t TEST 15: invalid format of label value.
    [Fact]
    public void Ssl_t_TEST_15_label_value_of_the_wrong_type()
    {
        var error = Assert.Single(Errors(Ssl(new { cert = Pair.Cert, key = Pair.Key, sni = "test.com", labels = new { env = new[] { "production", "release" } } })));
        Assert.Equal("property \"labels\" validation failed: failed to validate env (matching \".*\"): wrong type: expected string, got table", error.Message);
    }

    [Fact]
    public void A_bad_client_ca()
    {
        var error = Assert.Single(Errors(Ssl(new { cert = Pair.Cert, key = Pair.Key, sni = "test.com", client = new { ca = BadCert } })));
        Assert.Equal("failed to validate client_cert: failed to parse cert: PEM_read_bio_X509_AUX() failed", error.Message);
    }

    [Fact]
    public void Keys_are_at_least_64_characters()
    {
        var error = Assert.Single(Errors(Ssl(new { cert = Pair.Cert, key = new string('k', 63), sni = "test.com" })));
        Assert.Equal("property \"key\" validation failed: string too short, expected at least 64, got 63", error.Message);
    }

    [Fact]
    public void Environment_references_resolve_from_the_environment()
    {
        var name = "STREAMGATE_TEST_SSL_" + Guid.NewGuid().ToString("N");
        Environment.SetEnvironmentVariable(name, Pair.Cert);
        try
        {
            Assert.True(SslParser.TryResolve("$ENV://" + name, out var value, out _));
            Assert.Equal(Pair.Cert, value);
            Assert.True(SslParser.TryResolve("$env://" + name, out value, out _));
            Assert.Equal(Pair.Cert, value);
        }
        finally
        {
            Environment.SetEnvironmentVariable(name, null);
        }
        Assert.False(SslParser.TryResolve("$ENV://" + name, out _, out var missing));
        Assert.Contains("the environment has no variable", missing, StringComparison.Ordinal);
        Assert.False(SslParser.TryResolve("$secret://vault/a/b", out _, out var secret));
        Assert.Contains("secret managers are not available", secret, StringComparison.Ordinal);
        Assert.True(SslParser.TryResolve(Pair.Cert, out var pem, out _));
        Assert.Equal(Pair.Cert, pem);
    }

    [Fact]
    public void Ssl_protocols_items_are_enum_checked_as_APISIX()
    {
        var error = Assert.Single(Errors(Ssl(new { cert = Pair.Cert, key = Pair.Key, sni = "test.com", ssl_protocols = new[] { "TLSv1.2", "SSLv3" } })));
        Assert.Equal("property \"ssl_protocols\" validation failed: failed to validate item 2: matches none of the enum values", error.Message);
    }
}
