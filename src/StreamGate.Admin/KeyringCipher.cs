using System.Security.Cryptography;
using System.Text;

namespace StreamGate.Admin;

/// <summary>
/// Encrypts private keys at rest the way APISIX does (apisix.data_encryption.keyring): AES-128-CBC with the
/// first 16 bytes of a keyring entry as key and IV, base64 encoded. The first entry encrypts; every entry is
/// tried to decrypt, so a keyring can be rotated by putting the new key first.
/// </summary>
internal sealed class KeyringCipher
{
    private readonly byte[][] _keys;

    public KeyringCipher(IReadOnlyList<string> keyring)
    {
        _keys = [.. keyring.Select(k => Encoding.UTF8.GetBytes(k)[..16])];
    }

    public bool Enabled => _keys.Length > 0;

    public string Encrypt(string plain)
    {
        if (!Enabled)
        {
            return plain;
        }
        using var aes = Aes.Create();
        aes.Key = _keys[0];
        return Convert.ToBase64String(aes.EncryptCbc(Encoding.UTF8.GetBytes(plain), _keys[0]));
    }

    public string? Decrypt(string stored)
    {
        if (!Enabled)
        {
            return stored;
        }
        byte[] cipher;
        try
        {
            cipher = Convert.FromBase64String(stored);
        }
        catch (FormatException)
        {
            return null;
        }
        foreach (var key in _keys)
        {
            try
            {
                using var aes = Aes.Create();
                aes.Key = key;
                return Encoding.UTF8.GetString(aes.DecryptCbc(cipher, key));
            }
            catch (CryptographicException)
            {
            }
        }
        return null;
    }
}
