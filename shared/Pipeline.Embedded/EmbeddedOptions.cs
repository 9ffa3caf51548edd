namespace Pipeline.Embedded;

/// <summary>
/// Settings of the embedded backend, bound from the <c>Embedded</c> section (environment:
/// <c>Embedded__BucketDirectory</c>, <c>Embedded__Input</c>).
/// </summary>
public sealed class EmbeddedOptions
{
    public const string SectionName = "Embedded";

    /// <summary>The local directory that plays the bucket.</summary>
    public string BucketDirectory { get; set; } = "out";

    /// <summary>The order items: a CSV file, a Parquet file, or a DuckDB database with an <c>order_items</c> table.</summary>
    public string? Input { get; set; }

    /// <summary>How much memory DuckDB may use (its <c>memory_limit</c>), e.g. "4GB"; empty for DuckDB's default.</summary>
    public string? MemoryLimit { get; set; }
}
