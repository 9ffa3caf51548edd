using System.Globalization;
using System.Text;

namespace Pipeline.Core;

/// <summary>
/// Where the profile queries read from: the order items (<c>order_id, user_id, product_id, status, created_at,
/// sale_price</c>), the run's predictions, and the optional <c>users</c> and <c>products</c> tables (null when not
/// given), each as a table expression of the engine.
/// </summary>
public sealed record ProfileTables(string OrderItems, string Predictions, string? Users, string? Products);

/// <summary>
/// The few places where BigQuery's GoogleSQL and DuckDB differ in the profile queries; everything else is written
/// once, so both backends compute the same profile.
/// </summary>
/// <param name="Parameter">How a named parameter is written: <c>@name</c> (BigQuery) or <c>$name</c> (DuckDB).</param>
/// <param name="Quantile">The interpolating quantile function usable over a window: PERCENTILE_CONT or quantile_cont.</param>
/// <param name="DoubleType">The double type: FLOAT64 or DOUBLE.</param>
/// <param name="WindowTimestamps">Whether the window's bounds are DATE parameters turned into TIMESTAMPs in SQL
/// (BigQuery), rather than TIMESTAMP parameters (DuckDB).</param>
public sealed record ProfileSqlDialect(char Parameter, string Quantile, string DoubleType, bool WindowTimestamps)
{
    public static ProfileSqlDialect BigQuery { get; } = new('@', "PERCENTILE_CONT", "FLOAT64", true);
    public static ProfileSqlDialect DuckDb { get; } = new('$', "quantile_cont", "DOUBLE", false);
}

/// <summary>
/// The profile's queries (CONTRACT.md, "Profiles"), for both backends: the counted items of the window (the same
/// rule as the statistics, <see cref="StatsPreset"/>) joined to each customer's segment and to <c>users</c> and
/// <c>products</c>. They return only aggregates — per segment, never per customer — and never select a name,
/// e-mail, address or coordinate. <see cref="ProfileAssembler"/> turns their rows into <see cref="ProfilesDocument"/>.
/// Parameters: <c>window_start</c>, <c>window_end</c>.
/// </summary>
public sealed class ProfileSql(ProfileSqlDialect dialect, ProfileTables tables, StatsPreset preset)
{
    /// <summary>The breakdowns by a column of <c>users</c>: (dimension, SQL over alias <c>u</c>).</summary>
    public static IReadOnlyList<(string Dimension, string Column)> PeopleDimensions { get; } =
    [
        ("gender", "u.gender"),
        ("age_band", "u.age_band"),
        ("country", "u.country"),
        ("traffic_source", "u.traffic_source"),
    ];

    /// <summary>The breakdowns by a column of <c>products</c> (alias <c>p</c>), measured in revenue.</summary>
    public static IReadOnlyList<(string Dimension, string Column)> CatalogueDimensions { get; } =
    [
        ("department", "p.department"),
        ("category", "p.category"),
        ("brand", "p.brand"),
    ];

    /// <summary>The value a cell gets when the attribute is empty.</summary>
    public const string Unknown = "(unknown)";

    private string P(string name) => $"{dialect.Parameter}{name}";

    private string WindowBound(string name) => dialect.WindowTimestamps ? $"TIMESTAMP({P(name)})" : P(name);

    /// <summary>The common table expressions every profile query starts from.</summary>
    private string With()
    {
        var filter = preset switch
        {
            StatsPreset.Rfm => "\n      AND status NOT IN ('Cancelled', 'Returned')",
            StatsPreset.Lab => "",
            _ => throw new ArgumentOutOfRangeException(nameof(preset)),
        };
        var with = new StringBuilder($"""
            WITH
              items AS (
                SELECT user_id, order_id, product_id, sale_price
                FROM {tables.OrderItems}
                WHERE created_at >= {WindowBound("window_start")}
                  AND created_at < {WindowBound("window_end")}{filter}),
              customers AS (
                SELECT user_id, centroid_id
                FROM {tables.Predictions})
            """);
        // One row per id (a table with a repeated id must not count a customer twice); only the profiled columns.
        if (tables.Users is { } users)
            with.Append(Lookup("people", "user_id", users,
                [("gender", "CAST(gender AS STRING)"), ("age_band", AgeBand("age")), ("country", "CAST(country AS STRING)"),
                 ("traffic_source", "CAST(traffic_source AS STRING)")]));
        if (tables.Products is { } products)
            with.Append(Lookup("catalogue", "product_id", products,
                [("department", "CAST(department AS STRING)"), ("category", "CAST(category AS STRING)"), ("brand", "CAST(brand AS STRING)"),
                 ("cost", $"CAST(cost AS {dialect.DoubleType})")]));
        return with.ToString();
    }

    /// <summary>A table's profiled columns, one row per <c>id</c> (renamed <paramref name="key"/>), as a CTE.</summary>
    private static string Lookup(string name, string key, string table, IReadOnlyList<(string Name, string Sql)> columns) =>
        $",\n  {name} AS (\n    SELECT\n      id AS {key},\n" +
        string.Join(",\n", columns.Select(c => $"      ANY_VALUE({c.Sql}) AS {c.Name}")) +
        $"\n    FROM {table}\n    GROUP BY id)";

    /// <summary>The age band (<see cref="AgeBands"/>) of an age column, as a CASE both engines read the same.</summary>
    private static string AgeBand(string age)
    {
        var cases = new StringBuilder("CASE");
        foreach (var (label, from) in AgeBands.All.Reverse())
            cases.Append(CultureInfo.InvariantCulture, $" WHEN {age} >= {from} THEN '{label}'");
        return cases.Append(" END").ToString();
    }

    /// <summary>
    /// Per segment (<c>centroid_id</c>): customers, orders, items and revenue of the counted items; the items and
    /// customers that found no row in <c>users</c> or <c>products</c>; revenue and cost of the items that did.
    /// </summary>
    public string Segments()
    {
        var people = tables.Users is null ? "" : "\nLEFT JOIN people AS u ON u.user_id = i.user_id";
        var catalogue = tables.Products is null ? "" : "\nLEFT JOIN catalogue AS p ON p.product_id = i.product_id";
        var withoutUser = tables.Users is null ? "0" : "SUM(CASE WHEN u.user_id IS NULL THEN 1 ELSE 0 END)";
        var customersWithoutUser = tables.Users is null ? "0" : "COUNT(DISTINCT CASE WHEN u.user_id IS NULL THEN i.user_id END)";
        var withoutProduct = tables.Products is null ? "0" : "SUM(CASE WHEN p.product_id IS NULL THEN 1 ELSE 0 END)";
        var productRevenue = tables.Products is null ? "0" : "SUM(CASE WHEN p.product_id IS NULL THEN 0 ELSE i.sale_price END)";
        var cost = tables.Products is null ? "0" : "SUM(CASE WHEN p.product_id IS NULL THEN 0 ELSE p.cost END)";
        return $"""
            {With()}
            SELECT
              c.centroid_id,
              COUNT(DISTINCT i.user_id) AS customers,
              COUNT(DISTINCT i.order_id) AS orders,
              COUNT(*) AS items,
              SUM(i.sale_price) AS revenue,
              {withoutUser} AS items_without_user,
              {customersWithoutUser} AS customers_without_user,
              {withoutProduct} AS items_without_product,
              CAST({productRevenue} AS {dialect.DoubleType}) AS product_revenue,
              CAST({cost} AS {dialect.DoubleType}) AS cost
            FROM items AS i
            JOIN customers AS c ON c.user_id = i.user_id{people}{catalogue}
            GROUP BY c.centroid_id
            ORDER BY c.centroid_id
            """;
    }

    /// <summary>
    /// The quartiles of the three features per segment, and of the whole population as <c>centroid_id</c> 0 (the
    /// interpolating PERCENTILE_CONT, over the predictions).
    /// </summary>
    public string Quartiles()
    {
        string Columns(string over) => string.Join(",\n  ", Features.All.SelectMany(f => new[] { ("q1", 0.25), ("median", 0.5), ("q3", 0.75) }
            .Select(q => string.Create(CultureInfo.InvariantCulture,
                $"{dialect.Quantile}(CAST({f} AS {dialect.DoubleType}), {q.Item2}) OVER ({over}) AS {f}_{q.Item1}"))));
        return $"""
            SELECT DISTINCT
              centroid_id,
              {Columns("PARTITION BY centroid_id")}
            FROM {tables.Predictions}
            UNION ALL
            SELECT DISTINCT
              0 AS centroid_id,
              {Columns("")}
            FROM {tables.Predictions}
            ORDER BY centroid_id
            """;
    }

    /// <summary>
    /// Customers per segment and value of each <c>users</c> attribute (<see cref="PeopleDimensions"/>), among the
    /// customers found in <c>users</c>; null when there is no users table.
    /// </summary>
    public string? People()
    {
        if (tables.Users is null) return null;
        var parts = PeopleDimensions.Select(d => $"""
            SELECT c.centroid_id, '{d.Dimension}' AS dimension, COALESCE({d.Column}, '{Unknown}') AS value, COUNT(*) AS customers
            FROM customers AS c
            JOIN people AS u ON u.user_id = c.user_id
            GROUP BY 1, 2, 3
            """);
        return $"{With()}\n{string.Join("\nUNION ALL\n", parts)}\nORDER BY centroid_id, dimension, value";
    }

    /// <summary>
    /// Revenue and buying customers per segment and value of each <c>products</c> attribute
    /// (<see cref="CatalogueDimensions"/>), over the counted items found in <c>products</c>; null without products.
    /// </summary>
    public string? Catalogue()
    {
        if (tables.Products is null) return null;
        var parts = CatalogueDimensions.Select(d => $"""
            SELECT c.centroid_id, '{d.Dimension}' AS dimension, COALESCE({d.Column}, '{Unknown}') AS value,
              COUNT(DISTINCT i.user_id) AS customers, SUM(i.sale_price) AS revenue
            FROM items AS i
            JOIN customers AS c ON c.user_id = i.user_id
            JOIN catalogue AS p ON p.product_id = i.product_id
            GROUP BY 1, 2, 3
            """);
        return $"{With()}\n{string.Join("\nUNION ALL\n", parts)}\nORDER BY centroid_id, dimension, value";
    }
}
