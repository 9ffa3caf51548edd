using System.Globalization;
using System.Text;

namespace Pipeline.Core;

/// <summary>
/// Where the profile queries read from, each as a table expression of the engine: the order items (<c>order_id,
/// user_id, product_id, status, created_at, sale_price</c>; read only for the catalogue breakdowns), the run's
/// customer statistics (<see cref="BucketTables.CustomerStats"/>: each customer's counted items, distinct orders and
/// revenue), the run's predictions, and the optional <c>users</c> and <c>products</c> tables (null when not given).
/// </summary>
public sealed record ProfileTables(string OrderItems, string CustomerStats, string Predictions, string? Users, string? Products);

/// <summary>
/// The few places where BigQuery's GoogleSQL and DuckDB differ in the profile queries; everything else is written
/// once, so both backends compute the same profile.
/// </summary>
/// <param name="Parameter">How a named parameter is written: <c>@name</c> (BigQuery) or <c>$name</c> (DuckDB).</param>
/// <param name="Quantile">The interpolating quantile function: PERCENTILE_CONT or quantile_cont.</param>
/// <param name="DoubleType">The double type: FLOAT64 or DOUBLE.</param>
/// <param name="WindowTimestamps">Whether the window's bounds are DATE parameters turned into TIMESTAMPs in SQL
/// (BigQuery), rather than TIMESTAMP parameters (DuckDB).</param>
/// <param name="PositionalJoin">Whether the engine can join two tables row by row (DuckDB's POSITIONAL JOIN), which
/// <see cref="ProfileSql.Segments"/> uses for tables in the same user order.</param>
public sealed record ProfileSqlDialect(char Parameter, string Quantile, string DoubleType, bool WindowTimestamps, bool PositionalJoin)
{
    public static ProfileSqlDialect BigQuery { get; } = new('@', "PERCENTILE_CONT", "FLOAT64", true, false);
    public static ProfileSqlDialect DuckDb { get; } = new('$', "quantile_cont", "DOUBLE", false, true);
}

/// <summary>
/// The profile's queries (CONTRACT.md, "Profiles"), for both backends: each segment's customers joined to their
/// statistics (whose counted items, orders and revenue follow the statistics' rule, <see cref="StatsPreset"/>) and to
/// <c>users</c>; and, only with a <c>products</c> table, the window's counted items joined to it in one scan. They
/// return only aggregates — per segment, never per customer — and never select a name, e-mail, address or coordinate.
/// <see cref="ProfileAssembler"/> turns their rows into <see cref="ProfilesDocument"/>.
/// Parameters of <see cref="Catalogue"/>: <c>window_start</c>, <c>window_end</c>.
/// </summary>
/// <remarks>
/// A segment's orders are the sum of its customers' distinct orders: an order id that two customers share (thelook
/// has none) counts once for each.
/// </remarks>
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

    /// <summary>Where the queries read from.</summary>
    public ProfileTables Tables => tables;

    /// <summary>The value a cell gets when the attribute is empty.</summary>
    public const string Unknown = "(unknown)";

    private string P(string name) => $"{dialect.Parameter}{name}";

    private string WindowBound(string name) => dialect.WindowTimestamps ? $"TIMESTAMP({P(name)})" : P(name);

    /// <summary>Which statuses the preset counts, as a condition to add to the window's.</summary>
    private string CountedStatuses => preset switch
    {
        StatsPreset.Rfm => "\n      AND status NOT IN ('Cancelled', 'Returned')",
        StatsPreset.Lab => "",
        _ => throw new InvalidOperationException($"no profile rule for the preset {preset}"),
    };

    /// <summary>
    /// The common table expressions of a profile query: the customers' segments, and what else it reads — the
    /// customers' statistics, the window's counted items (the same rule as the statistics), <c>users</c> and
    /// <c>products</c> one row per id.
    /// </summary>
    private string With(bool stats = false, bool items = false, bool people = false, bool catalogue = false)
    {
        var with = new StringBuilder($"""
            WITH
              customers AS (
                SELECT user_id, centroid_id
                FROM {tables.Predictions})
            """);
        if (stats)
            with.Append($"""
                ,
                  stats AS (
                    SELECT user_id, {BucketTables.ItemsCounted}, {BucketTables.DistinctOrders}, {BucketTables.Revenue}
                    FROM {tables.CustomerStats})
                """);
        if (items)
            with.Append($"""
                ,
                  items AS (
                    SELECT user_id, product_id, sale_price
                    FROM {tables.OrderItems}
                    WHERE created_at >= {WindowBound("window_start")}
                      AND created_at < {WindowBound("window_end")}{CountedStatuses})
                """);
        // One row per id (a table with a repeated id must not count a customer twice); only the profiled columns.
        if (people && tables.Users is { } users)
            with.Append(Lookup("people", "user_id", users,
                [("gender", "CAST(gender AS STRING)"), ("age_band", AgeBand("age")), ("country", "CAST(country AS STRING)"),
                 ("traffic_source", "CAST(traffic_source AS STRING)")]));
        if (catalogue && tables.Products is { } products)
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
    /// Per segment (<c>centroid_id</c>): customers, orders, counted items and revenue, added up from the customers'
    /// statistics (no order item is read); and the counted items and customers that found no row in <c>users</c>.
    /// </summary>
    /// <param name="aligned">The predictions and the statistics hold the same users in the same order (as the embedded
    /// backend writes them): join them by position instead of hashing millions of ids, and count in the same pass, as a
    /// last column <c>misaligned</c>, the rows whose ids differ — any means the tables were not aligned and the rows are
    /// wrong (read them again without <paramref name="aligned"/>). Only where <see cref="ProfileSqlDialect.PositionalJoin"/>.</param>
    public string Segments(bool aligned = false)
    {
        if (aligned && !dialect.PositionalJoin) throw new InvalidOperationException("this dialect has no positional join");
        var people = tables.Users is null ? "" : "\nLEFT JOIN people AS u ON u.user_id = c.user_id";
        var withoutUser = tables.Users is null ? "0" : $"SUM(CASE WHEN u.user_id IS NULL THEN s.{BucketTables.ItemsCounted} ELSE 0 END)";
        var customersWithoutUser = tables.Users is null ? "0" : "SUM(CASE WHEN u.user_id IS NULL THEN 1 ELSE 0 END)";
        var join = aligned ? "POSITIONAL JOIN stats AS s" : "JOIN stats AS s ON s.user_id = c.user_id";
        var misaligned = aligned ? ",\n  COUNT(*) FILTER (WHERE c.user_id IS DISTINCT FROM s.user_id) AS misaligned" : "";
        return $"""
            {With(stats: true, people: true)}
            SELECT
              c.centroid_id,
              COUNT(*) AS customers,
              SUM(s.{BucketTables.DistinctOrders}) AS orders,
              SUM(s.{BucketTables.ItemsCounted}) AS items,
              SUM(s.{BucketTables.Revenue}) AS revenue,
              {withoutUser} AS items_without_user,
              {customersWithoutUser} AS customers_without_user{misaligned}
            FROM customers AS c
            {join}{people}
            GROUP BY c.centroid_id
            ORDER BY c.centroid_id
            """;
    }

    /// <summary>The quartiles <see cref="Quartiles"/> gives, in its order.</summary>
    public static IReadOnlyList<(string Name, double Fraction)> QuartileFractions { get; } = [("q1", 0.25), ("median", 0.5), ("q3", 0.75)];

    /// <summary>
    /// The quartiles of the three features per segment, and of the whole population as <c>centroid_id</c> 0 (the
    /// interpolating PERCENTILE_CONT, over the predictions). The embedded backend gets the same numbers without a
    /// sort of every customer (its <c>SegmentQuantiles</c>).
    /// </summary>
    public string Quartiles()
    {
        string Columns(string over) => string.Join(",\n  ", Features.All.SelectMany(f => QuartileFractions
            .Select(q => string.Create(CultureInfo.InvariantCulture,
                $"{dialect.Quantile}(CAST({f} AS {dialect.DoubleType}), {q.Fraction}) OVER ({over}) AS {f}_{q.Name}"))));
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
        return $"{With(people: true)}\n{string.Join("\nUNION ALL\n", parts)}\nORDER BY centroid_id, dimension, value";
    }

    /// <summary>
    /// In one scan of the window's counted items joined to <c>products</c>: per segment, the items that found no row
    /// there and the revenue and cost of those that did (rows whose <c>dimension</c> is null); and revenue and buying
    /// customers per segment and value of each <c>products</c> attribute (<see cref="CatalogueDimensions"/>), over the
    /// items found in products. Null without products: then no order item is read at all.
    /// </summary>
    public string? Catalogue()
    {
        if (tables.Products is null) return null;
        // A value only for items found in products: the others form a group of their own (null), dropped below.
        var values = string.Join(",\n      ", CatalogueDimensions.Select(d =>
            $"CASE WHEN p.product_id IS NULL THEN NULL ELSE COALESCE({d.Column}, '{Unknown}') END AS {d.Dimension}"));
        var dimension = "CASE " + string.Join(" ", CatalogueDimensions.Select(d => $"WHEN GROUPING({d.Dimension}) = 0 THEN '{d.Dimension}'")) + " END";
        var sets = string.Join(", ", CatalogueDimensions.Select(d => $"(centroid_id, {d.Dimension})").Prepend("(centroid_id)"));
        return $"""
            {With(items: true, catalogue: true)},
              counted AS (
                SELECT
                  c.centroid_id,
                  i.user_id,
                  i.sale_price,
                  p.product_id IS NOT NULL AS found,
                  p.cost,
                  {values}
                FROM items AS i
                JOIN customers AS c ON c.user_id = i.user_id
                LEFT JOIN catalogue AS p ON p.product_id = i.product_id)
            SELECT *
            FROM (
              SELECT
                centroid_id,
                {dimension} AS dimension,
                COALESCE({string.Join(", ", CatalogueDimensions.Select(d => d.Dimension))}) AS value,
                COUNT(DISTINCT user_id) AS customers,
                SUM(sale_price) AS revenue,
                SUM(CASE WHEN found THEN 0 ELSE 1 END) AS items_without_product,
                CAST(SUM(CASE WHEN found THEN sale_price ELSE 0 END) AS {dialect.DoubleType}) AS product_revenue,
                CAST(SUM(CASE WHEN found THEN cost ELSE 0 END) AS {dialect.DoubleType}) AS cost
              FROM counted
              GROUP BY GROUPING SETS ({sets}))
            WHERE dimension IS NULL OR value IS NOT NULL
            ORDER BY centroid_id, dimension, value
            """;
    }
}
