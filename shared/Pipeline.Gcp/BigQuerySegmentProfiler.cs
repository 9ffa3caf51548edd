using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Pipeline.Core;

namespace Pipeline.Gcp;

/// <summary>
/// The segments' profiles on BigQuery: the run's predictions table joined to its statistics table and to the
/// configured <c>users</c> table, and (only with a <c>products</c> table) the window's order items joined to it
/// (thelook_ecommerce's tables by default), through the queries both backends share (<see cref="ProfileSql"/>,
/// listed by <c>plan</c>). Only aggregates come back.
/// </summary>
public sealed class BigQuerySegmentProfiler(
    IBigQueryClient bigQuery, IOptions<GcpOptions> gcp, IOptions<PipelineOptions> pipeline, IOptions<ProfileOptions> profileOptions,
    TimeProvider clock, ILogger<BigQuerySegmentProfiler> logger) : ISegmentProfiler
{
    /// <summary>What the profile's notes tell a user of the GCP backend who wants the missing tables.</summary>
    public const string HowToAdd = "set Gcp:UsersTable and Gcp:ProductsTable, e.g. bigquery-public-data.thelook_ecommerce.users";

    public async Task<ProfilesDocument> ProfileAsync(RunParameters parameters, SegmentModel model, CancellationToken cancellationToken)
    {
        var plan = new SqlPlan(gcp.Value, parameters);
        var run = BigQueryStageRun.Start(bigQuery, Stages.Predict, pipeline.Value, clock);

        var segments = (await run.QueryAsync(plan.ProfileSegments(), cancellationToken)).Select(r => new SegmentFacts(
            (int)r.GetInt64("centroid_id"), r.GetInt64("customers"), r.GetInt64("orders"), r.GetInt64("items"), r.GetDouble("revenue"),
            r.GetInt64("items_without_user"), r.GetInt64("customers_without_user"), 0, 0, 0)).ToList();
        var quartiles = (await run.QueryAsync(plan.ProfileQuartiles(), cancellationToken)).ToDictionary(
            r => (int)r.GetInt64("centroid_id"),
            r => new RfmQuartiles(Quartiles(r, Features.DaysSinceLastOrder), Quartiles(r, Features.CountOrders), Quartiles(r, Features.AverageSpend)));
        var people = plan.ProfilePeople() is { } peopleSql
            ? (await run.QueryAsync(peopleSql, cancellationToken)).Select(Cell).ToList()
            : null;
        var catalogue = plan.ProfileCatalogue() is { } catalogueSql
            ? (await run.QueryAsync(catalogueSql, cancellationToken)).Select(r => new CatalogueRow(
                (int)r.GetInt64("centroid_id"), r.GetString("dimension"), r.GetString("value"), r.GetInt64("customers"), r.GetDouble("revenue"),
                r.GetInt64("items_without_product"), r.GetNullableDouble("product_revenue") ?? 0, r.GetNullableDouble("cost") ?? 0)).ToList()
            : null;

        var facts = ProfileFacts.Combine(segments, quartiles, people, catalogue,
            NullIfEmpty(gcp.Value.UsersTable), NullIfEmpty(gcp.Value.ProductsTable), HowToAdd);
        logger.LogInformation("Profiled {Segments} segments of run {RunId} from {PredictionsTable}", segments.Count, parameters.RunId, plan.PredictionsTable);
        return ProfileAssembler.Build(parameters.RunId, model, facts, profileOptions.Value);
    }

    private static Quartiles Quartiles(BigQueryRow row, string feature) =>
        new(row.GetDouble($"{feature}_q1"), row.GetDouble($"{feature}_median"), row.GetDouble($"{feature}_q3"));

    private static CellFacts Cell(BigQueryRow row) => new(
        (int)row.GetInt64("centroid_id"), row.GetString("dimension")!, row.GetString("value")!, row.GetInt64("customers"), 0);

    private static string? NullIfEmpty(string value) => string.IsNullOrEmpty(value) ? null : value;
}
