#!/usr/bin/env bash
# Cold start of a published function: process start to the first 2xx on /health, as Cloud Run measures it, for the
# Dockerfile's publish (Release, --runtime linux-x64, self-contained, the framework and the function compiled together
# as one composite ReadyToRun image, started by its apphost), for the framework-dependent publishes it replaced (IL
# only, and ReadyToRun; started as `dotnet Function.dll`), each also with the runtime's tiering knobs
# (DOTNET_TieredPGO=0, DOTNET_TieredCompilation=0). The variants take turns within each repeat, so a neighbour's burst
# of work falls on all of them alike. Besides the wall time it prints the process's CPU time up to that first answer
# (utime + stime from /proc), which a busy machine does not stretch. The composite publish compiles the whole
# framework (minutes of CPU), so one already in work-dir is reused.
# Usage: tests/Pipeline.Benchmarks/cold-start.sh [function=Predict] [work-dir] [repeats=5]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
function=${1:-Predict}
work=${2:-$(mktemp -d)}
repeats=${3:-5}
mkdir -p "$work/bucket"
work=$(cd "$work" && pwd)
tick_ms=$((1000 / $(getconf CLK_TCK)))
echo "machine: $(nproc) cores, $(uname -sr), .NET $(dotnet --version); load: $(cut -d' ' -f1-3 /proc/loadavg)"

# Each publish builds in its own artifacts directory: the SDK's incremental ReadyToRun step would hand a composite
# build's component assemblies (stubs pointing into Function.r2r.dll) to a later non-composite publish, which aborts.
publish() { # publish-directory [dotnet publish options]
  local directory=$1; shift
  dotnet publish "functions/$function/$function.csproj" -c Release --runtime linux-x64 --nologo -v quiet \
    --artifacts-path "$work/build-$directory" -o "$work/$directory" "$@"
}
publish plain --self-contained false -p:UseAppHost=false
publish r2r --self-contained false -p:UseAppHost=false -p:PublishReadyToRun=true
# Minutes of CPU: a composite publish already in the work directory is measured again as it is.
[[ -f "$work/composite/$function" ]] ||
  publish composite --self-contained true -p:PublishReadyToRun=true -p:PublishReadyToRunComposite=true

# variant = publish directory + runtime settings
# The image's variant carries the image's settings (the Dockerfile's ENV).
image="composite DOTNET_hostBuilder__reloadConfigOnChange=false"
variants=("plain" "plain DOTNET_TieredPGO=0" "r2r" "r2r DOTNET_TieredPGO=0" "r2r DOTNET_TieredCompilation=0"
  "composite" "$image" "$image DOTNET_TieredPGO=0" "$image DOTNET_TieredCompilation=0")
declare -A wall cpu
for run in $(seq "$repeats"); do
  for variant in "${variants[@]}"; do
    read -r directory settings <<< "$variant"
    # A self-contained publish runs through its apphost (the image has no dotnet); the others through the muxer.
    if [[ -x "$work/$directory/$function" ]]; then program=("./$function"); else program=(dotnet "$function.dll"); fi
    port=$((18000 + RANDOM % 1000))
    start=$(date +%s%N)
    # From the publish directory, as the image's WORKDIR /app: the content root is the working directory, and
    # ASP.NET Core watches it for configuration changes (a checkout's thousands of directories cost ~100 ms more).
    (cd "$work/$directory" && exec env ${settings:-} PORT=$port K_SERVICE=${function,,} GOOGLE_CLOUD_PROJECT=cold-start \
      PUBSUB_EMULATOR_HOST=127.0.0.1:9 Embedded__BucketDirectory="$work/bucket" "${program[@]}") > "$work/$directory.log" 2>&1 &
    pid=$!
    until curl -fs "http://127.0.0.1:$port/health" > /dev/null 2>&1; do
      kill -0 "$pid" 2> /dev/null || { echo "$function ($variant) exited:"; cat "$work/$directory.log"; exit 1; }
      sleep 0.005
    done
    end=$(date +%s%N)
    # utime and stime, fields 14 and 15 of /proc/PID/stat (the command name in field 2 has no spaces here).
    ticks=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    kill "$pid"; wait "$pid" 2> /dev/null || true
    wall[$variant]+="$(( (end - start) / 1000000 )) "
    cpu[$variant]+="$(( ticks * tick_ms )) "
  done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
for variant in "${variants[@]}"; do
  echo "$function ${variant// DOTNET_/ + DOTNET_}: wall ms ${wall[$variant]}(median $(median <<< "${wall[$variant]}")), CPU ms ${cpu[$variant]}(median $(median <<< "${cpu[$variant]}"))"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
