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
# out of the image.
RUN dotnet publish "functions/${FUNCTION}/${FUNCTION}.csproj" \
      --configuration Release \
      --runtime linux-x64 \
      --self-contained false \
      --output /app \
      -p:UseAppHost=false

FROM mcr.microsoft.com/dotnet/aspnet:10.0 AS runtime
ARG FUNCTION
# The chart is drawn with text and the runtime image has no fonts; DejaVu lands in
# /usr/share/fonts/truetype/dejavu/. DuckDB's native library comes with its NuGet package.
RUN apt-get update \
 && apt-get install --yes --no-install-recommends fonts-dejavu-core \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app ./
ENV FUNCTION=${FUNCTION} \
    DOTNET_NOLOGO=1 \
    DOTNET_CLI_TELEMETRY_OPTOUT=1
# The non-root user every .NET image defines.
USER $APP_UID
EXPOSE 8080
# Cloud Run says which port to listen on in PORT; elsewhere it is 8080, as in the base image. exec makes
# dotnet PID 1, so it receives SIGTERM when Cloud Run stops the instance.
ENTRYPOINT ["/bin/sh", "-c", "export ASPNETCORE_HTTP_PORTS=\"${PORT:-8080}\"; exec dotnet \"/app/${FUNCTION}.dll\""]
