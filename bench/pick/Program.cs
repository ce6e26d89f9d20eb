using BenchmarkDotNet.Running;

// dotnet run -c Release --project bench/pick -- --job short --filter '*'   (docs/benchmarks.md, "Balancer pick cost", "SNI lookup cost")
BenchmarkSwitcher.FromAssembly(typeof(StreamGate.Bench.Pick.PickBenchmarks).Assembly).Run(args);
