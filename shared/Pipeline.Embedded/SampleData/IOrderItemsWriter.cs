namespace Pipeline.Embedded.SampleData;

/// <summary>Writes batches of order_items rows to one output file in one format.</summary>
internal interface IOrderItemsWriter : IAsyncDisposable
{
    Task WriteAsync(OrderItemBatch batch, CancellationToken cancellationToken);

    /// <summary>Writes whatever the format keeps until the end (buffered rows, a footer).</summary>
    Task CompleteAsync(CancellationToken cancellationToken);
}
