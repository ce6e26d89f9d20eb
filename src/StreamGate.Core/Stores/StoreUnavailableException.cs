namespace StreamGate.Stores;

/// <summary>
/// A store that cannot do what was asked: the disk is full, the file cannot be written or read. The message says
/// what failed and why, in words an operator can act on; the store's own exception is the inner one. Callers answer
/// it as "try again later" (the admin API's 503), never as a bug.
/// </summary>
internal sealed class StoreUnavailableException(string message, Exception? inner = null) : Exception(message, inner);
