using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace StreamGate.Config;

/// <summary>A certificate object (APISIX's ssl): stored and validated now; the TLS data plane serves it later.</summary>
internal sealed record SslConfig
{
    public required string Id { get; init; }
    public string? Cert { get; init; }
    public string? Key { get; init; }
    public IReadOnlyList<string> Snis { get; init; } = [];
    public string Type { get; init; } = "server";
    public string? ClientCa { get; init; }
    public int? ClientDepth { get; init; }
    public IReadOnlyList<string>? Protocols { get; init; }
    public int Status { get; init; } = 1;
}

/// <summary>
/// Validates ssl objects as APISIX's ssl schema and check_ssl_conf do: PEM certificate and key, SNIs, mTLS client
/// settings, in APISIX's messages (<c>then clause did not match</c>, <c>failed to parse cert: PEM_read_bio_X509_AUX() failed</c>,
/// <c>failed to handle cert-key pair[1]: ...</c>). A <c>$secret://</c> or <c>$ENV://</c> reference in place of a PEM is
/// accepted unparsed, as APISIX does: <c>$ENV://NAME</c> is read from the environment when the certificate is served;
/// <c>$secret://</c> needs a secret manager, which a later version brings.
/// </summary>
internal static partial class SslParser
{
    private const string CertParseFailure = "failed to parse cert: PEM_read_bio_X509_AUX() failed";
    private const string KeyParseFailure = "failed to parse key: PEM_read_bio_PrivateKey() failed";

    /// <summary>APISIX's host_def pattern, which its ssl schema uses for sni and snis.</summary>
    [GeneratedRegex(@"^\*\z|^\*?[0-9a-zA-Z-._\[\]:]+\z")]
    private static partial Regex SniPattern();

    /// <summary>APISIX's secret.check_secret_uri: <c>$secret://</c>, or <c>$ENV://</c> in any case.</summary>
    public static bool IsSecretReference(string? text) =>
        text is not null && (text.StartsWith("$secret://", StringComparison.Ordinal) || text.StartsWith("$ENV://", StringComparison.OrdinalIgnoreCase));

    /// <summary>
    /// The PEM a field stands for when the certificate is served: the text itself, or for <c>$ENV://NAME</c> the
    /// variable NAME of this process's environment (APISIX's core.env). <c>$secret://</c> references need a secret
    /// manager (Vault, AWS, GCP), which this version does not have: they resolve to an error.
    /// </summary>
    public static bool TryResolve(string text, out string? value, out string? error)
    {
        value = null;
        error = null;
        if (!IsSecretReference(text))
        {
            value = text;
            return true;
        }
        if (text.StartsWith("$secret://", StringComparison.Ordinal))
        {
            error = $"cannot resolve {text}: secret managers are not available in this StreamGate version yet; use $ENV://NAME or the PEM itself";
            return false;
        }
        var name = text["$ENV://".Length..];
        value = Environment.GetEnvironmentVariable(name);
        if (value is null)
        {
            error = $"cannot resolve {text}: the environment has no variable {name}";
            return false;
        }
        return true;
    }

    /// <param name="keyIsEncrypted">The stored form: the key is ciphertext, so only its presence is checked.</param>
    public static SslConfig? Parse(JsonObject obj, string path, List<ConfigError> errors, bool keyIsEncrypted = false)
    {
        var before = errors.Count;
        var r = new JsonObjectReader(obj, path, errors);
        var id = ResourceParser.ReadId(r);
        r.Allow("create_time", "update_time", "labels", "validity_start", "validity_end");
        var (certs, keys) = (ReadPemList(r, "certs", 128), ReadPemList(r, "keys", 64));
        _ = r.Labels();
        _ = r.String("desc", 0, 256);
        var type = r.Enum("type", "server", "client") ?? "server";
        var cert = ReadPem(r, "cert", 128);
        var key = ReadPem(r, "key", 64);
        var sni = r.String("sni", 0, int.MaxValue, SniPattern());
        var snis = new List<string>();
        if (r.Array("snis") is { } snisArray)
        {
            if (snisArray.Count == 0)
            {
                r.Error("snis", "expect array to have at least 1 items");
            }
            for (var i = 0; i < snisArray.Count; i++)
            {
                var text = snisArray[i]?.GetValueKind() == System.Text.Json.JsonValueKind.String ? snisArray[i]!.GetValue<string>() : null;
                if (text is null || !SniPattern().IsMatch(text))
                {
                    errors.Add(new ConfigError($"{path}.snis[{i}]", $"property \"snis\" validation failed: failed to match pattern \"{JsonObjectReader.PatternText(SniPattern())}\" with \"{snisArray[i]}\""));
                    continue;
                }
                snis.Add(text);
            }
        }
        string? ca = null;
        int? depth = null;
        if (r.Object("client") is { } client)
        {
            var c = new JsonObjectReader(client, r.Child("client"), errors);
            ca = ReadPem(c, "ca", 128);
            depth = (int?)c.Integer("depth", 0, 16);
            c.Allow("skip_mtls_uri_regex");
            c.Finish();
            if (ca is null && !c.Has("ca"))
            {
                errors.Add(new ConfigError(c.Child("ca"), "property \"ca\" is required"));
            }
        }
        List<string>? protocols = null;
        if (r.Array("ssl_protocols") is { } protocolArray)
        {
            protocols = [];
            for (var i = 0; i < protocolArray.Count; i++)
            {
                var text = protocolArray[i]?.ToString();
                if (text is not ("TLSv1.1" or "TLSv1.2" or "TLSv1.3"))
                {
                    errors.Add(new ConfigError(r.Child("ssl_protocols"), $"property \"ssl_protocols\" validation failed: failed to validate item {i + 1}: matches none of the enum values")
                    {
                        Hint = $"expected one of TLSv1.1, TLSv1.2, TLSv1.3, got \"{text}\"",
                    });
                    continue;
                }
                protocols.Add(text);
            }
        }
        var status = (int?)r.Integer("status", 0, 1) ?? 1;
        r.Finish();
        if (type == "server")
        {
            // APISIX's "if type is server then oneOf {sni, key, cert} | {snis, key, cert}": exactly one of sni and snis.
            var withSni = r.Has("sni") && r.Has("key") && r.Has("cert");
            var withSnis = r.Has("snis") && r.Has("key") && r.Has("cert");
            if (withSni == withSnis)
            {
                errors.Add(new ConfigError(path, "then clause did not match")
                {
                    Hint = "a server certificate needs cert, key and either sni or snis (not both): the names it is served for",
                });
            }
        }
        else
        {
            foreach (var required in (ReadOnlySpan<string>)["key", "cert"])
            {
                if (!r.Has(required))
                {
                    errors.Add(new ConfigError(r.Child(required), $"property \"{required}\" is required"));
                }
            }
        }
        if (sni is not null)
        {
            snis.Add(sni);
        }
        // check_ssl_conf runs once the schema holds, and stops at its first failure.
        if (errors.Count == before)
        {
            CheckSemantics(cert, key, type, certs, keys, ca, keyIsEncrypted, path, errors);
        }
        if (errors.Count != before)
        {
            return null;
        }
        return new SslConfig
        {
            Id = id ?? "",
            Cert = cert,
            Key = key,
            Snis = snis,
            Type = type,
            ClientCa = ca,
            ClientDepth = depth,
            Protocols = protocols,
            Status = status,
        };
    }

    private static void CheckSemantics(string? cert, string? key, string type, List<string?>? certs, List<string?>? keys, string? ca, bool keyIsEncrypted, string path, List<ConfigError> errors)
    {
        if (cert is not null && key is not null && !IsSecretReference(cert) && !IsSecretReference(key) &&
            Validate(cert, key, keyIsEncrypted) is { } pairError)
        {
            errors.Add(new ConfigError(path.Length == 0 ? "cert" : path + ".cert", pairError) { Form = ConfigErrorForm.Bare });
            return;
        }
        if (type == "client")
        {
            return;
        }
        if ((certs?.Count ?? 0) != (keys?.Count ?? 0))
        {
            errors.Add(new ConfigError(path, "mismatched number of certs and keys")
            {
                Hint = "certs and keys go together: one key for each certificate, in the same order",
                Form = ConfigErrorForm.Bare,
            });
            return;
        }
        for (var i = 0; i < (certs?.Count ?? 0); i++)
        {
            if (certs![i] is { } extraCert && keys![i] is { } extraKey && !IsSecretReference(extraCert) && !IsSecretReference(extraKey) &&
                Validate(extraCert, extraKey, keyIsEncrypted) is { } extraError)
            {
                // APISIX counts the pairs from 1.
                errors.Add(new ConfigError($"{(path.Length == 0 ? "" : path + ".")}certs[{i}]", $"failed to handle cert-key pair[{i + 1}]: {extraError}") { Form = ConfigErrorForm.Bare });
                return;
            }
        }
        if (ca is not null && !IsSecretReference(ca) && !TryLoadCertificate(ca, out _))
        {
            errors.Add(new ConfigError($"{(path.Length == 0 ? "" : path + ".")}client.ca", $"failed to validate client_cert: {CertParseFailure}") { Form = ConfigErrorForm.Bare });
        }
    }

    /// <summary>A PEM string of APISIX's length limits, or a secret reference (any length).</summary>
    private static string? ReadPem(JsonObjectReader r, string name, int minLength)
    {
        var node = r.Node(name);
        if (node?.GetValueKind() == System.Text.Json.JsonValueKind.String && IsSecretReference(node.GetValue<string>()))
        {
            return node.GetValue<string>();
        }
        return r.String(name, minLength, 64 * 1024);
    }

    /// <summary>certs/keys: further certificates (another key type) served for the same names, pairwise.</summary>
    private static List<string?>? ReadPemList(JsonObjectReader r, string name, int minLength)
    {
        if (r.Array(name) is not { } array)
        {
            return null;
        }
        var list = new List<string?>();
        for (var i = 0; i < array.Count; i++)
        {
            var text = array[i]?.GetValueKind() == System.Text.Json.JsonValueKind.String ? array[i]!.GetValue<string>() : null;
            string? problem = text switch
            {
                null => $"wrong type: expected string, got {JsonObjectReader.Describe(array[i])}",
                _ when IsSecretReference(text) => null,
                { Length: var n } when n < minLength => $"string too short, expected at least {minLength}, got {n}",
                { Length: var n } when n > 64 * 1024 => $"string too long, expected at most {64 * 1024}, got {n}",
                _ => null,
            };
            if (problem is not null)
            {
                r.Errors.Add(new ConfigError($"{r.Child(name)}[{i}]", $"property \"{name}\" validation failed: failed to validate item {i + 1}: {problem}"));
                text = null;
            }
            list.Add(text);
        }
        return list;
    }

    /// <summary>APISIX's ssl.validate: the certificate parses, then the key; beyond APISIX, the key must be the certificate's.</summary>
    private static string? Validate(string cert, string key, bool keyIsEncrypted)
    {
        if (!TryLoadCertificate(cert, out var certificate))
        {
            return CertParseFailure;
        }
        using (certificate)
        {
            if (keyIsEncrypted)
            {
                return null;
            }
            try
            {
                using var withKey = X509Certificate2.CreateFromPem(cert, key);
                return null;
            }
            catch (CryptographicException)
            {
                return KeyParseFailure;
            }
            catch (ArgumentException)
            {
                // beyond: APISIX stores a key of another certificate ("TODO: check if key & cert match") and fails at the handshake.
                return "failed to handle cert-key pair: the private key does not belong to the certificate";
            }
        }
    }

    private static bool TryLoadCertificate(string pem, out X509Certificate2? certificate)
    {
        try
        {
            certificate = X509Certificate2.CreateFromPem(pem);
            return true;
        }
        catch (CryptographicException)
        {
            certificate = null;
            return false;
        }
    }
}
