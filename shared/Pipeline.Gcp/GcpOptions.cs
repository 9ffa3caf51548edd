using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;

namespace Pipeline.Gcp;

/// <summary>
/// Where the GCP backend works, bound from the <c>Gcp</c> section (environment: <c>Gcp__ProjectId</c>,
/// <c>Gcp__Dataset</c>, <c>Gcp__Bucket</c>, …) and checked at start-up by <see cref="GcpOptionsValidator"/>.
/// </summary>
public sealed class GcpOptions
{
    public const string SectionName = "Gcp";

    /// <summary>The project that runs the BigQuery jobs and holds the dataset (and Vertex AI calls).</summary>
    public string ProjectId { get; set; } = "";

    /// <summary>
    /// The BigQuery location of the dataset and the jobs. It must match the source table's location:
    /// <c>bigquery-public-data.thelook_ecommerce</c> is in the US multi-region.
    /// </summary>
    public string Location { get; set; } = "US";

    /// <summary>The dataset that holds the per-run tables and models (it must exist; the pipeline does not create it).</summary>
    public string Dataset { get; set; } = "";

    /// <summary>The Cloud Storage bucket users read the outputs from.</summary>
    public string Bucket { get; set; } = "";

    /// <summary>The thelook_ecommerce-shaped <c>order_items</c> table, as <c>project.dataset.table</c>.</summary>
    public string SourceTable { get; set; } = "bigquery-public-data.thelook_ecommerce.order_items";

    /// <summary>thelook's <c>users</c>, as <c>project.dataset.table</c>, for the segments' profiles; empty for none.</summary>
    public string UsersTable { get; set; } = "bigquery-public-data.thelook_ecommerce.users";

    /// <summary>thelook's <c>products</c>, as <c>project.dataset.table</c>, for the segments' profiles; empty for none.</summary>
    public string ProductsTable { get; set; } = "bigquery-public-data.thelook_ecommerce.products";

    /// <summary>
    /// Where Vertex AI serves Gemini: <c>global</c> (the default: current Gemini models are offered there first, some only
    /// there), a multi-region (<c>us</c>, <c>eu</c>) that keeps processing inside that jurisdiction, or a region such as
    /// <c>us-central1</c>.
    /// </summary>
    public string VertexLocation { get; set; } = "global";

    /// <summary>After how many days a run's tables and models expire, so old runs clean themselves up.</summary>
    public int TableExpirationDays { get; set; } = 7;

    /// <summary>Another Cloud Storage endpoint (an emulator), as <c>STORAGE_EMULATOR_HOST</c> gives it; no credentials are sent to it.</summary>
    public string? StorageEndpoint { get; set; }

    /// <summary>Another BigQuery REST endpoint (tests, emulators); default the public one.</summary>
    public string BigQueryEndpoint { get; set; } = "https://bigquery.googleapis.com/bigquery/v2/";

    /// <summary>Another Vertex AI endpoint (tests); default the regional (or global) public one.</summary>
    public string? VertexEndpoint { get; set; }

    /// <summary>
    /// The Vertex AI base URL for <see cref="VertexLocation"/>: the global endpoint, a multi-region's
    /// <c>aiplatform.{us|eu}.rep.googleapis.com</c>, or the regional <c>{region}-aiplatform.googleapis.com</c>.
    /// </summary>
    public Uri VertexBaseUri() => new(VertexEndpoint ?? VertexLocation switch
    {
        "global" => "https://aiplatform.googleapis.com/",
        "us" or "eu" => $"https://aiplatform.{VertexLocation}.rep.googleapis.com/",
        _ => $"https://{VertexLocation}-aiplatform.googleapis.com/",
    });
}

/// <summary>Checks <see cref="GcpOptions"/> at start-up and names every setting that is missing or malformed.</summary>
public sealed partial class GcpOptionsValidator : IValidateOptions<GcpOptions>
{
    [GeneratedRegex("^(global|us|eu|[a-z]+-[a-z]+[0-9]+)$")]
    private static partial Regex Region();

    public ValidateOptionsResult Validate(string? name, GcpOptions options)
    {
        var problems = new List<string>();
        void Require(string value, string setting, string example)
        {
            if (string.IsNullOrWhiteSpace(value))
                problems.Add($"{GcpOptions.SectionName}:{setting} is not set (environment: {GcpOptions.SectionName}__{setting}, e.g. {example})");
        }

        Require(options.ProjectId, nameof(GcpOptions.ProjectId), "my-project");
        Require(options.Dataset, nameof(GcpOptions.Dataset), "segmentation");
        Require(options.Bucket, nameof(GcpOptions.Bucket), "my-project-segmentation");
        Require(options.Location, nameof(GcpOptions.Location), "US");

        if (!string.IsNullOrWhiteSpace(options.ProjectId) && !BigQueryNames.IsProjectId(options.ProjectId))
            problems.Add($"{GcpOptions.SectionName}:ProjectId '{options.ProjectId}' is not a valid project id");
        if (!string.IsNullOrWhiteSpace(options.Dataset) && !BigQueryNames.IsDatasetId(options.Dataset))
            problems.Add($"{GcpOptions.SectionName}:Dataset '{options.Dataset}' is not a valid dataset name (letters, digits and _, at most 1,024)");
        if (!string.IsNullOrWhiteSpace(options.Bucket) && !BigQueryNames.IsBucketName(options.Bucket))
            problems.Add($"{GcpOptions.SectionName}:Bucket '{options.Bucket}' is not a Cloud Storage bucket name (lowercase letters, digits, '-', '_' and '.', e.g. my-project-segmentation)");
        if (!BigQueryNames.IsTablePath(options.SourceTable))
            problems.Add($"{GcpOptions.SectionName}:SourceTable '{options.SourceTable}' must be project.dataset.table");
        foreach (var (setting, value) in new[] { (nameof(GcpOptions.UsersTable), options.UsersTable), (nameof(GcpOptions.ProductsTable), options.ProductsTable) })
            if (!string.IsNullOrEmpty(value) && !BigQueryNames.IsTablePath(value))
                problems.Add($"{GcpOptions.SectionName}:{setting} '{value}' must be project.dataset.table (or empty for none)");
        if (!Region().IsMatch(options.VertexLocation))
            problems.Add($"{GcpOptions.SectionName}:VertexLocation '{options.VertexLocation}' is not global, a multi-region (us, eu) or a region such as us-central1");
        if (options.TableExpirationDays is < 1 or > 3650)
            problems.Add($"{GcpOptions.SectionName}:TableExpirationDays must be from 1 to 3650, not {options.TableExpirationDays}");

        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
    }
}
