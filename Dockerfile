# syntax=docker/dockerfile:1
#
# One image per pipeline function:
#   docker build --build-arg FUNCTION=BuildStats --tag build-stats .
# FUNCTION is the stage name, which is also the project's directory (functions/<FUNCTION>) and its assembly
# (<FUNCTION>.dll). cloudbuild.yaml builds the five images this way.

FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
ARG FUNCTION
RUN test -n "${FUNCTION}" || { echo "pass --build-arg FUNCTION=<stage>, e.g. FUNCTION=BuildStats" >&2; exit 1; }
WORKDIR /src
COPY global.json Directory.Build.props Directory.Packages.props ./
COPY shared/ shared/
COPY functions/ functions/
RUN test -f "functions/${FUNCTION}/${FUNCTION}.csproj" || { echo "no project functions/${FUNCTION}/${FUNCTION}.csproj" >&2; exit 1; }
# Cloud Run runs linux/amd64: publishing for it keeps other platforms' native libraries (DuckDB's, Skia's)
# out of the image. Self-contained and composite ReadyToRun: the .NET and ASP.NET Core framework and the function are
# compiled ahead of time together into one native image (<FUNCTION>.r2r.dll), so a cold start JIT-compiles far less,
# generic framework code over the function's types included (about 30 % less CPU to the first /health than the
# framework-dependent publish; BENCHMARKS.md, "cold start, self-contained composite ReadyToRun"). The price is
# minutes of CPU in this stage and a larger /app; tests/Pipeline.Benchmarks/cold-start.sh measures the same publish.
RUN dotnet publish "functions/${FUNCTION}/${FUNCTION}.csproj" \
      --configuration Release \
      --runtime linux-x64 \
      --self-contained true \
      --output /app \
      -p:PublishReadyToRun=true \
      -p:PublishReadyToRunComposite=true

# The app carries its own runtime: the base image needs only the native libraries .NET depends on.
FROM mcr.microsoft.com/dotnet/runtime-deps:10.0 AS runtime
ARG FUNCTION
# The chart is drawn with text and the runtime image has no fonts; DejaVu lands in
# /usr/share/fonts/truetype/dejavu/. DuckDB's native library comes with its NuGet package.
RUN apt-get update \
 && apt-get install --yes --no-install-recommends fonts-dejavu-core \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app ./
# A container's configuration never changes while it runs: no watcher on appsettings files (~20 ms of a cold start).
ENV FUNCTION=${FUNCTION} \
    DOTNET_NOLOGO=1 \
    DOTNET_CLI_TELEMETRY_OPTOUT=1 \
    DOTNET_hostBuilder__reloadConfigOnChange=false
# The non-root user every .NET image defines.
USER $APP_UID
EXPOSE 8080
# Cloud Run says which port to listen on in PORT; elsewhere it is 8080, as in the base image. The function starts by
# its apphost (/app/<FUNCTION>; there is no dotnet in this image), and exec makes it PID 1, so it receives SIGTERM
# when Cloud Run stops the instance.
ENTRYPOINT ["/bin/sh", "-c", "export ASPNETCORE_HTTP_PORTS=\"${PORT:-8080}\"; exec \"/app/${FUNCTION}\""]
