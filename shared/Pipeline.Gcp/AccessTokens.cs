using Google.Apis.Auth.OAuth2;

namespace Pipeline.Gcp;

/// <summary>An OAuth access token for Google's REST APIs; null means "send no credentials" (emulators, tests).</summary>
public interface IAccessTokenSource
{
    Task<string?> GetAccessTokenAsync(CancellationToken cancellationToken);
}

/// <summary>
/// Application Default Credentials (the Cloud Run service account, or <c>gcloud auth application-default login</c>
/// locally), scoped to cloud-platform. The library caches and refreshes the token.
/// </summary>
public sealed class ApplicationDefaultCredentials : IAccessTokenSource
{
    public const string CloudPlatformScope = "https://www.googleapis.com/auth/cloud-platform";

    private Task<ITokenAccess>? _credential;

    public async Task<string?> GetAccessTokenAsync(CancellationToken cancellationToken)
    {
        var loading = _credential ??= LoadAsync();
        ITokenAccess credential;
        try
        {
            credential = await loading.WaitAsync(cancellationToken);
        }
        catch (Exception) when (!cancellationToken.IsCancellationRequested)
        {
            // A failure to find credentials is not cached for the life of the process: the next call tries again.
            _ = Interlocked.CompareExchange(ref _credential, null, loading);
            throw;
        }
        return await credential.GetAccessTokenForRequestAsync(cancellationToken: cancellationToken);
    }

    private static async Task<ITokenAccess> LoadAsync() =>
        (await GoogleCredential.GetApplicationDefaultAsync()).CreateScoped(CloudPlatformScope);
}

/// <summary>No credentials, for emulators and tests.</summary>
public sealed class NoAccessToken : IAccessTokenSource
{
    public Task<string?> GetAccessTokenAsync(CancellationToken cancellationToken) => Task.FromResult<string?>(null);
}
