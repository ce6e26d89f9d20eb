using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;

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
internal static class SslParser
{
    private const string CertParseFailure = "failed to parse cert: PEM_read_bio_X509_AUX() failed";
    private const string KeyParseFailure = "failed to parse key: PEM_read_bio_PrivateKey() failed";

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

    /// <summary>
    /// Checks an ssl object against <see cref="SslDefinition"/>, then, once the schema holds, the certificates
    /// themselves (APISIX's check_ssl_conf, which stops at its first failure), and builds the model.
    /// </summary>
    /// <param name="keyIsEncrypted">The stored form: the key is ciphertext, so only its presence is checked.</param>
    public static SslConfig? Parse(JsonObject obj, string path, List<ConfigError> errors, bool keyIsEncrypted = false)
    {
        var r = new SemanticPass(SslDefinition.Schema, obj, path, errors);
        var id = r.Id("id");
        if (!r.Valid)
        {
            r.Finish();
            return null;
        }
        var type = r.String("type") ?? "server";
        var cert = r.String("cert");
        var key = r.String("key");
        var certs = Strings(r.Clean("certs"));
        var keys = Strings(r.Clean("keys"));
        var client = r.Clean("client") as JsonObject;
        var ca = client?["ca"]?.GetValue<string>();
        CheckSemantics(cert, key, type, certs, keys, ca, keyIsEncrypted, path, errors);
        if (!r.Valid)
        {
            return null;
        }
        var snis = Strings(r.Clean("snis"))?.ConvertAll(s => s!) ?? [];
        if (r.String("sni") is { } sni)
        {
            snis.Add(sni);
        }
        return new SslConfig
        {
            Id = id ?? "",
            Cert = cert,
            Key = key,
            Snis = snis,
            Type = type,
            ClientCa = ca,
            ClientDepth = client?["depth"] is { } depth && JsonObjectReader.TryGetInteger(depth, out var d) ? (int)d : null,
            Protocols = Strings(r.Clean("ssl_protocols"))?.ConvertAll(s => s!),
            Status = (int?)r.Integer("status") ?? 1,
        };
    }

    private static List<string?>? Strings(JsonNode? node) => (node as JsonArray)?.Select(n => n?.GetValue<string>()).ToList();

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
