namespace Pipeline.Embedded.SampleData;

/// <summary>The five order statuses of thelook_ecommerce, spelled as its <c>status</c> column has them.</summary>
internal enum OrderStatus : byte
{
    Complete,
    Shipped,
    Processing,
    Cancelled,
    Returned,
}

/// <summary>
/// Up to <see cref="Capacity"/> order_items rows, column by column, reused from one row group to the next so that
/// memory stays flat however large the file. Timestamps are Unix seconds, <see cref="NoTimestamp"/> where the
/// order has not reached that step; prices are in cents.
/// </summary>
internal sealed class OrderItemBatch(int capacity)
{
    public const long NoTimestamp = long.MinValue;

    public int Capacity { get; } = capacity;

    public int Count { get; set; }

    public readonly long[] Id = new long[capacity];
    public readonly long[] OrderId = new long[capacity];
    public readonly long[] UserId = new long[capacity];
    public readonly long[] ProductId = new long[capacity];
    public readonly long[] InventoryItemId = new long[capacity];
    public readonly OrderStatus[] Status = new OrderStatus[capacity];
    public readonly long[] CreatedAt = new long[capacity];
    public readonly long[] ShippedAt = new long[capacity];
    public readonly long[] DeliveredAt = new long[capacity];
    public readonly long[] ReturnedAt = new long[capacity];
    public readonly int[] SalePriceCents = new int[capacity];
}
