using System.CommandLine;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Configuration;
using Pipeline.Backends;
using Pipeline.Core;
using Pipeline.Embedded;
using Pipeline.Hosting;
using Pipeline.Hosting.PubSub;

namespace Pipeline.Runner.Commands;

/// <summary>
/// <c>serve</c>: every function in its own web host on a loopback port, wired to the Pub/Sub emulator with the
/// topics and push subscriptions Terraform creates on GCP, until Ctrl+C.
/// </summary>
public static class ServeCommand
{
    public static Command Create()
    {
        var target = new PubSubTarget();
        var input = new Option<string?>("--input", "-i") { Description = "order_items as CSV, Parquet, or a DuckDB database with an order_items table. Default: generated sample data (as for run)." };
        var output = new Option<string>("--out", "-o") { Description = "The bucket directory the functions write to.", DefaultValueFactory = _ => "./out" };
        var sampleUsers = new Option<long>("--sample-users") { Description = "Customers in the generated sample when no --input is given.", DefaultValueFactory = _ => 100_000 };
        var basePort = new Option<int>("--base-port")
        {
            Description = "Port of BuildStats; the other functions take the next four in chain order. 0 picks free ports.",
            // Clear of 8080 (a function run alone) and 8085 (the emulator's usual port).
            DefaultValueFactory = _ => 8181,
        };
        var topicPrefix = new Option<string>("--topic-prefix") { Description = "Prefix of every topic and subscription name.", DefaultValueFactory = _ => "" };

        var command = new Command("serve",
            "Hosts every function over HTTP on loopback and wires them to the Pub/Sub emulator: creates the topics and a push " +
            "subscription per function, then serves until Ctrl+C. Start the emulator first " +
            "(gcloud beta emulators pubsub start --host-port=localhost:8085) and set PUBSUB_EMULATOR_HOST=localhost:8085.");
        target.AddTo(command);
        foreach (var option in new Option[] { input, output, sampleUsers, basePort, topicPrefix }) command.Options.Add(option);

        command.SetAction(async (ParseResult result, CancellationToken cancellationToken) =>
        {
            var environment = new ConfigurationBuilder().AddEnvironmentVariables().Build();
            var (pubSub, projectSource) = target.Resolve(result, environment);
            if (pubSub.EmulatorHost is not { } host)
                throw new CommandFailedException(
                    "serve needs the Pub/Sub emulator: start it with `gcloud beta emulators pubsub start --host-port=localhost:8085` " +
                    "and set PUBSUB_EMULATOR_HOST=localhost:8085 (or pass --emulator-host).");
            var bucket = Path.GetFullPath(result.GetValue(output)!);
            var inputFile = result.GetValue(input);
            if (inputFile is not null && !File.Exists(inputFile))
                throw new CommandFailedException($"--input {inputFile} does not exist: give the path of an order_items file, or leave --input out for sample data.");
            string? usersFile = null, productsFile = null;
            if (inputFile is null)
                (inputFile, usersFile, productsFile) = await SampleCommand.EnsureSampleAsync(bucket, result.GetValue(sampleUsers), RunParameters.DefaultSeed, cancellationToken);

            var settings = new EmulatorChainSettings(host, pubSub.ProjectId!, result.GetValue(topicPrefix)!, result.GetValue(basePort),
                PushSubscriptionSettings.Default, new Dictionary<string, string?>
                {
                    [$"{EmbeddedOptions.SectionName}:{nameof(EmbeddedOptions.BucketDirectory)}"] = bucket,
                    [$"{EmbeddedOptions.SectionName}:{nameof(EmbeddedOptions.Input)}"] = Path.GetFullPath(inputFile),
                    [$"{EmbeddedOptions.SectionName}:{nameof(EmbeddedOptions.Users)}"] = usersFile,
                    [$"{EmbeddedOptions.SectionName}:{nameof(EmbeddedOptions.Products)}"] = productsFile,
                });

            // Ctrl+C and SIGTERM stop the hosts gracefully (deliveries in flight finish) instead of ending the process.
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
            using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
            void Stop(PosixSignalContext context)
            {
                context.Cancel = true;
                stop.Cancel();
            }

            // On a terminal the stages' progress is one live line under the functions' logs; otherwise each function
            // logs it, as on Cloud Run.
            using var live = LiveProgressLine.IsSupported() ? LiveProgressLine.Open() : null;
            EmulatorChain chain;
            try
            {
                chain = await EmulatorChain.StartAsync(FunctionCatalog.All,
                    (services, configuration) =>
                    {
                        services.AddPipelineBackend(configuration);
                        StagePause.Register(services, configuration);
                    }, settings, overrideServices: live is null ? null : _ => services => LiveProgressLine.Register(services, live), stop.Token);
            }
            catch (Exception e) when (e is TimeoutException or HttpRequestException or PubSubException)
            {
                throw new CommandFailedException($"The Pub/Sub emulator at {host} is not usable ({e.Message}) — " +
                    $"start it with `gcloud beta emulators pubsub start --host-port={host}`.", e);
            }
            catch (IOException e) when (e.InnerException is Microsoft.AspNetCore.Connections.AddressInUseException)
            {
                throw new CommandFailedException($"{e.Message} — choose other ports with --base-port (0 picks free ones), or stop the other serve.", e);
            }
            await using var running = chain;

            Console.WriteLine($"Serving the chain on the Pub/Sub emulator at {host}, project {settings.ProjectId} (from {projectSource}); bucket: {bucket}");
            foreach (var function in chain.Functions)
                Console.WriteLine($"  {function.Declaration.Stage,-17} {function.Url}  <- {settings.TopicPrefix}{function.Declaration.TriggeredBy} (subscription {function.Subscription})");
            Console.WriteLine("Start a run in another terminal: dotnet run --project functions/Runner -- trigger --wait");
            Console.WriteLine("Ctrl+C stops.");

            // A restarted emulator has forgotten the chain: the watch wires it again and resumes the runs it was carrying.
            var fileBucket = new FileSystemBucket(bucket);
            using var publisher = new PubSubRestPublisher(pubSub, settings.TopicPrefix);
            var watch = new EmulatorWatch(chain, fileBucket, new RunLedger(fileBucket, TimeProvider.System), publisher, Console.Out)
                .RunAsync(stop.Token);
            try
            {
                await Task.Delay(Timeout.Infinite, stop.Token);
            }
            catch (OperationCanceledException)
            {
                Console.WriteLine("Stopping.");
            }
            await watch;
            return 0;
        });
        return command;
    }
}
