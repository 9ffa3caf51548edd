// Benchmarks. Usage:
//   dotnet run -c Release --project tests/Pipeline.Benchmarks -- pipeline RUNNER_DLL WORK_DIR [items=10000000,...] [formats=parquet,csv]
//       the floor and the published Runner's `run` on DuckDB-generated thelook order items, then a second run a month
//       later in the same bucket; prints BENCHMARKS.md's table
//   dotnet run -c Release --project tests/Pipeline.Benchmarks -- generate WORK_DIR [items=10000000,...] [formats=parquet,csv]
//       only the input files (items-N.FORMAT), e.g. ahead of a measurement on a quiet machine
//   dotnet run -c Release --project tests/Pipeline.Benchmarks -- kmeans [rows=1000000] [k=5]
//       the in-process K-means against Microsoft.ML's trainer
// tests/Pipeline.Benchmarks/run-benchmarks.sh publishes the Runner and runs both.
using System.Globalization;
using Pipeline.Benchmarks;

switch (args.FirstOrDefault())
{
    case "pipeline" when args.Length >= 3:
        var items = (args.Length > 3 ? args[3] : "10000000").Split(',').Select(s => long.Parse(s, CultureInfo.InvariantCulture));
        var formats = (args.Length > 4 ? args[4] : "parquet,csv").Split(',');
        Directory.CreateDirectory(args[2]);
        var rows = new List<PipelineMeasurement>();
        foreach (var size in items)
            foreach (var format in formats)
            {
                var measured = PipelineBenchmark.Measure(Path.GetFullPath(args[1]), Path.GetFullPath(args[2]), size, format);
                rows.AddRange(measured);
                Console.Error.WriteLine(string.Join('\n', PipelineBenchmark.Table(measured).Split('\n')[2..]));
            }
        Console.WriteLine(PipelineBenchmark.Table(rows));
        return 0;
    case "generate" when args.Length >= 2:
        Directory.CreateDirectory(args[1]);
        foreach (var size in (args.Length > 2 ? args[2] : "10000000").Split(',').Select(s => long.Parse(s, CultureInfo.InvariantCulture)))
            foreach (var format in (args.Length > 3 ? args[3] : "parquet,csv").Split(','))
                ThelookOrderItems.EnsureFile(Path.Combine(Path.GetFullPath(args[1]), $"items-{size}.{format}"), size);
        return 0;
    case "kmeans":
        KMeansComparison.Run(args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 1_000_000,
            args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 5);
        return 0;
    default:
        Console.Error.WriteLine("usage: pipeline RUNNER_DLL WORK_DIR [items,...] [formats] | generate WORK_DIR [items,...] [formats] | kmeans [rows] [k]");
        return 2;
}
