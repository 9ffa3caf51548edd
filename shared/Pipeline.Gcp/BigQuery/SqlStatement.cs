using System.Security.Cryptography;
using System.Text;

namespace Pipeline.Gcp;

/// <summary>
/// One statement a stage sends to BigQuery, with its named parameters. Its job id is derived from the run, the
/// stage and the statement itself (text and parameter values), so a redelivered message attaches to the job
/// already started instead of starting a second one.
/// </summary>
/// <param name="Key">A short name for the statement within its stage, e.g. <c>stats</c> or <c>model_k5</c>.</param>
/// <param name="Purpose">What the statement does, for the plan and the logs.</param>
public sealed record SqlStatement(
    string RunId,
    string Stage,
    string Key,
    string Purpose,
    string Sql,
    IReadOnlyList<QueryParameter> Parameters)
{
    /// <summary>
    /// The job id of the statement's <paramref name="attempt"/>-th job. A new attempt is started only when the
    /// previous job failed with a transient error (see <see cref="BigQueryClient"/>).
    /// </summary>
    public string JobId(int attempt = 0)
    {
        var id = $"segmentation_{BigQueryNames.RunSuffix(RunId)}_{Stage.ToLowerInvariant()}_{Key}_{Fingerprint()}_{attempt}";
        return BigQueryNames.IsJobId(id) ? id : throw new InvalidOperationException($"'{id}' is not a valid job id");
    }

    /// <summary>The first 12 hex digits of SHA-256 over the SQL and the parameters: a changed statement gets a new job.</summary>
    public string Fingerprint()
    {
        var text = new StringBuilder(Sql);
        foreach (var parameter in Parameters) text.Append('\n').Append(parameter.Describe());
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())))[..12];
    }
}
