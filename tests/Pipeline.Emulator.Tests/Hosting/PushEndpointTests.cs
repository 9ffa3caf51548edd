using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Pipeline.Core;
using Pipeline.Emulator.Tests.Support;

namespace Pipeline.Emulator.Tests.Hosting;

/// <summary>
/// POST / as Pub/Sub and Eventarc call it, with captured payloads: what the function receives, and the status code
/// Pub/Sub reads as ack (2xx) or nack.
/// </summary>
public sealed class PushEndpointTests : IAsyncLifetime
{
    private const string TriggerJson = """{"run_id":"2026-11-28T06-00-00Z","window_start":"2022-01-01","window_end":"2023-01-01","k":5}""";
    private RecordingHost host = null!;

    public async Task InitializeAsync() => host = await RecordingHost.StartAsync();

    public async Task DisposeAsync() => await host.DisposeAsync();

    private Task<HttpResponseMessage> PostAsync(byte[] body, string contentType = "application/json") =>
        host.Client.PostAsync("/", new ByteArrayContent(body) { Headers = { ContentType = MediaTypeHeaderValue.Parse(contentType) } });

    private async Task<HttpResponseMessage> PostBinaryCloudEventAsync(string payload)
    {
        var (headers, body) = Payloads.ReadBinaryCloudEvent(payload);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/") { Content = new ByteArrayContent(body) };
        foreach (var (name, value) in headers)
            if (!request.Headers.TryAddWithoutValidation(name, value)) request.Content.Headers.TryAddWithoutValidation(name, value);
        return await host.Client.SendAsync(request);
    }

    private PipelineMessage Single()
    {
        Assert.Single(host.Recorder.Received);
        return host.Recorder.Received.Single();
    }

    [Fact]
    public async Task Push_envelope_from_PubSub_reaches_the_function_with_data_attributes_id_and_time()
    {
        using var response = await PostAsync(Payloads.Read("pubsub-push.json"));

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        var message = Single();
        Assert.Equal(TriggerJson, Encoding.UTF8.GetString(message.Data.Span));
        Assert.Equal("2026-11-28T06-00-00Z", message.Attributes["run_id"]);
        Assert.Equal("trigger", message.Attributes["stage"]);
        Assert.Equal("2070443601311540", message.MessageId);
        Assert.Equal(new DateTimeOffset(2021, 2, 26, 19, 13, 55, 749, TimeSpan.Zero), message.PublishTime);
    }

    [Fact]
    public async Task Push_envelope_from_the_emulator_is_read_the_same()
    {
        using var response = await PostAsync(Payloads.Read("pubsub-push-emulator.json"));

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        var message = Single();
        Assert.Equal(TriggerJson, Encoding.UTF8.GetString(message.Data.Span));
        Assert.Equal("1", message.MessageId);
        Assert.Equal(new DateTimeOffset(2026, 11, 28, 14, 40, 23, 130, TimeSpan.Zero), message.PublishTime);
    }

    [Fact]
    public async Task Empty_data_is_an_empty_body_not_an_error()
    {
        using var response = await PostAsync(Payloads.Read("pubsub-push-emulator-no-data.json"));

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        var message = Single();
        Assert.True(message.Data.IsEmpty);
        Assert.Equal("r2", message.Attributes["run_id"]);
    }

    [Fact]
    public async Task Snake_case_keys_without_attributes_or_subscription_and_nanosecond_times_are_read()
    {
        using var response = await PostAsync(Payloads.Read("pubsub-push-snake-case-nanos.json"));

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        var message = Single();
        Assert.Equal("""{"k":3}""", Encoding.UTF8.GetString(message.Data.Span));
        Assert.Empty(message.Attributes);
        Assert.Equal("4102184774039362", message.MessageId);
        Assert.Equal(DateTimeOffset.Parse("2022-02-15T11:28:32.9421234Z", System.Globalization.CultureInfo.InvariantCulture), message.PublishTime);
    }

    [Fact]
    public async Task CloudEvent_in_binary_mode_reaches_the_function()
    {
        using var response = await PostBinaryCloudEventAsync("cloudevent-binary.json");

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        var message = Single();
        Assert.Equal(TriggerJson, Encoding.UTF8.GetString(message.Data.Span));
        Assert.Equal("2026-11-28T06-00-00Z", message.Attributes["run_id"]);
        Assert.Equal("2070443601311540", message.MessageId);
        Assert.Equal(new DateTimeOffset(2021, 2, 26, 19, 13, 55, 749, TimeSpan.Zero), message.PublishTime);
    }

    [Fact]
    public async Task CloudEvent_in_structured_mode_reaches_the_function()
    {
        using var response = await PostAsync(Payloads.Read("cloudevent-structured.json"), "application/cloudevents+json; charset=utf-8");

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        var message = Single();
        Assert.Equal(TriggerJson, Encoding.UTF8.GetString(message.Data.Span));
        Assert.Equal("2070443601311540", message.MessageId);
    }

    [Fact]
    public async Task The_same_Pub_Sub_message_names_the_same_run_however_it_is_delivered()
    {
        // Push and Eventarc deliveries of one message must derive one run id, or a redelivery could start a second run.
        (await PostAsync(Payloads.Read("pubsub-push.json"))).Dispose();
        (await PostBinaryCloudEventAsync("cloudevent-binary.json")).Dispose();
        (await PostAsync(Payloads.Read("cloudevent-structured.json"), "application/cloudevents+json")).Dispose();

        var runIds = host.Recorder.Received.Select(m => RunId.FromMessage(m.MessageId, m.PublishTime)).Distinct().ToList();
        Assert.Equal(3, host.Recorder.Received.Count);
        Assert.Equal(["2021-02-26T19-13-55Z-2070443601311540"], runIds);
    }

    public static TheoryData<string, string> Malformed => new()
    {
        { "not JSON at all", "not JSON" },
        { """{"hello":"world","data":"eyJrIjozfQ=="}""", "\"message\" object" },
        { "[1,2,3]", "\"message\" object" },
        { """{"message":"eyJrIjozfQ=="}""", "\"message\" object" },
        { """{"message":{"data":"eyJrIjozfQ==","publishTime":"2021-02-26T19:13:55.749Z"}}""", "no messageId" },
        { """{"message":{"data":"eyJrIjozfQ==","messageId":"1"}}""", "no publishTime" },
        { """{"message":{"data":"%%% not base64","messageId":"1","publishTime":"2021-02-26T19:13:55.749Z"}}""", "not base64" },
        { """{"message":{"data":"eyJrIjozfQ==","messageId":1,"publishTime":"2021-02-26T19:13:55.749Z"}}""", "messageId must be a string" },
        { """{"message":{"messageId":"1","publishTime":"yesterday"}}""", "not an RFC 3339 timestamp" },
        { """{"message":{"messageId":"1","publishTime":"2021-02-26T19:13:55Z","attributes":{"run_id":7}}}""", "attribute 'run_id' is not a string" },
        { """{"message":{"messageId":"1","publishTime":"2021-02-26T19:13:55Z","attributes":["run_id"]}}""", "attributes must be an object" },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public async Task A_body_that_is_no_push_envelope_answers_400_with_the_reason_and_the_host_stays_up(string body, string reason)
    {
        using var response = await PostAsync(Encoding.UTF8.GetBytes(body));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains(reason, await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Empty(host.Recorder.Received);
        using var health = await host.Client.GetAsync("/health");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
    }

    [Fact]
    public async Task A_captured_body_that_is_no_envelope_answers_400()
    {
        using var response = await PostAsync(Payloads.Read("not-a-push-envelope.json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Empty(host.Recorder.Received);
    }

    [Fact]
    public async Task A_CloudEvent_of_another_type_answers_400()
    {
        using var response = await PostBinaryCloudEventAsync("cloudevent-binary-storage.json");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("google.cloud.storage.object.v1.finalized", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Empty(host.Recorder.Received);
    }

    [Fact]
    public async Task A_CloudEvent_without_required_attributes_answers_400()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/") { Content = new ByteArrayContent(Payloads.Read("pubsub-push.json")) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        request.Headers.Add("ce-specversion", "1.0");
        request.Headers.Add("ce-type", "google.cloud.pubsub.topic.v1.messagePublished");

        using var response = await host.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Empty(host.Recorder.Received);
    }

    [Fact]
    public async Task A_transient_failure_answers_500_so_that_Pub_Sub_delivers_again()
    {
        host.Recorder.Behaviour = _ => throw new IOException("the warehouse timed out");

        using var response = await PostAsync(Payloads.Read("pubsub-push.json"));

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Contains("the warehouse timed out", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_stage_still_waiting_for_its_job_answers_503()
    {
        host.Recorder.Behaviour = _ => throw new StageStillRunningException(Stages.TrainModel, "train-run-1");

        using var response = await PostAsync(Payloads.Read("pubsub-push.json"));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
    }

    [Fact]
    public async Task A_permanent_failure_the_function_recorded_is_acknowledged()
    {
        // The StageExecutor records permanent failures and returns; the host must not turn that into a retry.
        host.Recorder.Behaviour = _ => Task.CompletedTask;

        using var response = await PostAsync(Payloads.Read("pubsub-push.json"));

        Assert.True(response.IsSuccessStatusCode);
    }

    [Fact]
    public async Task Health_answers_with_the_function_name()
    {
        using var response = await host.Client.GetAsync("/health");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("ok", body.RootElement.GetProperty("status").GetString());
        Assert.Equal("TestStage", body.RootElement.GetProperty("function").GetString());
    }

    [Fact]
    public async Task Only_POST_to_the_root_is_a_delivery()
    {
        using var get = await host.Client.GetAsync("/");
        using var elsewhere = await host.Client.PostAsync("/other", new ByteArrayContent(Payloads.Read("pubsub-push.json")));

        Assert.Equal(HttpStatusCode.MethodNotAllowed, get.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, elsewhere.StatusCode);
        Assert.Empty(host.Recorder.Received);
    }
}
