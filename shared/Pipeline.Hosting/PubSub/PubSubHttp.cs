using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Google.Apis.Auth.OAuth2;

namespace Pipeline.Hosting.PubSub;

/// <summary>A Pub/Sub REST call that did not succeed; the status says whether it is worth retrying.</summary>
public sealed class PubSubException(HttpStatusCode status, string message) : Exception(message)
{
    public HttpStatusCode Status { get; } = status;
}

/// <summary>The HTTP plumbing shared by the publisher and the emulator admin client.</summary>
internal static class PubSubHttp
{
    private const string PubSubScope = "https://www.googleapis.com/auth/pubsub";

    /// <summary>
    /// An HttpClient whose base address is the REST API's <c>v1/</c>: the emulator over plain HTTP without
    /// credentials, or Pub/Sub itself with Application Default Credentials.
    /// </summary>
    public static HttpClient CreateClient(PubSubOptions options) => CreateClient(options, credential: null);

    /// <param name="credential">Replaces Application Default Credentials (tests); ignored for the emulator.</param>
    internal static HttpClient CreateClient(PubSubOptions options, ITokenAccess? credential)
    {
        // Connections are recycled so that a long-lived client still follows DNS changes.
        var transport = new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) };
        if (options.UsesEmulator)
            return new HttpClient(transport) { BaseAddress = new Uri($"http://{options.EmulatorHost}/v1/"), Timeout = TimeSpan.FromSeconds(60) };

        // ADC is looked up on the first request, so that building a host never needs credentials.
        var applicationDefault = new Lazy<Task<ITokenAccess>>(async () =>
            credential ?? (await GoogleCredential.GetApplicationDefaultAsync()).CreateScoped(PubSubScope));
        return new HttpClient(new BearerTokenHandler(_ => applicationDefault.Value, transport))
        {
            BaseAddress = new Uri(options.Endpoint, "v1/"),
            Timeout = TimeSpan.FromSeconds(60),
        };
    }

    public static JsonContent Json<T>(T body) => JsonContent.Create(body);

    /// <summary>
    /// A REST path from resource-name segments, each URL-escaped: a topic or subscription name may hold characters
    /// (<c>%</c>, <c>+</c>, <c>~</c>, …) that a path must not carry raw.
    /// </summary>
    public static string ResourcePath(params string[] segments) => string.Join('/', segments.Select(Uri.EscapeDataString));

    /// <summary>Throws <see cref="PubSubException"/> with the API's own error message for a non-2xx answer.</summary>
    public static async Task EnsureSuccessAsync(HttpResponseMessage response, string what, CancellationToken cancellationToken)
    {
        if (response.IsSuccessStatusCode) return;
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        throw new PubSubException(response.StatusCode,
            $"Pub/Sub answered {(int)response.StatusCode} {response.StatusCode} {what}: {ErrorMessage(body)}");
    }

    private static string ErrorMessage(string body)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            if (document.RootElement.TryGetProperty("error", out var error) && error.TryGetProperty("message", out var message))
                return message.GetString() ?? body;
        }
        catch (JsonException)
        {
            // Not the API's JSON error shape (a proxy's HTML page, say): show it as it is.
        }
        return body.Length <= 500 ? body : body[..500] + "…";
    }
}

/// <summary>Adds <c>Authorization: Bearer</c> with a token from the credential (refreshed by Google.Apis.Auth).</summary>
internal sealed class BearerTokenHandler(Func<CancellationToken, Task<ITokenAccess>> credential, HttpMessageHandler inner)
    : DelegatingHandler(inner)
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var token = await (await credential(cancellationToken)).GetAccessTokenForRequestAsync(request.RequestUri?.ToString(), cancellationToken);
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        return await base.SendAsync(request, cancellationToken);
    }
}
