using System.Globalization;
using Xunit.Abstractions;

namespace StreamGate.IntegrationTests.Robustness;

/// <summary>
/// Seeds for the randomised robustness tests. STREAMGATE_TEST_SEED=&lt;n&gt; replays a run; otherwise the test's
/// default (fixed for the fuzz test, fresh for the kill-moment test). The seed is printed and put in failure messages.
/// </summary>
internal static class TestSeed
{
    public static int Get(ITestOutputHelper output, int? fixedDefault = null)
    {
        var text = Environment.GetEnvironmentVariable("STREAMGATE_TEST_SEED");
        var seed = int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var given)
            ? given
            : fixedDefault ?? Random.Shared.Next();
        output.WriteLine($"seed {seed} (replay with STREAMGATE_TEST_SEED={seed})");
        return seed;
    }
}
