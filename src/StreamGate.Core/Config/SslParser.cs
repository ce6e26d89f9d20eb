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

/// <summary>Validates ssl objects: PEM certificate and key that belong together, SNIs, mTLS client settings.</summary>
internal static partial class SslParser
{
    [GeneratedRegex(@"^\*?[0-9a-zA-Z-._]+$")]
    private static partial Regex SniPattern();

    /// <param name="keyIsEncrypted">The stored form: the key is ciphertext, so only its presence is checked.</param>
    public static SslConfig? Parse(JsonObject obj, string path, List<ConfigError> errors, bool keyIsEncrypted = false)
    {
        var before = errors.Count;
        var r = new JsonObjectReader(obj, path, errors);
        var id = ResourceParser.ReadId(r);
        r.Allow("create_time", "update_time", "labels", "validity_start", "validity_end");
        ReadExtraPairs(r, keyIsEncrypted);
        _ = r.Labels();
        var type = r.Enum("type", "server", "client") ?? "server";
        var cert = r.String("cert", 128, 64 * 1024);
        var key = r.String("key", 32, 64 * 1024);
        var sni = r.String("sni", 1, 4096, SniPattern());
        var snis = new List<string>();
        if (r.Array("snis") is { } snisArray)
        {
            for (var i = 0; i < snisArray.Count; i++)
            {
                var text = snisArray[i]?.GetValueKind() == System.Text.Json.JsonValueKind.String ? snisArray[i]!.GetValue<string>() : null;
                if (text is null || !SniPattern().IsMatch(text))
                {
                    errors.Add(new ConfigError($"{path}.snis[{i}]", $"property \"snis\" validation failed: failed to match pattern \"{SniPattern()}\" with \"{snisArray[i]}\""));
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
            ca = c.String("ca", 128, 64 * 1024);
            depth = (int?)c.Integer("depth", 0, 16);
            c.Allow("skip_mtls_uri_regex");
            c.Finish();
            if (ca is null && !c.Has("ca"))
            {
                errors.Add(new ConfigError(c.Child("ca"), "property \"ca\" is required"));
            }
            else if (ca is not null && !TryLoadCertificate(ca, out _))
            {
                errors.Add(new ConfigError(c.Child("ca"), "failed to parse client.ca: not a PEM certificate"));
            }
        }
        List<string>? protocols = null;
        if (r.Array("ssl_protocols") is { } protocolArray)
        {
            protocols = [];
            foreach (var p in protocolArray)
            {
                var text = p?.ToString();
                if (text is not ("TLSv1.1" or "TLSv1.2" or "TLSv1.3"))
                {
                    r.Error("ssl_protocols", $"matches none of the enum values: expected one of TLSv1.1, TLSv1.2, TLSv1.3, got \"{text}\"");
                    continue;
                }
                protocols.Add(text);
            }
        }
        var status = (int?)r.Integer("status", 0, 1) ?? 1;
        r.Finish();
        if (sni is not null && snis.Count > 0)
        {
            errors.Add(new ConfigError(path, "set either sni or snis, not both"));
        }
        if (sni is not null)
        {
            snis.Add(sni);
        }
        if (cert is null && !r.Has("cert"))
        {
            errors.Add(new ConfigError(r.Child("cert"), "property \"cert\" is required"));
        }
        if (key is null && !r.Has("key"))
        {
            errors.Add(new ConfigError(r.Child("key"), "property \"key\" is required"));
        }
        if (type == "server" && snis.Count == 0 && !r.Has("sni") && !r.Has("snis"))
        {
            errors.Add(new ConfigError(path, "a server certificate needs sni or snis: the names it is served for"));
        }
        if (errors.Count == before && cert is not null && key is not null)
        {
            CheckPair(cert, key, keyIsEncrypted, r.Child("cert"), errors);
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

    /// <summary>certs/keys: further certificates (another key type) served for the same names, pairwise.</summary>
    private static void ReadExtraPairs(JsonObjectReader r, bool keysAreEncrypted)
    {
        var certs = r.Array("certs");
        var keys = r.Array("keys");
        if (certs is null && keys is null)
        {
            return;
        }
        if (certs is null || keys is null || certs.Count != keys.Count)
        {
            r.Errors.Add(new ConfigError(r.Path, "certs and keys go together: one key for each certificate, in the same order"));
            return;
        }
        for (var i = 0; i < certs.Count; i++)
        {
            var cert = certs[i]?.GetValueKind() == System.Text.Json.JsonValueKind.String ? certs[i]!.GetValue<string>() : null;
            var key = keys[i]?.GetValueKind() == System.Text.Json.JsonValueKind.String ? keys[i]!.GetValue<string>() : null;
            if (cert is null || key is null)
            {
                r.Errors.Add(new ConfigError($"{r.Child("certs")}[{i}]", "property \"certs\" validation failed: each certificate and key must be a PEM string"));
                continue;
            }
            CheckPair(cert, key, keysAreEncrypted, $"{r.Child("certs")}[{i}]", r.Errors);
        }
    }

    private static void CheckPair(string cert, string key, bool keyIsEncrypted, string path, List<ConfigError> errors)
    {
        if (!TryLoadCertificate(cert, out var certificate))
        {
            errors.Add(new ConfigError(path, "failed to parse cert: not a PEM certificate"));
            return;
        }
        using (certificate)
        {
            if (keyIsEncrypted)
            {
                return;
            }
            try
            {
                using var withKey = X509Certificate2.CreateFromPem(cert, key);
            }
            catch (Exception e) when (e is CryptographicException or ArgumentException)
            {
                // A key of another certificate is an ArgumentException, an unreadable one a CryptographicException.
                errors.Add(new ConfigError(path, $"failed to handle cert-key pair: {e.Message.TrimEnd('.')}; the key must be the PEM private key of this certificate"));
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
