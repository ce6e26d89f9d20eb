using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;

namespace StreamGate.IntegrationTests.Admin;

/// <summary>
/// ssl objects: private keys are accepted, never returned by any answer, and stored encrypted with the keyring
/// (the SQLite files hold APISIX's AES-128-CBC ciphertext and not a line of the PEM).
/// </summary>
public sealed class AdminSslTests(AdminGatewayFixture fixture) : IClassFixture<AdminGatewayFixture>
{
    private const int TestTimeoutMs = 60_000;

    private AdminGateway Gateway => fixture.Gateway;

    /// <summary>A self-signed P-256 certificate for <paramref name="name"/> and its key, in PEM.</summary>
    internal static (string Cert, string Key) SelfSigned(string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName(name);
        request.CertificateExtensions.Add(san.Build());
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        return (certificate.ExportCertificatePem(), key.ExportPkcs8PrivateKeyPem());
    }

    private static string SslBody(string cert, string key, string snis) =>
        new JsonObject { ["cert"] = cert, ["key"] = key, ["snis"] = JsonNode.Parse(snis) }.ToJsonString();

    /// <summary>What APISIX stores for a key: base64 of AES-128-CBC with the first 16 bytes of the keyring entry as key and IV.</summary>
    private static string ApisixCiphertext(string plain)
    {
        var secret = Encoding.UTF8.GetBytes(AdminGateway.Keyring)[..16];
        using var aes = Aes.Create();
        aes.Key = secret;
        return Convert.ToBase64String(aes.EncryptCbc(Encoding.UTF8.GetBytes(plain), secret));
    }

    /// <summary>The base64 lines of a PEM body: any one of them in a file means the key is there in clear.</summary>
    private static string[] PemBodyLines(string pem) =>
        [.. pem.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Where(l => !l.StartsWith("-----", StringComparison.Ordinal))];

    /// <summary>The store's bytes with System.Text.Json's escapes of base64 characters undone.</summary>
    private string StoredText() =>
        Gateway.StoreBytes().Replace("\\u002B", "+", StringComparison.Ordinal).Replace("\\u002F", "/", StringComparison.Ordinal);

    /// <summary>A write's answer: the key only as APISIX's ciphertext (ssl2.t TEST 1 to 3), no line of the PEM.</summary>
    private static void AssertOnlyEncryptedKey(AdminResponse response, string key)
    {
        Assert.DoesNotContain("PRIVATE KEY", response.Text, StringComparison.Ordinal);
        foreach (var line in PemBodyLines(key))
        {
            Assert.DoesNotContain(line, response.Text, StringComparison.Ordinal);
        }
    }

    /// <summary>A read's answer: no private key at all, not even encrypted (ssl2.t TEST 4).</summary>
    private static void AssertNoPrivateKey(AdminResponse response, string key)
    {
        Assert.DoesNotContain("PRIVATE KEY", response.Text, StringComparison.Ordinal);
        foreach (var line in PemBodyLines(key))
        {
            Assert.DoesNotContain(line, response.Text, StringComparison.Ordinal);
        }
        Assert.DoesNotContain("\"key\":\"", response.Text.Replace("\"key\":\"/apisix/", "", StringComparison.Ordinal), StringComparison.Ordinal);
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task Private_keys_are_answered_only_encrypted_by_writes_never_by_reads_and_stored_encrypted()
    {
        var (cert, key) = SelfSigned("a.test");
        var created = await Gateway.PutAsync("ssls/ssl-1", SslBody(cert, key, """["a.test", "*.a.test"]"""));
        Assert.True(created.Status == HttpStatusCode.Created, created.ToString());
        Assert.Equal("/apisix/ssls/ssl-1", created.Body!["key"]!.GetValue<string>());
        Assert.Equal(ApisixCiphertext(key), created.Body["value"]!["key"]!.GetValue<string>());
        Assert.Equal(cert, created.Body["value"]!["cert"]!.GetValue<string>());
        AssertOnlyEncryptedKey(created, key);

        var got = await Gateway.GetAsync("ssls/ssl-1");
        Assert.Equal(HttpStatusCode.OK, got.Status);
        Assert.Null(got.Body!["value"]!["key"]);
        Assert.Equal(["a.test", "*.a.test"], got.Body["value"]!["snis"]!.AsArray().Select(s => s!.GetValue<string>()));
        AssertNoPrivateKey(got, key);
        var list = await Gateway.GetAsync("ssls");
        Assert.Contains(list.Body!["list"]!.AsArray(), i => i!["value"]!["id"]!.GetValue<string>() == "ssl-1");
        AssertNoPrivateKey(list, key);
        AssertNoPrivateKey(await Gateway.GetAsync("ssls", key: AdminGateway.ViewerKey), key);

        // At rest: APISIX's ciphertext is there, no line of the PEM is (in the database, its WAL or anywhere beside).
        var stored = StoredText();
        Assert.Contains(ApisixCiphertext(key), stored, StringComparison.Ordinal);
        Assert.DoesNotContain("PRIVATE KEY", stored, StringComparison.Ordinal);
        foreach (var line in PemBodyLines(key))
        {
            Assert.DoesNotContain(line, stored, StringComparison.Ordinal);
        }
        // The certificate itself is public and stored as sent.
        Assert.Contains(PemBodyLines(cert)[0], stored, StringComparison.Ordinal);
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task Patch_keeps_the_stored_key_and_checks_a_new_one()
    {
        var (cert, key) = SelfSigned("b.test");
        Assert.Equal(HttpStatusCode.Created, (await Gateway.PutAsync("ssls/ssl-2", SslBody(cert, key, """["b.test"]"""))).Status);

        var patched = await Gateway.PatchAsync("ssls/ssl-2", """{"snis": ["b.test", "c.test"], "labels": {"team": "edge"}}""");
        Assert.True(patched.Status == HttpStatusCode.OK, patched.ToString());
        Assert.Equal(ApisixCiphertext(key), patched.Body!["value"]!["key"]!.GetValue<string>());
        AssertOnlyEncryptedKey(patched, key);
        var value = (await Gateway.GetAsync("ssls/ssl-2")).Body!["value"]!;
        Assert.Equal(["b.test", "c.test"], value["snis"]!.AsArray().Select(s => s!.GetValue<string>()));
        Assert.Equal("edge", value["labels"]!["team"]!.GetValue<string>());
        Assert.Null(value["key"]);
        // The key survived the patch, still encrypted the same way.
        Assert.Contains(ApisixCiphertext(key), StoredText(), StringComparison.Ordinal);

        // A new matching pair replaces the key.
        var (newCert, newKey) = SelfSigned("b.test");
        var replaced = await Gateway.PatchAsync("ssls/ssl-2", new JsonObject { ["cert"] = newCert, ["key"] = newKey }.ToJsonString());
        Assert.True(replaced.Status == HttpStatusCode.OK, replaced.ToString());
        Assert.Equal(newCert, (await Gateway.GetAsync("ssls/ssl-2")).Body!["value"]!["cert"]!.GetValue<string>());
        Assert.Contains(ApisixCiphertext(newKey), StoredText(), StringComparison.Ordinal);

        Assert.Equal(HttpStatusCode.OK, (await Gateway.DeleteAsync("ssls/ssl-2")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await Gateway.GetAsync("ssls/ssl-2")).Status);
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task Extra_keys_for_extra_certs_are_encrypted_and_hidden_too()
    {
        var (cert, key) = SelfSigned("f.test");
        var (extraCert, extraKey) = SelfSigned("f.test");
        var body = new JsonObject
        {
            ["cert"] = cert,
            ["key"] = key,
            ["certs"] = new JsonArray(extraCert),
            ["keys"] = new JsonArray(extraKey),
            ["snis"] = new JsonArray("f.test"),
        };
        var created = await Gateway.PutAsync("ssls/ssl-6", body.ToJsonString());
        Assert.True(created.Status == HttpStatusCode.Created, created.ToString());
        Assert.Equal(ApisixCiphertext(extraKey), created.Body!["value"]!["keys"]![0]!.GetValue<string>());
        AssertOnlyEncryptedKey(created, extraKey);
        var got = await Gateway.GetAsync("ssls/ssl-6");
        Assert.Null(got.Body!["value"]!["keys"]);
        Assert.Equal(extraCert, got.Body["value"]!["certs"]![0]!.GetValue<string>());
        AssertNoPrivateKey(got, extraKey);
        AssertEncryptedAtRest(extraKey);

        // A PATCH that does not touch keys keeps them, encrypted once (not re-encrypted ciphertext).
        Assert.Equal(HttpStatusCode.OK, (await Gateway.PatchAsync("ssls/ssl-6", """{"labels": {"v": "2"}}""")).Status);
        AssertEncryptedAtRest(extraKey);
        AssertEncryptedAtRest(key);
        Assert.Null((await Gateway.GetAsync("ssls/ssl-6")).Body!["value"]!["keys"]);
    }

    private void AssertEncryptedAtRest(string key)
    {
        var stored = StoredText();
        Assert.Contains(ApisixCiphertext(key), stored, StringComparison.Ordinal);
        foreach (var line in PemBodyLines(key))
        {
            Assert.DoesNotContain(line, stored, StringComparison.Ordinal);
        }
    }

    // ssl.t TEST 22 and the secret tests (t/admin/ssl*.t): APISIX stores a key that is a $secret:// or $ENV://
    // reference as it is, not encrypted (it names where the key is); a PATCH keeps it so.
    [Fact(Timeout = TestTimeoutMs)]
    public async Task Key_references_are_stored_as_they_are_not_encrypted()
    {
        var body = new JsonObject
        {
            ["snis"] = new JsonArray("ref.test"),
            ["cert"] = "$ENV://SG_REF_TEST_CERT",
            ["key"] = "$ENV://SG_REF_TEST_KEY",
            ["certs"] = new JsonArray("$secret://vault/1/ref-test/cert"),
            ["keys"] = new JsonArray("$secret://vault/1/ref-test/key"),
        };
        var created = await Gateway.PutAsync("ssls/ssl-ref", body.ToJsonString());
        Assert.True(created.Status == HttpStatusCode.Created, created.ToString());
        // A reference is answered as stored: as it is.
        Assert.Equal("$ENV://SG_REF_TEST_KEY", created.Body!["value"]!["key"]!.GetValue<string>());
        Assert.Null((await Gateway.GetAsync("ssls/ssl-ref")).Body!["value"]!["key"]);

        var stored = StoredText();
        Assert.Contains("$ENV://SG_REF_TEST_KEY", stored, StringComparison.Ordinal);
        Assert.Contains("$secret://vault/1/ref-test/key", stored, StringComparison.Ordinal);
        Assert.DoesNotContain(ApisixCiphertext("$ENV://SG_REF_TEST_KEY"), stored, StringComparison.Ordinal);
        Assert.DoesNotContain(ApisixCiphertext("$secret://vault/1/ref-test/key"), stored, StringComparison.Ordinal);

        // A PATCH that leaves the keys alone keeps the references as they are.
        var patched = await Gateway.PatchAsync("ssls/ssl-ref", """{"labels": {"team": "edge"}}""");
        Assert.True(patched.Status == HttpStatusCode.OK, patched.ToString());
        stored = StoredText();
        Assert.Contains("$ENV://SG_REF_TEST_KEY", stored, StringComparison.Ordinal);
        Assert.Contains("$secret://vault/1/ref-test/key", stored, StringComparison.Ordinal);
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task A_key_that_is_not_the_certificates_is_400()
    {
        var (cert, key) = SelfSigned("e.test");
        var (_, otherKey) = SelfSigned("other.test");
        var mismatchedPut = await Gateway.PutAsync("ssls/ssl-5", SslBody(cert, otherKey, """["e.test"]"""));
        Assert.True(mismatchedPut.Status == HttpStatusCode.BadRequest, mismatchedPut.ToString());
        // Bare, as APISIX answers its ssl.lua validate failures (no "invalid configuration: ").
        Assert.Equal("failed to handle cert-key pair: the private key does not belong to the certificate", mismatchedPut.ErrorMessage);
        AssertNoPrivateKey(mismatchedPut, otherKey);
        Assert.Equal(HttpStatusCode.NotFound, (await Gateway.GetAsync("ssls/ssl-5")).Status);

        Assert.Equal(HttpStatusCode.Created, (await Gateway.PutAsync("ssls/ssl-5", SslBody(cert, key, """["e.test"]"""))).Status);
        var mismatchedPatch = await Gateway.PatchAsync("ssls/ssl-5", new JsonObject { ["key"] = otherKey }.ToJsonString());
        Assert.True(mismatchedPatch.Status == HttpStatusCode.BadRequest, mismatchedPatch.ToString());
        Assert.Contains("cert-key pair", mismatchedPatch.ErrorMessage, StringComparison.Ordinal);
        Assert.Contains(ApisixCiphertext(key), StoredText(), StringComparison.Ordinal);
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task Ssl_objects_are_validated()
    {
        var (cert, key) = SelfSigned("d.test");
        var noSni = await Gateway.PutAsync("ssls/ssl-4", new JsonObject { ["cert"] = cert, ["key"] = key }.ToJsonString());
        Assert.Equal(HttpStatusCode.BadRequest, noSni.Status);
        Assert.StartsWith("invalid configuration: ", noSni.ErrorMessage, StringComparison.Ordinal);
        var noKey = await Gateway.PutAsync("ssls/ssl-4", new JsonObject { ["cert"] = cert, ["snis"] = new JsonArray("d.test") }.ToJsonString());
        Assert.Equal(HttpStatusCode.BadRequest, noKey.Status);
        // APISIX (ssl.t TEST 6): a server certificate without its key fails the schema's if/then, not a "required".
        Assert.Equal("invalid configuration: then clause did not match", noKey.ErrorMessage);
        var both = await Gateway.PutAsync("ssls/ssl-4", new JsonObject { ["cert"] = cert, ["key"] = key, ["sni"] = "d.test", ["snis"] = new JsonArray("d.test") }.ToJsonString());
        Assert.Equal(HttpStatusCode.BadRequest, both.Status);
        Assert.Equal(HttpStatusCode.NotFound, (await Gateway.GetAsync("ssls/ssl-4")).Status);

        var posted = await Gateway.PostAsync("ssls", new JsonObject { ["cert"] = cert, ["key"] = key, ["sni"] = "d.test" }.ToJsonString());
        Assert.True(posted.Status == HttpStatusCode.Created, posted.ToString());
        Assert.Matches("^[0-9]{20}$", posted.Body!["value"]!["id"]!.GetValue<string>());
        Assert.Equal(ApisixCiphertext(key), posted.Body["value"]!["key"]!.GetValue<string>());
        AssertOnlyEncryptedKey(posted, key);
    }
}
