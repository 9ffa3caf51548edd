#!/usr/bin/env bash
# Wall time and peak memory of the whole pipeline (`run`, embedded backend) on the lab-size sample and on 10 million
# order items, plus the K-means comparison with Microsoft.ML. Results go to stdout; BENCHMARKS.md records them.
# Usage: tests/Pipeline.Benchmarks/run-benchmarks.sh [work-dir]   (needs ~3 GB of disk for the 10M-item files)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
work="${1:-$(mktemp -d)}"
mkdir -p "$work"
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(uname -sr), .NET $(dotnet --version)"

dotnet publish functions/Runner -c Release -o "$work/runner" --nologo -v quiet
runner=(dotnet "$work/runner/pipeline.dll")

measure() { # label, command...
  local label=$1; shift
  /usr/bin/time -f "$label: %e s wall, %M KiB peak RSS" "$@" > "$work/last.log" 2> "$work/time.log" || { cat "$work/last.log" "$work/time.log"; exit 1; }
  tail -1 "$work/time.log"
}

measure "sample lab size (100,000 users) parquet" "${runner[@]}" sample --out "$work/lab.parquet" --users 100000 --seed 1 --end-date 2026-01-01
measure "sample 10,000,000 items parquet" "${runner[@]}" sample --out "$work/10m.parquet" --items 10000000 --seed 1 --end-date 2026-01-01
measure "sample 10,000,000 items csv" "${runner[@]}" sample --out "$work/10m.csv" --items 10000000 --seed 1 --end-date 2026-01-01

for input in lab.parquet 10m.parquet 10m.csv; do
  measure "run on $input (window 2025, k=5)" "${runner[@]}" run --input "$work/$input" --out "$work/out-$input" \
    --window-start 2025-01-01 --window-end 2026-01-01 --k 5 --run-id "bench-${input%%.*}"
  grep -E "customers, k =|^  [A-Za-z]+ +[0-9.]+ s" "$work/last.log" | sed 's/^/    /'
done

echo "K-means, 1,000,000 standardized rows:"
dotnet run -c Release --project tests/Pipeline.Benchmarks -- 1000000 5 | sed 's/^/    /'
