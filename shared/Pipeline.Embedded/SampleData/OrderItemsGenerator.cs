namespace Pipeline.Embedded.SampleData;

/// <summary>
/// Draws thelook_ecommerce-shaped order items user by user, the way Google's public thelook generator draws them:
/// 0–4 orders per user, 1–4 items per order of products in the user's gender's department, one status per order, shipping steps a few days apart. Each user's draws
/// come from a stream keyed by (seed, user id), so a user's orders do not depend on how rows are batched.
/// </summary>
internal sealed class OrderItemsGenerator
{
    /// <summary>Rows in thelook_ecommerce.products; a user's product ids are drawn uniformly from their department's half.</summary>
    public const int Products = 29_120;

    /// <summary>At most 4 orders of at most 4 items: a batch with this much room always fits the next user.</summary>
    public const int MaxItemsPerUser = 16;

    // Cumulative weights. Orders per user 0..4: 0.2/0.5/0.2/0.05/0.05; items per order 1..4: 0.7/0.2/0.05/0.05;
    // statuses in OrderStatus order: Complete 0.25, Shipped 0.30, Processing 0.20, Cancelled 0.15, Returned 0.10.
    private static readonly double[] OrdersPerUser = [0.2, 0.7, 0.9, 0.95, 1.0];
    private static readonly double[] ItemsPerOrder = [0.7, 0.9, 0.95, 1.0];
    private static readonly double[] Statuses = [0.25, 0.55, 0.75, 0.90, 1.0];

    // Sale prices: lognormal with median 40 and mean 59, so sigma^2 / 2 = ln(59 / 40); capped at the catalogue's 999.
    private static readonly double PriceMu = Math.Log(40);
    private static readonly double PriceSigma = Math.Sqrt(2 * Math.Log(59.0 / 40.0));
    private const int MaxPriceCents = 999_00;

    // Order dates: density proportional to exp(Growth * t) over the window, t in [0, 1): three times as many orders
    // per day at the end as at the start, as a growing shop has.
    private static readonly double Growth = Math.Log(3);
    private static readonly double GrowthSpan = Math.Exp(Growth) - 1;

    private const long Day = 86_400;
    private const long MaxShippingDelay = 3 * Day;
    private const long MaxDeliveryDelay = 5 * Day;
    private const long MaxReturnDelay = 3 * Day;

    private const ulong UserStream = 0x5553_4552; // "USER"
    private const ulong ProductStream = 0x5052_4F44; // "PROD"

    private readonly long? targetUsers;
    private readonly long? targetItems;
    private readonly int seed;
    private readonly long windowStart;
    private readonly long windowSeconds;
    private readonly int[] priceCents;
    private long inventoryItemId;

    public OrderItemsGenerator(SampleOptions options)
    {
        targetUsers = options.Users;
        targetItems = options.Items;
        seed = options.Seed;
        var end = new DateTimeOffset(options.EndDate.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);
        windowStart = end.AddYears(-options.Years).ToUnixTimeSeconds();
        windowSeconds = end.ToUnixTimeSeconds() - windowStart;
        priceCents = DrawCatalogue(seed);
    }

    public long Users { get; private set; }

    public long Orders { get; private set; }

    public long Items { get; private set; }

    /// <summary>Earliest and latest created_at drawn (Unix seconds); meaningful once <see cref="Items"/> &gt; 0.</summary>
    public long FirstCreatedAt { get; private set; } = long.MaxValue;

    public long LastCreatedAt { get; private set; } = long.MinValue;

    public bool Done => targetUsers is { } users ? Users >= users : Items >= targetItems!.Value;

    /// <summary>Refills <paramref name="batch"/> with the next users' rows, whole users only.</summary>
    public void Fill(OrderItemBatch batch, CancellationToken cancellationToken)
    {
        batch.Count = 0;
        while (!Done && batch.Count <= batch.Capacity - MaxItemsPerUser)
        {
            if ((Users & 0xFFFF) == 0) cancellationToken.ThrowIfCancellationRequested();
            AddUser(batch, ++Users);
        }
    }

    private void AddUser(OrderItemBatch batch, long userId)
    {
        var rng = SplitMix64.For(seed, userId, UserStream);
        var orders = rng.NextIndex(OrdersPerUser);
        if (orders == 0) return;
        var female = ThelookPeopleAndCatalogue.IsFemale(seed, userId);

        // A user's orders get ascending ids in date order, as a real shop assigns them.
        Span<long> created = stackalloc long[4];
        for (var i = 0; i < orders; i++) created[i] = windowStart + OrderOffset(ref rng);
        created[..orders].Sort();

        for (var o = 0; o < orders; o++)
        {
            var orderId = ++Orders;
            var createdAt = created[o];
            var status = (OrderStatus)rng.NextIndex(Statuses);
            var items = 1 + rng.NextIndex(ItemsPerOrder);
            var (shippedAt, deliveredAt, returnedAt) = ShippingSteps(ref rng, status, createdAt);
            FirstCreatedAt = Math.Min(FirstCreatedAt, createdAt);
            LastCreatedAt = Math.Max(LastCreatedAt, createdAt);

            for (var i = 0; i < items; i++)
            {
                var productId = ThelookPeopleAndCatalogue.ProductFor(female, ref rng);
                inventoryItemId += 1 + rng.NextInt(4); // the stock also holds items nobody bought
                var row = batch.Count++;
                batch.Id[row] = ++Items;
                batch.OrderId[row] = orderId;
                batch.UserId[row] = userId;
                batch.ProductId[row] = productId;
                batch.InventoryItemId[row] = inventoryItemId;
                batch.Status[row] = status;
                batch.CreatedAt[row] = createdAt;
                batch.ShippedAt[row] = shippedAt;
                batch.DeliveredAt[row] = deliveredAt;
                batch.ReturnedAt[row] = returnedAt;
                batch.SalePriceCents[row] = priceCents[productId - 1];
            }
        }
    }

    /// <summary>Seconds into the window, by inverting the exponential-growth CDF.</summary>
    private long OrderOffset(ref SplitMix64 rng)
    {
        var t = Math.Log(1 + rng.NextDouble() * GrowthSpan) / Growth;
        return Math.Min((long)(t * windowSeconds), windowSeconds - 1);
    }

    /// <summary>
    /// The steps an order with this status has reached, each a uniform delay after the one before. EndDate is "now":
    /// when the steps would run past it, the delays shrink in proportion so the last step falls just before it.
    /// </summary>
    private (long Shipped, long Delivered, long Returned) ShippingSteps(ref SplitMix64 rng, OrderStatus status, long createdAt)
    {
        var steps = status switch
        {
            OrderStatus.Shipped => 1,
            OrderStatus.Complete => 2,
            OrderStatus.Returned => 3,
            _ => 0,
        };
        if (steps == 0) return (OrderItemBatch.NoTimestamp, OrderItemBatch.NoTimestamp, OrderItemBatch.NoTimestamp);

        var ship = rng.NextLong(MaxShippingDelay);
        var deliver = steps >= 2 ? rng.NextLong(MaxDeliveryDelay) : 0;
        var @return = steps >= 3 ? rng.NextLong(MaxReturnDelay) : 0;
        var total = ship + deliver + @return;
        var room = windowStart + windowSeconds - 1 - createdAt;
        if (total > room)
        {
            ship = ship * room / total;
            deliver = deliver * room / total;
            @return = @return * room / total;
        }

        var shipped = createdAt + ship;
        var delivered = steps >= 2 ? shipped + deliver : OrderItemBatch.NoTimestamp;
        var returned = steps >= 3 ? delivered + @return : OrderItemBatch.NoTimestamp;
        return (shipped, delivered, returned);
    }

    /// <summary>One retail price per product, so every sale of a product has the same price, as in thelook.</summary>
    internal static int[] DrawCatalogue(int seed)
    {
        var cents = new int[Products];
        for (var p = 0; p < Products; p++)
        {
            var rng = SplitMix64.For(seed, p + 1, ProductStream);
            var price = Math.Exp(PriceMu + PriceSigma * rng.NextGaussian());
            cents[p] = (int)Math.Clamp(Math.Round(price * 100), 1, MaxPriceCents);
        }
        return cents;
    }
}
