#!/usr/bin/env bash
# Cold start of a published function: process start to the first 2xx on /health, as Cloud Run measures it, for the
# plain `dotnet publish -c Release` output and for a ReadyToRun-compiled one (--runtime linux-x64, as the Dockerfile).
# Usage: tests/Pipeline.Benchmarks/cold-start.sh [function=Predict] [work-dir] [repeats=5]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
function=${1:-Predict}
work=${2:-$(mktemp -d)}
repeats=${3:-5}
mkdir -p "$work/bucket"

dotnet publish "functions/$function/$function.csproj" -c Release -o "$work/plain" --nologo -v quiet
dotnet publish "functions/$function/$function.csproj" -c Release -o "$work/r2r" --runtime linux-x64 --self-contained false \
  -p:UseAppHost=false -p:PublishReadyToRun=true --nologo -v quiet

for variant in plain r2r; do
  for run in $(seq "$repeats"); do
    port=$((18000 + RANDOM % 1000))
    start=$(date +%s%N)
    PORT=$port K_SERVICE=${function,,} GOOGLE_CLOUD_PROJECT=cold-start PUBSUB_EMULATOR_HOST=127.0.0.1:9 \
      Embedded__BucketDirectory="$work/bucket" dotnet "$work/$variant/$function.dll" > "$work/$variant.log" 2>&1 &
    pid=$!
    until curl -fs "http://127.0.0.1:$port/health" > /dev/null 2>&1; do
      kill -0 "$pid" 2> /dev/null || { echo "$function ($variant) exited:"; cat "$work/$variant.log"; exit 1; }
      sleep 0.005
    done
    end=$(date +%s%N)
    kill "$pid"; wait "$pid" 2> /dev/null || true
    echo "$function $variant cold start: $(( (end - start) / 1000000 )) ms"
  done
done
