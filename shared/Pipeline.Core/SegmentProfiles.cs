using System.ComponentModel.DataAnnotations;

namespace Pipeline.Core;

/// <summary>
/// <c>runs/{run_id}/profiles.json</c>: who the customers of each segment are and what they buy, from the optional
/// <c>users</c> and <c>products</c> tables joined to the window's counted order items (CONTRACT.md, "Profiles").
/// Only aggregates: no name, e-mail, address or coordinate; a cell of fewer than
/// <paramref name="MinimumCellCustomers"/> customers is suppressed (<see cref="ProfileCell.Suppressed"/>).
/// </summary>
/// <param name="Lacking">What the profiles cannot say and why, e.g. that there was no <c>users</c> table; empty when complete.</param>
/// <param name="Population">The whole customer population: the base every index is measured against.</param>
/// <param name="Segments">One profile per segment, in centroid-id order.</param>
public sealed record ProfilesDocument(
    string RunId,
    int MinimumCellCustomers,
    ProfileCoverage Coverage,
    IReadOnlyList<string> Lacking,
    SegmentProfile Population,
    IReadOnlyList<SegmentProfile> Segments)
{
    /// <summary>The profile of a segment, or null when it has none.</summary>
    public SegmentProfile? For(int centroidId) => Segments.FirstOrDefault(s => s.CentroidId == centroidId);
}

/// <summary>
/// Which tables the profiles were built from, and the rows that did not join: counted items whose <c>user_id</c> is
/// not in <c>users</c> or whose <c>product_id</c> is not in <c>products</c> (or is empty). Unjoined rows still count
/// in revenue and RFM; they only lack the demographics or the catalogue.
/// </summary>
/// <param name="Users">The <c>users</c> table the run read (a file, a DuckDB table or a BigQuery table), or null.</param>
/// <param name="Products">The <c>products</c> table the run read, or null.</param>
/// <param name="ItemsCounted">The window's counted order items (the statistics' rows).</param>
/// <param name="CustomersWithoutUser">Customers whose user_id has no row in <c>users</c> (0 without users).</param>
public sealed record ProfileCoverage(
    string? Users,
    string? Products,
    long ItemsCounted,
    long ItemsWithoutUser,
    long ItemsWithoutProduct,
    long CustomersWithoutUser);

/// <summary>
/// One segment's profile (or the population's, with <paramref name="CentroidId"/> null). Shares of a breakdown
/// are within the profile; each cell's <see cref="ProfileCell.Index"/> compares that share with the population's.
/// A breakdown is null when its table was not given (see <see cref="ProfilesDocument.Lacking"/>).
/// </summary>
/// <param name="CustomerShare">Customers ÷ all customers.</param>
/// <param name="Revenue">Sum of sale_price of the counted items in the window.</param>
/// <param name="RevenueShare">Revenue ÷ all customers' revenue.</param>
/// <param name="RevenueIndex">RevenueShare ÷ CustomerShare: above 1 when the segment brings more than its head count.</param>
/// <param name="AverageOrderValue">Revenue ÷ distinct orders.</param>
/// <param name="Gender">Customers by gender (of customers found in <c>users</c>).</param>
/// <param name="AgeBands">Customers by age band (<see cref="AgeBands"/>).</param>
/// <param name="Countries">Customers by country, largest first.</param>
/// <param name="TrafficSources">Customers by the channel they arrived from (<c>users.traffic_source</c>), largest first.</param>
/// <param name="Departments">Revenue by department, largest first (of items found in <c>products</c>).</param>
/// <param name="Categories">Revenue by category, largest first.</param>
/// <param name="Brands">Revenue by brand, largest first.</param>
/// <param name="Margin">Revenue − cost of the items found in <c>products</c>.</param>
public sealed record SegmentProfile(
    int? CentroidId,
    string Segment,
    long Customers,
    double CustomerShare,
    long Orders,
    double Revenue,
    double RevenueShare,
    double RevenueIndex,
    double AverageOrderValue,
    RfmQuartiles Rfm,
    ProfileBreakdown? Gender,
    ProfileBreakdown? AgeBands,
    ProfileBreakdown? Countries,
    ProfileBreakdown? TrafficSources,
    ProfileBreakdown? Departments,
    ProfileBreakdown? Categories,
    ProfileBreakdown? Brands,
    MarginProfile? Margin);

/// <summary>The three features' quartiles over the segment's customers (linear interpolation, PERCENTILE_CONT).</summary>
public sealed record RfmQuartiles(Quartiles DaysSinceLastOrder, Quartiles CountOrders, Quartiles AverageSpend);

/// <summary>First quartile, median, third quartile.</summary>
public sealed record Quartiles(double Q1, double Median, double Q3);

/// <summary>What a breakdown's shares are shares of.</summary>
public enum ProfileMeasure
{
    /// <summary>Share of the profile's customers (found in <c>users</c>) in the cell.</summary>
    Customers,
    /// <summary>Share of the profile's revenue (items found in <c>products</c>) in the cell.</summary>
    Revenue,
}

/// <summary>
/// A profile split by one attribute. <paramref name="Cells"/> holds the configured number of largest values: those
/// with enough customers largest first, then the suppressed ones among them by label (their size stays hidden);
/// <paramref name="Values"/> says how many distinct values there are in all, <paramref name="SuppressedCells"/> how
/// many of them (listed or not) describe too few customers.
/// </summary>
public sealed record ProfileBreakdown(ProfileMeasure Measure, int Values, int SuppressedCells, IReadOnlyList<ProfileCell> Cells);

/// <summary>
/// One value of a breakdown ("Female", "25–34", "United States", "Search", "Jeans"). A cell describing fewer than
/// the minimum of customers is <paramref name="Suppressed"/>: its numbers are null.
/// </summary>
/// <param name="Customers">Distinct customers in the cell (for revenue breakdowns: who bought from it).</param>
/// <param name="Share">The cell's share of the profile's customers or revenue (<see cref="ProfileBreakdown.Measure"/>).</param>
/// <param name="Revenue">The cell's revenue (revenue breakdowns only).</param>
/// <param name="Index">Share ÷ the population's share of the same value; 1 is "as everyone", 1.5 "half as much again".</param>
public sealed record ProfileCell(string Value, long? Customers, double? Share, double? Revenue, double? Index, bool Suppressed);

/// <summary>Revenue − cost of the profile's items found in <c>products</c>, in total and per customer.</summary>
/// <param name="MarginRate">Margin ÷ revenue of those items.</param>
public sealed record MarginProfile(double Revenue, double Cost, double Margin, double MarginPerCustomer, double MarginRate);

/// <summary>The age bands of a profile, as marketing teams cut them; a user's age falls in exactly one.</summary>
public static class AgeBands
{
    /// <summary>Each band's label and its lowest age; the next band's lowest age ends it.</summary>
    public static IReadOnlyList<(string Label, int From)> All { get; } =
        [("under 18", 0), ("18–24", 18), ("25–34", 25), ("35–44", 35), ("45–54", 45), ("55–64", 55), ("65+", 65)];

    /// <summary>The band of an age.</summary>
    public static string Of(int age) => All.Last(b => age >= b.From).Label;
}

/// <summary>
/// How profiles are built, bound from the <c>Profiles</c> section (environment: <c>Profiles__MinimumCellCustomers</c>, …).
/// </summary>
public sealed class ProfileOptions
{
    public const string SectionName = "Profiles";

    /// <summary>A cell describing fewer customers than this is suppressed, so that no output singles out a few people.</summary>
    [Range(1, 1_000_000, ErrorMessage = "Profiles:MinimumCellCustomers must be from 1 to 1,000,000, e.g. 20")]
    public int MinimumCellCustomers { get; set; } = 20;

    /// <summary>How many values each breakdown lists (countries, categories, brands …), largest first.</summary>
    [Range(1, 100, ErrorMessage = "Profiles:TopValues must be from 1 to 100, e.g. 10")]
    public int TopValues { get; set; } = 10;
}

/// <summary>
/// Builds <c>profiles.json</c> for a run whose predictions exist (DuckDB SQL embedded, BigQuery SQL on GCP) and
/// returns it; Predict writes it to <see cref="BucketLayout.Profiles"/>.
/// </summary>
public interface ISegmentProfiler
{
    Task<ProfilesDocument> ProfileAsync(RunParameters parameters, SegmentModel model, CancellationToken cancellationToken);
}
