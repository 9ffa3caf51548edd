using System.Globalization;
using System.Text.Json.Nodes;
using Pipeline.Core;
using Pipeline.Embedded;
using Pipeline.Runner;
using Pipeline.Tests.Pipeline;

namespace Pipeline.Tests.Profiles;

/// <summary>
/// profiles.json, now added up from customer_stats (and read from the order items in one scan only for the
/// catalogue), is byte for byte the document the item-level computation gives: the whole chain runs on planted
/// items, and the expected document is assembled from numbers computed in C# straight from those items, as the
/// profile queries used to compute them. Prices and costs are multiples of 1/8, so every sum is exact in any order
/// and the two documents can be compared byte for byte.
/// </summary>
public sealed class ProfilesFromStatisticsTests : IDisposable
{
    private static readonly DateOnly WindowStart = new(2025, 1, 1);
    private static readonly DateOnly WindowEnd = new(2026, 1, 1);
    private readonly TempDirectory _directory = new();

    private sealed record Item(long OrderId, long UserId, long ProductId, string Status, DateTime CreatedAt, double SalePrice);
    private sealed record User(long Id, string Gender, int Age, string? Country, string TrafficSource);
    private sealed record Product(long Id, string Department, string Category, string? Brand, double Cost);
    private sealed record Customer(long UserId, int CentroidId, double[] Features);

    public void Dispose() => _directory.Dispose();

    [Theory]
    [InlineData(StatsPreset.Rfm, true)]
    [InlineData(StatsPreset.Rfm, false)]
    [InlineData(StatsPreset.Lab, true)]
    [InlineData(StatsPreset.Lab, false)]
    public async Task Profiles_are_byte_identical_to_the_item_level_computation(StatsPreset preset, bool usersAndProducts)
    {
        var (input, usersFile, productsFile) = Plant();
        var bucket = _directory.File("bucket");
        await using (var pipeline = LocalPipeline.Create(bucket, input, settings: usersAndProducts
            ? new Dictionary<string, string?>
            {
                [$"{EmbeddedOptions.SectionName}:{nameof(EmbeddedOptions.Users)}"] = usersFile,
                [$"{EmbeddedOptions.SectionName}:{nameof(EmbeddedOptions.Products)}"] = productsFile,
            }
            : null))
        {
            var manifest = await pipeline.RunAsync(new JsonObject
            {
                ["run_id"] = "planted",
                ["window_start"] = WindowStart.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
                ["window_end"] = WindowEnd.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
                ["k"] = 3,
                ["metrics"] = preset.ToString().ToLowerInvariant(),
            }, CancellationToken.None);
            Assert.NotEqual(RunStatus.Failed, manifest.Status);
        }

        var model = PipelineJson.Deserialize<SegmentModel>(await File.ReadAllBytesAsync(Path.Combine(bucket, BucketLayout.Model("planted"))));
        var facts = ItemLevelFacts(preset, input, usersAndProducts ? usersFile : null, usersAndProducts ? productsFile : null,
            Path.Combine(bucket, BucketLayout.Predictions("planted"), "*.parquet"));
        var document = ProfileAssembler.Build("planted", model, facts, new ProfileOptions());
        var expected = PipelineJson.Serialize(document, indented: true);
        // The planted rows exercise every path: unjoined users and products, empty values, several segments.
        Assert.Equal(3, document.Segments.Count(s => s.Customers > 0));
        if (usersAndProducts)
            Assert.True(document.Coverage.ItemsWithoutUser > 0 && document.Coverage.ItemsWithoutProduct > 0
                && document.Population.Brands!.Cells.Any(c => c.Value == ProfileSql.Unknown) && document.Population.Countries!.Cells.Count > 2);

        var written = await File.ReadAllBytesAsync(Path.Combine(bucket, BucketLayout.Profiles("planted")));
        Assert.Equal(System.Text.Encoding.UTF8.GetString(expected), System.Text.Encoding.UTF8.GetString(written));
        Assert.Equal(expected, written);
    }

    /// <summary>
    /// About 12,000 order items of 1,500 users over two years (orders of three items, one user each); users 1,401 to
    /// 1,500 are not in users, products 121 to 130 not in products; some countries and brands are empty.
    /// </summary>
    private (string Items, string Users, string Products) Plant()
    {
        var (items, users, products) = (_directory.File("order_items.parquet"), _directory.File("users.parquet"), _directory.File("products.parquet"));
        using var connection = DuckDb.Open(new EmbeddedOptions());
        DuckDb.Execute(connection, $"""
            COPY (
              SELECT
                i // 3 AS order_id,
                (i // 3) * 7477 % 1500 + 1 AS user_id,
                i * 7919 % 130 + 1 AS product_id,
                CASE i % 10 WHEN 3 THEN 'Cancelled' WHEN 7 THEN 'Returned' WHEN 5 THEN 'Processing' ELSE 'Complete' END AS status,
                TIMESTAMP '2024-01-01 00:00:00' + to_seconds((i // 3) * 86413 % (730 * 86400)) AS created_at,
                CAST(i * 37 % 400 + 1 AS DOUBLE) / 4 AS sale_price
              FROM range(12000) AS t(i)) TO {DuckDb.Literal(items)} (FORMAT parquet);
            COPY (
              SELECT
                u AS id,
                CASE WHEN u % 3 = 0 THEN 'M' ELSE 'F' END AS gender,
                14 + u % 60 AS age,
                CASE WHEN u % 17 = 0 THEN NULL WHEN u % 4 = 0 THEN 'China' WHEN u % 4 = 1 THEN 'United States' ELSE 'Brasil' END AS country,
                CASE u % 5 WHEN 0 THEN 'Email' WHEN 1 THEN 'Facebook' ELSE 'Search' END AS traffic_source
              FROM range(1, 1401) AS t(u)) TO {DuckDb.Literal(users)} (FORMAT parquet);
            COPY (
              SELECT
                p AS id,
                CASE WHEN p % 2 = 0 THEN 'Women' ELSE 'Men' END AS department,
                'Category ' || (p % 9) AS category,
                CASE WHEN p % 11 = 0 THEN NULL ELSE 'Brand ' || (p % 23) END AS brand,
                CAST(p % 40 + 1 AS DOUBLE) / 8 AS cost
              FROM range(1, 121) AS t(p)) TO {DuckDb.Literal(products)} (FORMAT parquet);
            """);
        return (items, users, products);
    }

    /// <summary>The profile's numbers computed from the order items themselves, as the item-level queries did.</summary>
    private static ProfileFacts ItemLevelFacts(StatsPreset preset, string itemsFile, string? usersFile, string? productsFile, string predictions)
    {
        using var connection = DuckDb.Open(new EmbeddedOptions());
        var items = Read(connection, $"SELECT order_id, user_id, product_id, status, created_at, sale_price FROM read_parquet({DuckDb.Literal(itemsFile)})",
            r => new Item(r.GetInt64(0), r.GetInt64(1), r.GetInt64(2), r.GetString(3), r.GetDateTime(4), r.GetDouble(5)));
        var users = usersFile is null ? null : Read(connection, $"SELECT id, gender, age, country, traffic_source FROM read_parquet({DuckDb.Literal(usersFile)})",
            r => new User(r.GetInt64(0), r.GetString(1), (int)r.GetInt64(2), r.IsDBNull(3) ? null : r.GetString(3), r.GetString(4))).ToDictionary(u => u.Id);
        var products = productsFile is null ? null : Read(connection, $"SELECT id, department, category, brand, cost FROM read_parquet({DuckDb.Literal(productsFile)})",
            r => new Product(r.GetInt64(0), r.GetString(1), r.GetString(2), r.IsDBNull(3) ? null : r.GetString(3), r.GetDouble(4))).ToDictionary(p => p.Id);
        var customers = Read(connection, $"SELECT user_id, centroid_id, {string.Join(", ", Features.All)} FROM read_parquet({DuckDb.Literal(predictions)})",
            r => new Customer(r.GetInt64(0), (int)r.GetInt64(1), [Convert.ToDouble(r.GetValue(2), CultureInfo.InvariantCulture),
                Convert.ToDouble(r.GetValue(3), CultureInfo.InvariantCulture), r.GetDouble(4)]));
        var segmentOf = customers.ToDictionary(c => c.UserId, c => c.CentroidId);

        var (start, end) = (WindowStart.ToDateTime(TimeOnly.MinValue), WindowEnd.ToDateTime(TimeOnly.MinValue));
        var counted = items.Where(i => i.CreatedAt >= start && i.CreatedAt < end
            && (preset == StatsPreset.Lab || i.Status is not ("Cancelled" or "Returned"))).ToList();
        Assert.All(counted, i => Assert.True(segmentOf.ContainsKey(i.UserId)));
        bool Found(Item i) => products!.ContainsKey(i.ProductId);

        var segments = counted.GroupBy(i => segmentOf[i.UserId]).Select(g => new SegmentFacts(g.Key,
            g.Select(i => i.UserId).Distinct().Count(), g.Select(i => i.OrderId).Distinct().Count(), g.Count(), g.Sum(i => i.SalePrice),
            users is null ? 0 : g.Count(i => !users.ContainsKey(i.UserId)),
            users is null ? 0 : g.Where(i => !users.ContainsKey(i.UserId)).Select(i => i.UserId).Distinct().Count(),
            products is null ? 0 : g.Count(i => !Found(i)),
            products is null ? 0 : g.Where(Found).Sum(i => i.SalePrice),
            products is null ? 0 : g.Where(Found).Sum(i => products[i.ProductId].Cost))).ToList();

        var quartiles = customers.GroupBy(c => c.CentroidId).Append(customers.GroupBy(_ => 0).Single())
            .ToDictionary(g => g.Key, g => new RfmQuartiles(Quartiles(g, 0), Quartiles(g, 1), Quartiles(g, 2)));

        var people = users is null ? null : customers.Where(c => users.ContainsKey(c.UserId))
            .SelectMany(c =>
            {
                var u = users[c.UserId];
                return new[] { ("gender", u.Gender), ("age_band", AgeBands.Of(u.Age)), ("country", u.Country ?? ProfileSql.Unknown), ("traffic_source", u.TrafficSource) }
                    .Select(d => (c.CentroidId, d.Item1, d.Item2));
            })
            .GroupBy(x => x).Select(g => new CellFacts(g.Key.CentroidId, g.Key.Item2, g.Key.Item3, g.Count(), 0)).ToList();

        var catalogue = products is null ? null : counted.Where(Found)
            .SelectMany(i =>
            {
                var p = products[i.ProductId];
                return new[] { ("department", p.Department), ("category", p.Category), ("brand", p.Brand ?? ProfileSql.Unknown) }
                    .Select(d => (Key: (Segment: segmentOf[i.UserId], Dimension: d.Item1, Value: d.Item2), Item: i));
            })
            .GroupBy(x => x.Key, x => x.Item)
            .Select(g => new CellFacts(g.Key.Segment, g.Key.Dimension, g.Key.Value, g.Select(i => i.UserId).Distinct().Count(), g.Sum(i => i.SalePrice)))
            .ToList();

        return new ProfileFacts(segments, quartiles, people, catalogue,
            usersFile is null ? null : $"users file {usersFile}", productsFile is null ? null : $"products file {productsFile}",
            DuckDbSegmentProfiler.HowToAdd);
    }

    private static Quartiles Quartiles(IEnumerable<Customer> customers, int feature)
    {
        var sorted = customers.Select(c => c.Features[feature]).Order().ToList();
        return new(Quantile(sorted, 0.25), Quantile(sorted, 0.5), Quantile(sorted, 0.75));
    }

    /// <summary>PERCENTILE_CONT: linear interpolation between the closest ranks.</summary>
    private static double Quantile(List<double> sorted, double p)
    {
        var rank = p * (sorted.Count - 1);
        var low = (int)Math.Floor(rank);
        return low + 1 < sorted.Count ? sorted[low] + (rank - low) * (sorted[low + 1] - sorted[low]) : sorted[low];
    }

    private static List<T> Read<T>(DuckDB.NET.Data.DuckDBConnection connection, string sql, Func<System.Data.Common.DbDataReader, T> read)
    {
        var rows = new List<T>();
        using var command = DuckDb.Command(connection, sql);
        using var reader = command.ExecuteReader();
        while (reader.Read()) rows.Add(read(reader));
        return rows;
    }
}
