using System.Globalization;
using DuckDB.NET.Data;
using Pipeline.Core;
using Pipeline.Embedded;

namespace Pipeline.Tests.Profiles;

/// <summary>
/// The segments' profiles on planted data: the DuckDB queries and the assembly against an independent computation
/// in C# (both presets), suppression of small cells, unjoined rows, and missing tables.
/// </summary>
public sealed class SegmentProfileTests
{
    private static readonly DateOnly WindowStart = new(2022, 1, 1);
    private static readonly DateOnly WindowEnd = new(2023, 1, 1);

    private sealed record User(long Id, string Gender, int Age, string? Country, string Traffic);
    private sealed record Product(long Id, string Department, string Category, string Brand, double Cost);
    private sealed record Item(long OrderId, long UserId, long ProductId, string Status, DateTime CreatedAt, double SalePrice);
    private sealed record Prediction(long UserId, int CentroidId, long Days, long Orders, double Spend);

    // Users 1..36 exist (37..40 do not: their items are unjoined); user 7 has no country.
    private static readonly List<User> Users = Enumerable.Range(1, 36).Select(u => new User(u,
        u % 3 == 0 ? "M" : "F", 15 + u, u == 7 ? null : u % 4 == 0 ? "China" : "United States", u % 5 == 0 ? "Email" : "Search")).ToList();

    // Product 99 is not in products.
    private static readonly List<Product> Products =
    [
        new(1, "Women", "Jeans", "Levi's", 4.0), new(2, "Women", "Jeans", "Wrangler", 5.5), new(3, "Women", "Intimates", "Hanes", 2.0),
        new(4, "Men", "Socks", "Hanes", 1.0), new(5, "Men", "Tops & Tees", "Volcom", 6.0), new(6, "Men", "Swim", "Speedo", 3.25),
    ];

    private static readonly List<Item> Items = Enumerable.Range(1, 40).SelectMany(u => new List<Item>
    {
        new(100L * u, u, u % 6 + 1, "Complete", new DateTime(2022, 3, 1, 10, 0, 0, DateTimeKind.Utc).AddDays(u), 10 + u),
        new(100L * u, u, u * 7 % 6 + 1, "Shipped", new DateTime(2022, 3, 1, 10, 0, 0, DateTimeKind.Utc).AddDays(u), 5),
        new(100L * u + 1, u, u % 2 == 0 ? 99 : 3, u % 3 == 0 ? "Cancelled" : "Complete", new DateTime(2022, 6, 1, 0, 0, 0, DateTimeKind.Utc), 20),
        new(100L * u + 2, u, 4, "Complete", new DateTime(2021, 12, 31, 23, 0, 0, DateTimeKind.Utc), 1000),
    }).ToList();

    private static readonly List<Prediction> Predictions = Enumerable.Range(1, 40)
        .Select(u => new Prediction(u, u % 3 == 0 ? 2 : 1, u, 1 + u % 2, 10 + u * 1.5)).ToList();

    private static RunParameters Run(StatsPreset preset) => new("profile-run", WindowStart, WindowEnd, WindowEnd, 2, preset, 42, 0.2);

    private static SegmentModel Model() => new("profile-run", "test", 2, "fixed", Features.All, new Standardization([0, 0, 0], [1, 1, 1]),
        [new Centroid(1, "Loyal Customers", 10, 1, 30, new RfmScore(4, 4, 4)), new Centroid(2, "At Risk", 30, 1, 40, new RfmScore(2, 2, 2))],
        new ModelMetrics(1, 1, 1), 3, 32, 8, 42, null);

    private static DuckDBConnection Planted(bool users = true, bool products = true)
    {
        var connection = DuckDb.Open(new EmbeddedOptions());
        string Text(string? value) => value is null ? "NULL" : DuckDb.Literal(value);
        DuckDb.Execute(connection, "CREATE TABLE order_items (order_id BIGINT, user_id BIGINT, product_id BIGINT, status VARCHAR, created_at TIMESTAMP, sale_price DOUBLE)");
        DuckDb.Execute(connection, "INSERT INTO order_items VALUES " + string.Join(", ", Items.Select(i => string.Create(CultureInfo.InvariantCulture,
            $"({i.OrderId}, {i.UserId}, {i.ProductId}, '{i.Status}', TIMESTAMP '{i.CreatedAt:yyyy-MM-dd HH:mm:ss}', {i.SalePrice})"))));
        DuckDb.Execute(connection, "CREATE TABLE predictions (user_id BIGINT, centroid_id INTEGER, days_since_last_order BIGINT, count_orders BIGINT, average_spend DOUBLE)");
        DuckDb.Execute(connection, "INSERT INTO predictions VALUES " + string.Join(", ", Predictions.Select(p => string.Create(CultureInfo.InvariantCulture,
            $"({p.UserId}, {p.CentroidId}, {p.Days}, {p.Orders}, {p.Spend})"))));
        if (users)
        {
            DuckDb.Execute(connection, "CREATE TABLE users (id BIGINT, first_name VARCHAR, email VARCHAR, gender VARCHAR, age BIGINT, country VARCHAR, traffic_source VARCHAR)");
            DuckDb.Execute(connection, "INSERT INTO users VALUES " + string.Join(", ", Users.Select(u => string.Create(CultureInfo.InvariantCulture,
                $"({u.Id}, 'Name{u.Id}', 'person{u.Id}@example.com', '{u.Gender}', {u.Age}, {Text(u.Country)}, '{u.Traffic}')"))));
        }
        if (products)
        {
            DuckDb.Execute(connection, "CREATE TABLE products (id BIGINT, department VARCHAR, category VARCHAR, brand VARCHAR, cost DOUBLE)");
            DuckDb.Execute(connection, "INSERT INTO products VALUES " + string.Join(", ", Products.Select(p => string.Create(CultureInfo.InvariantCulture,
                $"({p.Id}, '{p.Department}', '{p.Category}', {DuckDb.Literal(p.Brand)}, {p.Cost})"))));
        }
        return connection;
    }

    private static ProfilesDocument Profile(StatsPreset preset, ProfileOptions options, bool users = true, bool products = true)
    {
        using var connection = Planted(users, products);
        DuckDb.Execute(connection, DuckDbStatsBuilder.StatsSql(preset), ("as_of", Run(preset).AsOf.ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc)),
            ("window_start", WindowStart.ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc)), ("window_end", WindowEnd.ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc)));
        // BuildStats' statistics are a TEMP table; the profile reads them as the stage leaves them, where every connection sees them.
        DuckDb.Execute(connection, "CREATE TABLE stats AS SELECT * FROM customer_stats");
        var sql = new ProfileSql(ProfileSqlDialect.DuckDb,
            new ProfileTables("order_items", "stats", "predictions", users ? "users" : null, products ? "products" : null), preset);
        var facts = DuckDbSegmentProfiler.Query(connection, sql, Run(preset), users ? "users" : null, products ? "products" : null);
        return ProfileAssembler.Build("profile-run", Model(), facts, options);
    }

    private static List<Item> Counted(StatsPreset preset) => Items.Where(i =>
        i.CreatedAt >= WindowStart.ToDateTime(TimeOnly.MinValue) && i.CreatedAt < WindowEnd.ToDateTime(TimeOnly.MinValue)
        && (preset == StatsPreset.Lab || i.Status is not ("Cancelled" or "Returned"))).ToList();

    private static int Segment(long userId) => Predictions.Single(p => p.UserId == userId).CentroidId;

    /// <summary>Rounded as profiles.json rounds (half away from zero).</summary>
    private static double R(double value, int decimals = 2) => Math.Round(value, decimals, MidpointRounding.AwayFromZero);

    /// <summary>PERCENTILE_CONT: linear interpolation between the closest ranks.</summary>
    private static double Quantile(IEnumerable<double> values, double p)
    {
        var sorted = values.Order().ToList();
        var rank = p * (sorted.Count - 1);
        var low = (int)Math.Floor(rank);
        return low + 1 < sorted.Count ? sorted[low] + (rank - low) * (sorted[low + 1] - sorted[low]) : sorted[low];
    }

    [Theory]
    [InlineData(StatsPreset.Rfm)]
    [InlineData(StatsPreset.Lab)]
    public void Every_number_matches_an_independent_computation(StatsPreset preset)
    {
        var document = Profile(preset, new ProfileOptions { MinimumCellCustomers = 1, TopValues = 100 });
        var counted = Counted(preset);
        var totalRevenue = counted.Sum(i => i.SalePrice);

        Assert.Equal(counted.Count, document.Coverage.ItemsCounted);
        Assert.Equal(counted.Count(i => Users.All(u => u.Id != i.UserId)), document.Coverage.ItemsWithoutUser);
        Assert.Equal(4, document.Coverage.CustomersWithoutUser);
        Assert.Equal(counted.Count(i => Products.All(p => p.Id != i.ProductId)), document.Coverage.ItemsWithoutProduct);
        Assert.True(document.Coverage.ItemsWithoutProduct > 0);
        Assert.Contains(document.Lacking, l => l.Contains("user_id that is not in users", StringComparison.Ordinal));
        Assert.Contains(document.Lacking, l => l.Contains("product_id that is not in products", StringComparison.Ordinal));

        foreach (var centroid in new[] { 1, 2 })
        {
            var profile = document.For(centroid)!;
            var items = counted.Where(i => Segment(i.UserId) == centroid).ToList();
            var customers = items.Select(i => i.UserId).Distinct().ToList();
            Assert.Equal(customers.Count, profile.Customers);
            Assert.Equal(items.Select(i => i.OrderId).Distinct().Count(), profile.Orders);
            Assert.Equal(R(items.Sum(i => i.SalePrice), 2), profile.Revenue);
            Assert.Equal(R(items.Sum(i => i.SalePrice) / totalRevenue, 4), profile.RevenueShare);
            Assert.Equal(R(items.Sum(i => i.SalePrice) / items.Select(i => i.OrderId).Distinct().Count(), 2), profile.AverageOrderValue);

            var predictions = Predictions.Where(p => p.CentroidId == centroid).ToList();
            Assert.Equal(R(Quantile(predictions.Select(p => (double)p.Days), 0.25), 2), profile.Rfm.DaysSinceLastOrder.Q1);
            Assert.Equal(R(Quantile(predictions.Select(p => p.Spend), 0.5), 2), profile.Rfm.AverageSpend.Median);
            Assert.Equal(R(Quantile(predictions.Select(p => (double)p.Orders), 0.75), 2), profile.Rfm.CountOrders.Q3);

            // Gender among the segment's customers found in users, and its index against all customers found in users.
            var known = Users.Where(u => customers.Contains(u.Id)).ToList();
            var allKnown = Users.Where(u => Predictions.Any(p => p.UserId == u.Id)).ToList();
            foreach (var gender in known.Select(u => u.Gender).Distinct())
            {
                var share = (double)known.Count(u => u.Gender == gender) / known.Count;
                var populationShare = (double)allKnown.Count(u => u.Gender == gender) / allKnown.Count;
                var cell = profile.Gender!.Cells.Single(c => c.Value == gender);
                Assert.Equal(known.Count(u => u.Gender == gender), cell.Customers);
                Assert.Equal(R(share, 4), cell.Share);
                Assert.Equal(R(share / populationShare, 3), cell.Index);
            }
            var band = profile.AgeBands!.Cells.Single(c => c.Value == "25–34");
            Assert.Equal(known.Count(u => u.Age is >= 25 and <= 34), band.Customers);
            Assert.Equal(known.Count(u => u.Country is null), profile.Countries!.Cells.SingleOrDefault(c => c.Value == ProfileSql.Unknown)?.Customers ?? 0);

            // Categories by revenue of the items found in products.
            var joined = items.Where(i => Products.Any(p => p.Id == i.ProductId)).ToList();
            var allJoined = counted.Where(i => Products.Any(p => p.Id == i.ProductId)).ToList();
            string Category(Item i) => Products.Single(p => p.Id == i.ProductId).Category;
            foreach (var group in joined.GroupBy(Category))
            {
                var cell = profile.Categories!.Cells.Single(c => c.Value == group.Key);
                var share = group.Sum(i => i.SalePrice) / joined.Sum(i => i.SalePrice);
                var populationShare = allJoined.Where(i => Category(i) == group.Key).Sum(i => i.SalePrice) / allJoined.Sum(i => i.SalePrice);
                Assert.Equal(R(group.Sum(i => i.SalePrice), 2), cell.Revenue);
                Assert.Equal(group.Select(i => i.UserId).Distinct().Count(), cell.Customers);
                Assert.Equal(R(share, 4), cell.Share);
                Assert.Equal(R(share / populationShare, 3), cell.Index);
            }
            Assert.Equal(Products.Select(p => p.Category).Distinct().Count(c => joined.Any(i => Category(i) == c)), profile.Categories!.Values);

            var margin = joined.Sum(i => i.SalePrice - Products.Single(p => p.Id == i.ProductId).Cost);
            Assert.Equal(R(margin / customers.Count, 2), profile.Margin!.MarginPerCustomer);
            Assert.Equal(R(margin, 2), profile.Margin.Margin);
        }

        Assert.Equal(counted.Select(i => i.UserId).Distinct().Count(), document.Population.Customers);
        Assert.Equal(R(totalRevenue, 2), document.Population.Revenue);
        Assert.Equal(R(Quantile(Predictions.Select(p => p.Spend), 0.25), 2), document.Population.Rfm.AverageSpend.Q1);
    }

    [Fact]
    public void A_cell_of_fewer_customers_than_the_minimum_is_suppressed_and_cannot_be_worked_out()
    {
        var document = Profile(StatsPreset.Rfm, new ProfileOptions { MinimumCellCustomers = 10, TopValues = 100 });

        foreach (var profile in document.Segments.Append(document.Population))
            foreach (var breakdown in new[] { profile.Gender, profile.AgeBands, profile.Countries, profile.TrafficSources, profile.Categories, profile.Brands })
            {
                Assert.All(breakdown!.Cells.Where(c => !c.Suppressed), c => Assert.True(c.Customers >= 10, $"{c.Value} shows {c.Customers} customers"));
                Assert.All(breakdown.Cells.Where(c => c.Suppressed), c => Assert.True(c.Customers is null && c.Share is null && c.Index is null && c.Revenue is null));
                Assert.Equal(breakdown.Cells.Count(c => c.Suppressed), breakdown.SuppressedCells);
                // One hidden cell beside published ones would be the total minus the others: never exactly one.
                Assert.NotEqual(1, breakdown.SuppressedCells);
            }
        // The one customer without a country, and the few Email arrivals, are hidden.
        Assert.True(document.Population.Countries!.Cells.Single(c => c.Value == ProfileSql.Unknown).Suppressed);
        Assert.True(document.For(2)!.TrafficSources!.Cells.Single(c => c.Value == "Email").Suppressed);
        Assert.Equal(10, document.MinimumCellCustomers);
    }

    [Fact]
    public void Without_users_and_products_the_profile_says_what_it_lacks()
    {
        var document = Profile(StatsPreset.Rfm, new ProfileOptions(), users: false, products: false);

        Assert.Null(document.Coverage.Users);
        Assert.Null(document.Coverage.Products);
        Assert.Equal(2, document.Lacking.Count);
        Assert.Contains("no users table", document.Lacking[0], StringComparison.Ordinal);
        Assert.Contains("no products table", document.Lacking[1], StringComparison.Ordinal);
        Assert.All(document.Segments, p => Assert.True(p.Gender is null && p.Countries is null && p.Categories is null && p.Margin is null));
        Assert.Equal(40, document.Population.Customers);
        Assert.True(document.Population.Revenue > 0);
    }

    [Fact]
    public void A_users_file_with_a_bad_value_or_a_missing_column_is_rejected_with_the_column_and_an_example()
    {
        using var directory = new TempDirectory();
        using var connection = DuckDb.Open(new EmbeddedOptions());
        var badAge = directory.Write("users.csv", "id,gender,age,country,traffic_source\n1,F,31,China,Search\n2,M,thirty,Spain,Email\n");
        var error = Assert.Throws<PermanentPipelineException>(() => ProfileTableSource.AttachUsers(connection, new EmbeddedOptions { Users = badAge }));
        Assert.Contains("age is not a whole number, e.g. 'thirty'", error.Message, StringComparison.Ordinal);

        var noCountry = directory.Write("users2.csv", "id,gender,age,traffic_source\n1,F,31,Search\n");
        error = Assert.Throws<PermanentPipelineException>(() => ProfileTableSource.AttachUsers(connection, new EmbeddedOptions { Users = noCountry }));
        Assert.Contains("lacks the required column country", error.Message, StringComparison.Ordinal);

        var repeated = directory.Write("products.csv", "id,department,category,brand,cost\n5,Men,Socks,Hanes,1.5\n5,Men,Socks,Hanes,1.5\n");
        error = Assert.Throws<PermanentPipelineException>(() => ProfileTableSource.AttachProducts(connection, new EmbeddedOptions { Products = repeated }));
        Assert.Contains("e.g. id 5", error.Message, StringComparison.Ordinal);
    }
}
