#!/usr/bin/env bash
# The benchmark of BENCHMARKS.md: publishes the Runner in Release, then for each size and format generates
# thelook-shaped order items with DuckDB (not with the pipeline's generator, so both sides read identical bytes),
# runs the floor (DuckDB alone, 2 threads, the same statistics, zstd Parquet out) and the pipeline's `run` back to
# back, then a second `run` a month later in the same bucket (the scheduled case, compared with the first), with the
# floor measured again between and after the runs (each run's ratio is to the mean of the floors either side of it),
# and prints the table with ratios. Then the lab's size (`run` with no input: sample generation included,
# then again with the sample present) and the K-means comparison with Microsoft.ML.
# Usage: tests/Pipeline.Benchmarks/run-benchmarks.sh [work-dir] [items=10000000,100000000] [formats=parquet,csv]
# Disk: about 1.3 GB per 10 million items in CSV, 0.25 GB in Parquet.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
work="${1:-$(mktemp -d)}"
items="${2:-10000000,100000000}"
formats="${3:-parquet,csv}"
mkdir -p "$work"
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(uname -sr), .NET $(dotnet --version); load: $(uptime | sed 's/.*load average: //')"

dotnet publish functions/Runner -c Release -o "$work/runner" --nologo -v quiet
dotnet build tests/Pipeline.Benchmarks -c Release --nologo -v quiet
benchmarks=(dotnet tests/Pipeline.Benchmarks/bin/Release/net10.0/Pipeline.Benchmarks.dll)

"${benchmarks[@]}" pipeline "$work/runner/pipeline.dll" "$work" "$items" "$formats"

rm -rf "$work/lab"
for attempt in "with sample generation" "sample present"; do
  /usr/bin/time -f "lab size (run, 100,000 users), $attempt: %e s wall, %M KiB peak RSS" \
    dotnet "$work/runner/pipeline.dll" run --out "$work/lab" > /dev/null
done

echo "K-means, 1,000,000 standardized rows:"
"${benchmarks[@]}" kmeans 1000000 5 | sed 's/^/    /'
echo "load after: $(uptime | sed 's/.*load average: //')"
