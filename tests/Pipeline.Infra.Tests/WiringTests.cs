using System.Text.Json.Nodes;

namespace Pipeline.Infra.Tests;

/// <summary>The Terraform in infra/ deploys the chain the code declares, and the check says so when they drift apart.</summary>
public sealed class WiringTests(DeploymentFiles files) : IClassFixture<DeploymentFiles>
{
    [Fact]
    public void TheCodeDeclaresFiveFunctionsChainedThroughTheContractTopics()
    {
        Assert.Equal(
            [
                new("BuildStats", "segmentation-trigger", "stats-ready"),
                new("TrainModel", "stats-ready", "model-trained"),
                new("Predict", "model-trained", "predictions-ready"),
                new("RenderChart", "predictions-ready", "chart-rendered"),
                new("GenerateCampaign", "chart-rendered", "run-completed"),
            ],
            files.Code.Functions);
    }

    [Fact]
    public void TerraformDeploysTheChainTheCodeDeclares()
    {
        var wiring = TerraformWiring.Read(files.Terraform);

        var drift = WiringCheck.FindDrift(files.Code, wiring);

        Assert.True(drift.Count == 0, "Terraform and the code disagree:\n" + string.Join('\n', drift));
        // The check compared something: every topic, one service, subscription and two grants per function, and
        // the watchdog's service, subscription and grant.
        Assert.Equal(files.Code.Topics.Append(ChainDeclaration.DeadLetter).Order(), wiring.Topics.Keys.Order());
        Assert.Equal(6, wiring.Services.Count);
        Assert.Equal(6, wiring.Subscriptions.Count);
        Assert.Equal(10, wiring.PublisherGrants.Count(grant => grant.MemberAddress?.StartsWith("google_service_account.function[", StringComparison.Ordinal) == true));
        Assert.Single(wiring.PublisherGrants, grant => grant.MemberAddress == "google_service_account.watchdog[\"RunWatchdog\"]");
    }

    [Fact]
    public void TheWatchdogTakesTheDeadLetterTopicAndPublishesRunFailed()
    {
        Assert.Equal(new FunctionDeclaration("RunWatchdog", "segmentation-dead-letter", "run-failed"), files.Code.Watchdog);
    }

    [Fact]
    public void AWatchdogWithoutItsSubscriptionOrItsSweepIsReported()
    {
        var terraform = files.ChangedTerraform(root =>
        {
            root["resource"]!["google_pubsub_subscription"]!.AsObject().Remove("watchdog");
            root["resource"]!["google_cloud_scheduler_job"]!.AsObject().Remove("stalled_run_sweep");
        });

        var drift = WiringCheck.FindDrift(files.Code, TerraformWiring.Read(terraform));

        Assert.Equal(
            [
                "no push subscription delivers the dead-letter topic to RunWatchdog's service google_cloud_run_v2_service.watchdog[\"RunWatchdog\"]",
                "no Cloud Scheduler job sends the stalled-run sweep to the dead-letter topic \"segmentation-dead-letter\"",
            ],
            drift);
    }

    [Fact]
    public void AWatchdogThatDeadLettersItselfIsReported()
    {
        var terraform = files.ChangedTerraform(root =>
            root["resource"]!["google_pubsub_subscription"]!["watchdog"]!.AsArray()[0]!["dead_letter_policy"] = new JsonArray(new JsonObject
            {
                ["dead_letter_topic"] = "${google_pubsub_topic.dead_letter.id}",
                ["max_delivery_attempts"] = 5,
            }));

        var drift = WiringCheck.FindDrift(files.Code, TerraformWiring.Read(terraform));

        Assert.Equal(
            ["google_pubsub_subscription.watchdog[\"RunWatchdog\"] dead-letters the dead-letter topic's messages to google_pubsub_topic.dead_letter: the watchdog is where they end"],
            drift);
    }

    [Fact]
    public void ATopicRenamedInTerraformOnlyIsReported()
    {
        var terraform = files.ChangedTerraform(root => Rename(Local(root, "topics").AsArray(), "stats-ready", "stats-done"));

        var drift = WiringCheck.FindDrift(files.Code, TerraformWiring.Read(terraform));

        Assert.Contains(drift, d => d.StartsWith("topic \"stats-ready\" (Topics.All) has no google_pubsub_topic", StringComparison.Ordinal));
        Assert.Contains(drift, d => d.StartsWith("Terraform declares topic \"stats-done\"", StringComparison.Ordinal));
        // The stages on either side of the renamed topic lose their wiring too.
        Assert.Contains(drift, d => d.Contains("may not publish to \"stats-ready\"", StringComparison.Ordinal) && d.StartsWith("BuildStats", StringComparison.Ordinal));
        Assert.Contains(drift, d => d.Contains("to TrainModel, which is triggered by \"stats-ready\"", StringComparison.Ordinal));
    }

    [Fact]
    public void ATopicRenamedInTheCodeOnlyIsReported()
    {
        static string Renamed(string topic) => topic == "stats-ready" ? "stats-done" : topic;
        var code = files.Code with
        {
            Topics = files.Code.Topics.Select(Renamed).ToList(),
            Functions = files.Code.Functions.Select(f => f with { TriggeredBy = Renamed(f.TriggeredBy), Publishes = Renamed(f.Publishes) }).ToList(),
        };

        var drift = WiringCheck.FindDrift(code, TerraformWiring.Read(files.Terraform));

        Assert.Contains(drift, d => d.StartsWith("topic \"stats-done\" (Topics.All) has no google_pubsub_topic", StringComparison.Ordinal));
        Assert.Contains(drift, d => d.StartsWith("Terraform declares topic \"stats-ready\"", StringComparison.Ordinal));
    }

    [Fact]
    public void ASubscriptionOnTheWrongTopicIsReported()
    {
        var terraform = files.ChangedTerraform(root => Local(root, "functions")["TrainModel"]!["triggered_by"] = "model-trained");

        var drift = WiringCheck.FindDrift(files.Code, TerraformWiring.Read(terraform));

        Assert.Equal(
            ["google_pubsub_subscription.push[\"TrainModel\"] delivers \"model-trained\" to TrainModel, which is triggered by \"stats-ready\""],
            drift);
    }

    [Fact]
    public void AFunctionThatMayNotPublishItsFailuresIsReported()
    {
        var terraform = files.ChangedTerraform(root =>
            root["resource"]!["google_pubsub_topic_iam_member"]!.AsObject().Remove("function_publishes_failure"));

        var drift = WiringCheck.FindDrift(files.Code, TerraformWiring.Read(terraform));

        Assert.Equal(5, drift.Count);
        Assert.All(drift, d => Assert.EndsWith("may not publish to \"run-failed\"", d, StringComparison.Ordinal));
    }

    [Fact]
    public void AFunctionThatMayPublishToATopicItDoesNotPublishToIsReported()
    {
        var terraform = files.ChangedTerraform(root =>
            root["resource"]!["google_pubsub_topic_iam_member"]!["predict_starts_runs"] = new JsonArray(new JsonObject
            {
                ["topic"] = "${google_pubsub_topic.chain[\"segmentation-trigger\"].name}",
                ["role"] = "roles/pubsub.publisher",
                ["member"] = "${google_service_account.function[\"Predict\"].member}",
            }));

        var drift = WiringCheck.FindDrift(files.Code, TerraformWiring.Read(terraform));

        Assert.Equal(
            ["Predict's service account google_service_account.function[\"Predict\"] may also publish to \"segmentation-trigger\", which it does not publish to"],
            drift);
    }

    [Fact]
    public void AFunctionWithoutAServiceIsReported()
    {
        var terraform = files.ChangedTerraform(root => Local(root, "functions").AsObject().Remove("Predict"));

        var drift = WiringCheck.FindDrift(files.Code, TerraformWiring.Read(terraform));

        Assert.Equal(["Predict has no Cloud Run service (google_cloud_run_v2_service keyed \"Predict\")"], drift);
    }

    [Fact]
    public void ServicesThatDoNotReceiveTheTopicPrefixAreReported()
    {
        var terraform = files.ChangedTerraform(root => Local(root, "function_env").AsObject().Remove("Pipeline__TopicPrefix"));

        var drift = WiringCheck.FindDrift(files.Code, TerraformWiring.Read(terraform));

        Assert.Equal(6, drift.Count); // the five stages and the watchdog
        Assert.All(drift, d => Assert.Contains("does not pass Pipeline__TopicPrefix", d, StringComparison.Ordinal));
    }

    private static JsonNode Local(JsonObject root, string name) =>
        root["locals"]!.AsArray().Select(block => block![name]).Single(value => value is not null)!;

    private static void Rename(JsonArray names, string from, string to)
    {
        var index = names.Select(n => n!.GetValue<string>()).ToList().IndexOf(from);
        names[index] = to;
    }
}
