namespace Pipeline.Embedded;

/// <summary>
/// Settings of the embedded backend, bound from the <c>Embedded</c> section (environment:
/// <c>Embedded__BucketDirectory</c>, <c>Embedded__Input</c>, <c>Embedded__Users</c>, <c>Embedded__Products</c>).
/// </summary>
public sealed class EmbeddedOptions
{
    public const string SectionName = "Embedded";

    /// <summary>The local directory that plays the bucket.</summary>
    public string BucketDirectory { get; set; } = "out";

    /// <summary>The order items: a CSV file, a Parquet file, or a DuckDB database with an <c>order_items</c> table.</summary>
    public string? Input { get; set; }

    /// <summary>
    /// thelook's <c>users</c> (CSV or Parquet), for the segments' profiles; default the <c>users</c> table of a DuckDB
    /// input, else none (the profile then says what it lacks).
    /// </summary>
    public string? Users { get; set; }

    /// <summary>thelook's <c>products</c> (CSV or Parquet); default the <c>products</c> table of a DuckDB input, else none.</summary>
    public string? Products { get; set; }

    /// <summary>
    /// How much memory DuckDB may use (its <c>memory_limit</c>), e.g. "4GB"; empty for DuckDB's own default (80 % of
    /// the machine's memory). Beyond it DuckDB spills to its temp directory: with the default 2GB a run of 100 million
    /// items (9.4 million customers) peaks at 3.9 GB in the process, no slower than unbounded, which peaks at 4.9 GB.
    /// </summary>
    public string? MemoryLimit { get; set; } = "2GB";
}
