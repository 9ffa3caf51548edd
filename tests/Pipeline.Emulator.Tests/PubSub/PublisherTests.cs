using System.Net;
using System.Text;
using System.Text.Json;
using Google.Apis.Auth.OAuth2;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Pipeline.Core;
using Pipeline.Emulator.Tests.Support;
using Pipeline.Hosting.PubSub;

namespace Pipeline.Emulator.Tests.PubSub;

/// <summary>The REST publisher and the admin client against the real emulator, and against a stand-in for GCP.</summary>
[Collection(EmulatorTests.Name)]
public sealed class PublisherTests(PubSubEmulator emulator)
{
    private static readonly CancellationToken None = CancellationToken.None;

    [Fact]
    public async Task Publishes_data_and_attributes_to_the_prefixed_topic()
    {
        var prefix = $"pub{Guid.NewGuid():N}"[..12] + "-";
        await emulator.Admin.CreateTopicAsync(prefix + Topics.StatsReady, None);
        await emulator.Admin.CreatePullSubscriptionAsync(prefix + "watch", prefix + Topics.StatsReady, None);
        using var publisher = new PubSubRestPublisher(new PubSubOptions { EmulatorHost = emulator.HostPort, ProjectId = PubSubEmulator.ProjectId }, prefix);
        var body = Encoding.UTF8.GetBytes("""{"run_id":"r-1","note":"ünïcode"}""");

        var messageId = await publisher.PublishAsync(Topics.StatsReady, body,
            new Dictionary<string, string> { ["run_id"] = "r-1", ["stage"] = Stages.BuildStats }, None);

        var received = await emulator.PullOneAsync(prefix + "watch");
        Assert.Equal(messageId, received.MessageId);
        Assert.Equal(body, received.Data.ToArray());
        Assert.Equal("r-1", received.Attributes["run_id"]);
        Assert.Equal(Stages.BuildStats, received.Attributes["stage"]);
        Assert.InRange(received.PublishTime, DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddMinutes(1));
    }

    [Fact]
    public async Task Publishing_to_a_topic_that_does_not_exist_throws_so_the_delivery_is_retried()
    {
        using var publisher = new PubSubRestPublisher(new PubSubOptions { EmulatorHost = emulator.HostPort, ProjectId = PubSubEmulator.ProjectId }, "missing-");

        var error = await Assert.ThrowsAsync<PubSubException>(() =>
            publisher.PublishAsync(Topics.RunFailed, "{}"u8.ToArray(), new Dictionary<string, string>(), None));

        Assert.Equal(HttpStatusCode.NotFound, error.Status);
        Assert.Contains("missing-run-failed", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Push_subscription_has_the_endpoint_ack_deadline_and_retry_policy()
    {
        var prefix = $"adm{Guid.NewGuid():N}"[..12] + "-";
        await emulator.Admin.CreateTopicAsync(prefix + Topics.Trigger, None);
        await emulator.Admin.CreateTopicAsync(prefix + Topics.Trigger, None); // twice: already there is fine
        var settings = new PushSubscriptionSettings(120, TimeSpan.FromSeconds(1.5), TimeSpan.FromSeconds(20));

        await emulator.Admin.CreatePushSubscriptionAsync(prefix + "push", prefix + Topics.Trigger, new Uri("http://127.0.0.1:9/"), settings, None);
        await emulator.Admin.CreatePushSubscriptionAsync(prefix + "push", prefix + Topics.Trigger, new Uri("http://127.0.0.1:10/"), settings, None);

        using var http = new HttpClient();
        using var subscription = JsonDocument.Parse(await http.GetStringAsync(
            $"http://{emulator.HostPort}/v1/projects/{PubSubEmulator.ProjectId}/subscriptions/{prefix}push"));
        var root = subscription.RootElement;
        Assert.Equal($"projects/{PubSubEmulator.ProjectId}/topics/{prefix}{Topics.Trigger}", root.GetProperty("topic").GetString());
        Assert.Equal("http://127.0.0.1:10/", root.GetProperty("pushConfig").GetProperty("pushEndpoint").GetString());
        Assert.Equal(120, root.GetProperty("ackDeadlineSeconds").GetInt32());
        Assert.Equal("1.500s", root.GetProperty("retryPolicy").GetProperty("minimumBackoff").GetString());
        Assert.Equal("20s", root.GetProperty("retryPolicy").GetProperty("maximumBackoff").GetString());
        await emulator.Admin.DeleteSubscriptionAsync(prefix + "push", None);
    }

    [Fact]
    public async Task On_GCP_publishes_to_the_REST_endpoint_with_a_bearer_token()
    {
        // A loopback stand-in for pubsub.googleapis.com records what the publisher sends.
        string? path = null, authorization = null, body = null;
        var fake = WebApplication.CreateSlimBuilder();
        fake.WebHost.UseUrls("http://127.0.0.1:0");
        await using var app = fake.Build();
        app.MapPost("/{**path}", async (HttpContext context) =>
        {
            path = context.Request.Path;
            authorization = context.Request.Headers.Authorization;
            body = await new StreamReader(context.Request.Body).ReadToEndAsync();
            return Results.Json(new { messageIds = new[] { "4242" } });
        });
        await app.StartAsync();
        var options = new PubSubOptions { Endpoint = new Uri(app.Urls.First() + "/"), ProjectId = "cymbal-prod" };
        using var publisher = new PubSubRestPublisher(options, "prod-", GoogleCredential.FromAccessToken("ya29.test-token"));

        var messageId = await publisher.PublishAsync(Topics.ModelTrained, "{\"k\":5}"u8.ToArray(),
            new Dictionary<string, string> { ["run_id"] = "r-9", ["stage"] = Stages.TrainModel }, None);

        Assert.Equal("4242", messageId);
        Assert.Equal("/v1/projects/cymbal-prod/topics/prod-model-trained:publish", path);
        Assert.Equal("Bearer ya29.test-token", authorization);
        using var sent = JsonDocument.Parse(body!);
        var message = Assert.Single(sent.RootElement.GetProperty("messages").EnumerateArray().ToList());
        Assert.Equal(Convert.ToBase64String("{\"k\":5}"u8), message.GetProperty("data").GetString());
        Assert.Equal("r-9", message.GetProperty("attributes").GetProperty("run_id").GetString());
        Assert.Equal(Stages.TrainModel, message.GetProperty("attributes").GetProperty("stage").GetString());
        await app.StopAsync();
    }
}
