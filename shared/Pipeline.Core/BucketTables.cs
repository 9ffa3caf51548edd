namespace Pipeline.Core;

/// <summary>
/// A column type of the bucket's Parquet tables, chosen once for both backends. BigQuery has no 32-bit integer, so
/// ids and counts are 64-bit everywhere: BigQuery's <c>EXPORT DATA</c> writes INT64 as Parquet INT64, FLOAT64 as
/// DOUBLE, STRING as a UTF-8 BYTE_ARRAY, DATE as a DATE-annotated INT32 and BOOL as BOOLEAN, and the embedded backend
/// (DuckDB) writes BIGINT, DOUBLE, VARCHAR, DATE and BOOLEAN as the same.
/// </summary>
public enum ColumnType
{
    /// <summary>A 64-bit integer: BigQuery INT64, DuckDB BIGINT.</summary>
    WholeNumber,
    /// <summary>A double: BigQuery FLOAT64, DuckDB DOUBLE.</summary>
    Real,
    /// <summary>UTF-8 text: BigQuery STRING, DuckDB VARCHAR.</summary>
    Text,
    /// <summary>A calendar date: BigQuery DATE, DuckDB DATE.</summary>
    Date,
    /// <summary>True or false: BigQuery BOOL, DuckDB BOOLEAN.</summary>
    Flag,
}

/// <summary>A column of a bucket table.</summary>
public sealed record TableColumn(string Name, ColumnType Type)
{
    /// <summary>The column's type in BigQuery's GoogleSQL.</summary>
    public string BigQueryType => Type switch
    {
        ColumnType.WholeNumber => "INT64",
        ColumnType.Real => "FLOAT64",
        ColumnType.Date => "DATE",
        ColumnType.Flag => "BOOL",
        _ => "STRING",
    };

    /// <summary>The Parquet physical type both backends write for it.</summary>
    public string ParquetType => Type switch
    {
        ColumnType.WholeNumber => "INT64",
        ColumnType.Real => "DOUBLE",
        ColumnType.Date => "INT32",
        ColumnType.Flag => "BOOLEAN",
        _ => "BYTE_ARRAY",
    };
}

/// <summary>The columns both backends write to the bucket's tables, in order (CONTRACT.md, "The bucket").</summary>
public static class BucketTables
{
    /// <summary>A customer's counted order items of the window (the items the statistics are computed from).</summary>
    public const string ItemsCounted = "items_counted";

    /// <summary>A customer's distinct order ids among the counted items (whatever the preset counts as orders).</summary>
    public const string DistinctOrders = "distinct_orders";

    /// <summary>The sum of <c>sale_price</c> over a customer's counted items.</summary>
    public const string Revenue = "revenue";

    /// <summary>
    /// <c>customer_stats/part-*.parquet</c>: the three features, then the customer's totals the segment profiles
    /// add up (<see cref="ItemsCounted"/>, <see cref="DistinctOrders"/>, <see cref="Revenue"/>), so that profiling
    /// does not read the order items again.
    /// </summary>
    public static IReadOnlyList<TableColumn> CustomerStats { get; } =
    [
        new("user_id", ColumnType.WholeNumber),
        new(Features.DaysSinceLastOrder, ColumnType.WholeNumber),
        new(Features.CountOrders, ColumnType.WholeNumber),
        new(Features.AverageSpend, ColumnType.Real),
        new(ItemsCounted, ColumnType.WholeNumber),
        new(DistinctOrders, ColumnType.WholeNumber),
        new(Revenue, ColumnType.Real),
    ];

    /// <summary>The columns of <c>predictions/part-*.parquet</c> this list fixes the types of (a table may carry more).</summary>
    public static IReadOnlyList<TableColumn> Predictions { get; } =
    [
        new("user_id", ColumnType.WholeNumber),
        new("centroid_id", ColumnType.WholeNumber),
        new("distance", ColumnType.Real),
        new("segment", ColumnType.Text),
        new(Features.DaysSinceLastOrder, ColumnType.WholeNumber),
        new(Features.CountOrders, ColumnType.WholeNumber),
        new(Features.AverageSpend, ColumnType.Real),
        new("previous_segment_id", ColumnType.WholeNumber),
        new("segment_since", ColumnType.Date),
        new("run_as_of", ColumnType.Date),
        new("control_group", ColumnType.Flag),
    ];
}
