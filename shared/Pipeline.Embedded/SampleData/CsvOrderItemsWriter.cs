using System.Globalization;

namespace Pipeline.Embedded.SampleData;

/// <summary>
/// order_items as BigQuery exports a table to CSV: a header line, <c>\n</c> line ends, timestamps as
/// <c>2022-03-04 05:06:07 UTC</c>, an empty field for NULL, numbers in the invariant culture. Rows are formatted
/// straight to UTF-8 into one reused buffer, which is written out whenever it fills.
/// </summary>
internal sealed class CsvOrderItemsWriter(Stream output) : IOrderItemsWriter
{
    public const string Header =
        "id,order_id,user_id,product_id,inventory_item_id,status,created_at,shipped_at,delivered_at,returned_at,sale_price";

    // Longest row: 5 ids of at most 20 digits, "Processing", 4 timestamps of 23 bytes, a price, 10 commas, "\n".
    private const int MaxRowBytes = 5 * 20 + 10 + 4 * 23 + 10 + 11;

    private static readonly byte[][] StatusNames =
        [.. Enum.GetNames<OrderStatus>().Select(System.Text.Encoding.UTF8.GetBytes)];

    private readonly byte[] buffer = new byte[1 << 20];
    private int used;
    private bool headerWritten;

    public async Task WriteAsync(OrderItemBatch batch, CancellationToken cancellationToken)
    {
        if (!headerWritten)
        {
            used += System.Text.Encoding.UTF8.GetBytes(Header + "\n", buffer);
            headerWritten = true;
        }

        for (var row = 0; row < batch.Count;)
        {
            row = FormatRows(batch, row);
            await FlushAsync(cancellationToken);
        }
    }

    public async Task CompleteAsync(CancellationToken cancellationToken)
    {
        if (!headerWritten) await WriteAsync(new OrderItemBatch(0), cancellationToken);
        await FlushAsync(cancellationToken);
        await output.FlushAsync(cancellationToken);
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    /// <summary>Formats rows from <paramref name="row"/> on while the buffer has room; returns the next row.</summary>
    private int FormatRows(OrderItemBatch batch, int row)
    {
        long[][] ids = [batch.Id, batch.OrderId, batch.UserId, batch.ProductId, batch.InventoryItemId];
        long[][] timestamps = [batch.CreatedAt, batch.ShippedAt, batch.DeliveredAt, batch.ReturnedAt];
        for (; row < batch.Count && buffer.Length - used >= MaxRowBytes; row++)
        {
            var line = buffer.AsSpan(used);
            var n = 0;
            foreach (var column in ids)
            {
                n += Integer(column[row], line[n..]);
                line[n++] = (byte)',';
            }
            var status = StatusNames[(int)batch.Status[row]];
            status.CopyTo(line[n..]);
            n += status.Length;
            line[n++] = (byte)',';
            foreach (var column in timestamps)
            {
                n += Timestamp(column[row], line[n..]);
                line[n++] = (byte)',';
            }
            n += Price(batch.SalePriceCents[row], line[n..]);
            line[n++] = (byte)'\n';
            used += n;
        }
        return row;
    }

    private async Task FlushAsync(CancellationToken cancellationToken)
    {
        if (used == 0) return;
        await output.WriteAsync(buffer.AsMemory(0, used), cancellationToken);
        used = 0;
    }

    private static int Integer(long value, Span<byte> destination)
    {
        value.TryFormat(destination, out var written, default, CultureInfo.InvariantCulture);
        return written;
    }

    /// <summary><c>yyyy-MM-dd HH:mm:ss UTC</c>, or nothing for NULL.</summary>
    internal static int Timestamp(long unixSeconds, Span<byte> destination)
    {
        if (unixSeconds == OrderItemBatch.NoTimestamp) return 0;
        var time = DateTime.UnixEpoch.AddSeconds(unixSeconds);
        time.TryFormat(destination, out var written, "s", CultureInfo.InvariantCulture); // 2022-03-04T05:06:07
        destination[10] = (byte)' ';
        " UTC"u8.CopyTo(destination[written..]);
        return written + 4;
    }

    /// <summary>The shortest text that parses back to the price's double (cents / 100.0): 40, 40.5, 40.05.</summary>
    internal static int Price(int cents, Span<byte> destination)
    {
        var n = Integer(cents / 100, destination);
        var fraction = cents % 100;
        if (fraction == 0) return n;
        destination[n++] = (byte)'.';
        destination[n++] = (byte)('0' + fraction / 10);
        if (fraction % 10 != 0) destination[n++] = (byte)('0' + fraction % 10);
        return n;
    }
}
