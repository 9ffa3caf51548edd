using Pipeline.Embedded.SampleData;

namespace Pipeline.Tests.SampleData;

/// <summary>100,000 users written once as CSV and read back, shared by the distribution tests.</summary>
public sealed class HundredThousandUsers : IAsyncLifetime, IDisposable
{
    public const long Users = 100_000;

    private readonly ScratchDirectory scratch = new();

    public SampleSummary Summary { get; private set; } = null!;

    internal IReadOnlyList<CsvRow> Rows { get; private set; } = [];

    internal IReadOnlyList<IGrouping<long, CsvRow>> Orders { get; private set; } = [];

    public async Task InitializeAsync()
    {
        Summary = await SampleFiles.WriteUsersAsync(scratch.File("order_items.csv"), Users);
        Rows = [.. SampleFiles.ReadCsv(Summary.Path)];
        Orders = [.. Rows.GroupBy(r => r.OrderId)];
    }

    public Task DisposeAsync() => Task.CompletedTask;

    public void Dispose() => scratch.Dispose();
}

/// <summary>
/// The sample is drawn the way thelook's generator draws it. Tolerances are several standard errors wide at this
/// size (about 125,000 orders and 180,000 items), so a correct generator passes for any seed.
/// </summary>
public sealed class SampleDistributionTests(HundredThousandUsers sample) : IClassFixture<HundredThousandUsers>
{
    [Fact]
    public void Summary_counts_what_the_file_holds()
    {
        Assert.Equal(HundredThousandUsers.Users, sample.Summary.Users);
        Assert.Equal(sample.Rows.Count, sample.Summary.Items);
        Assert.Equal(sample.Orders.Count, sample.Summary.Orders);
        Assert.Equal(DateOnly.FromDateTime(sample.Rows.Min(r => r.CreatedAt)), sample.Summary.FirstDate);
        Assert.Equal(DateOnly.FromDateTime(sample.Rows.Max(r => r.CreatedAt)), sample.Summary.LastDate);
        Assert.Equal(SampleFormat.Csv, sample.Summary.Format);
    }

    [Fact]
    public void Ids_are_sequential_and_users_within_range()
    {
        Assert.Equal(Enumerable.Range(1, sample.Rows.Count).Select(i => (long)i), sample.Rows.Select(r => r.Id));
        Assert.Equal(Enumerable.Range(1, sample.Orders.Count).Select(i => (long)i), sample.Orders.Select(o => o.Key));
        Assert.All(sample.Rows, r => Assert.InRange(r.UserId, 1, HundredThousandUsers.Users));
        Assert.All(sample.Rows, r => Assert.InRange(r.ProductId, 1, OrderItemsGenerator.Products));
        Assert.Equal(sample.Rows.Count, sample.Rows.Select(r => r.InventoryItemId).Distinct().Count());
    }

    [Fact]
    public void Orders_per_user_follow_weights_0_2_0_5_0_2_0_05_0_05()
    {
        var ordersByUser = sample.Orders.GroupBy(o => o.First().UserId).ToDictionary(g => g.Key, g => g.Count());
        var users = (double)HundredThousandUsers.Users;
        double[] expected = [0.2, 0.5, 0.2, 0.05, 0.05];
        for (var k = 0; k < expected.Length; k++)
        {
            var share = k == 0
                ? (users - ordersByUser.Count) / users
                : ordersByUser.Values.Count(n => n == k) / users;
            Assert.InRange(share, expected[k] - 0.01, expected[k] + 0.01);
        }
    }

    [Fact]
    public void Items_per_order_follow_weights_0_7_0_2_0_05_0_05_and_about_1_8_items_per_user()
    {
        double orders = sample.Orders.Count;
        double[] expected = [0.7, 0.2, 0.05, 0.05];
        for (var k = 1; k <= expected.Length; k++)
        {
            var share = sample.Orders.Count(o => o.Count() == k) / orders;
            Assert.InRange(share, expected[k - 1] - 0.01, expected[k - 1] + 0.01);
        }

        // E[orders] x E[items per order] = 1.25 x 1.45 = 1.8125 items per simulated user.
        var itemsPerUser = sample.Rows.Count / (double)HundredThousandUsers.Users;
        Assert.InRange(itemsPerUser, 1.78, 1.85);
    }

    [Fact]
    public void Statuses_are_per_order_with_thelook_shares()
    {
        Assert.All(sample.Orders, o =>
        {
            Assert.Single(o.Select(r => r.Status).Distinct());
            Assert.Single(o.Select(r => r.UserId).Distinct());
            Assert.Single(o.Select(r => (r.CreatedAt, r.ShippedAt, r.DeliveredAt, r.ReturnedAt)).Distinct());
        });

        var expected = new Dictionary<string, double>
        {
            ["Complete"] = 0.25, ["Shipped"] = 0.30, ["Processing"] = 0.20, ["Cancelled"] = 0.15, ["Returned"] = 0.10,
        };
        var shares = sample.Orders.GroupBy(o => o.First().Status).ToDictionary(g => g.Key, g => g.Count() / (double)sample.Orders.Count);
        Assert.Equal(expected.Keys.Order(), shares.Keys.Order());
        foreach (var (status, share) in expected)
            Assert.InRange(shares[status], share - 0.01, share + 0.01);
    }

    [Fact]
    public void Sale_prices_are_right_skewed_with_mean_near_59_and_median_near_40()
    {
        var prices = sample.Rows.Select(r => r.SalePrice).Order().ToArray();
        var mean = prices.Average();
        var median = prices[prices.Length / 2];
        Assert.InRange(mean, 56, 62);
        Assert.InRange(median, 38, 42);
        Assert.All(prices, p => Assert.True(p > 0 && Math.Round(p, 2) == p, $"price {p} is not positive cents"));

        // One price per product, as a catalogue has.
        Assert.All(sample.Rows.GroupBy(r => r.ProductId), g => Assert.Single(g.Select(r => r.SalePrice).Distinct()));
    }

    [Fact]
    public void Order_dates_fill_the_four_years_before_the_end_date_rising_towards_it()
    {
        var start = new DateTime(2021, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        var end = new DateTime(2025, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        var created = sample.Orders.Select(o => o.First().CreatedAt).ToArray();
        Assert.All(created, c => Assert.InRange(c, start, end.AddSeconds(-1)));

        var perYear = Enumerable.Range(2021, 4).Select(y => created.Count(c => c.Year == y)).ToArray();
        for (var y = 1; y < perYear.Length; y++)
            Assert.True(perYear[y] > perYear[y - 1], $"orders per year should rise: {string.Join(", ", perYear)}");
        // Density e^(t ln 3) over the window: the last year has 3^0.75 = 2.28 times the first year's orders.
        Assert.InRange(perYear[3] / (double)perYear[0], 2.0, 2.6);
    }

    [Fact]
    public void Timestamps_are_reached_as_far_as_the_status_says_in_order_and_before_the_end_date()
    {
        var end = new DateTime(2025, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        Assert.All(sample.Rows, r =>
        {
            var (shipped, delivered, returned) = r.Status switch
            {
                "Processing" or "Cancelled" => (false, false, false),
                "Shipped" => (true, false, false),
                "Complete" => (true, true, false),
                "Returned" => (true, true, true),
                _ => throw new InvalidDataException(r.Status),
            };
            Assert.Equal(shipped, r.ShippedAt.HasValue);
            Assert.Equal(delivered, r.DeliveredAt.HasValue);
            Assert.Equal(returned, r.ReturnedAt.HasValue);

            DateTime?[] steps = [r.CreatedAt, r.ShippedAt, r.DeliveredAt, r.ReturnedAt];
            var reached = steps.OfType<DateTime>().ToArray();
            Assert.Equal(reached.Order(), reached);
            Assert.True(reached[^1] < end);
        });

        // Shipping takes up to 3 days, delivery up to 5 more.
        var shippedAfter = sample.Rows.Where(r => r.ShippedAt.HasValue).Select(r => (r.ShippedAt!.Value - r.CreatedAt).TotalDays).ToArray();
        Assert.InRange(shippedAfter.Max(), 2.9, 3.0);
        Assert.InRange(shippedAfter.Average(), 1.4, 1.6);
    }
}
