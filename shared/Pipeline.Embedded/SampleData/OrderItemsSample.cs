namespace Pipeline.Embedded.SampleData;

/// <summary>
/// Writes a thelook_ecommerce-shaped <c>order_items</c> file (CSV or Parquet) of any size, streaming: rows are
/// drawn about a million at a time and written as they are drawn, into a temporary file beside the target that is
/// renamed over it only when complete. The same options give the same bytes.
/// </summary>
public static class OrderItemsSample
{
    /// <summary>Rows per batch, and so per Parquet row group.</summary>
    internal const int RowsPerBatch = 1 << 20;

    /// <summary>The format for a file name: <c>.csv</c> or <c>.parquet</c>, in any letter case.</summary>
    public static SampleFormat FormatFor(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        return Path.GetExtension(path).ToUpperInvariant() switch
        {
            ".CSV" => SampleFormat.Csv,
            ".PARQUET" => SampleFormat.Parquet,
            var other => throw new ArgumentException(
                $"Cannot tell the sample's format from '{path}': the file name must end in .csv or .parquet" +
                (other.Length == 0 ? "." : $", not {other}."), nameof(path)),
        };
    }

    /// <summary>
    /// Generates the sample into <paramref name="path"/>, replacing any file there. Reports the number of items
    /// written after each batch (about every million items). On failure or cancellation no file is left behind.
    /// </summary>
    public static async Task<SampleSummary> WriteAsync(string path, SampleOptions options, IProgress<long>? itemsWritten, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(options);
        var format = FormatFor(path);
        Validate(options);

        var target = Path.GetFullPath(path);
        var directory = Path.GetDirectoryName(target)!;
        Directory.CreateDirectory(directory);
        var temporary = Path.Combine(directory, $".{Path.GetFileName(target)}.{Guid.NewGuid():N}.tmp");

        var generator = new OrderItemsGenerator(options);
        try
        {
            await using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 1 << 16, useAsync: true))
            {
                await using var writer = format == SampleFormat.Csv
                    ? new CsvOrderItemsWriter(stream)
                    : (IOrderItemsWriter)await ParquetOrderItemsWriter.CreateAsync(stream, ct);
                await WriteRowsAsync(generator, writer, itemsWritten, ct);
                await writer.CompleteAsync(ct);
            }
            File.Move(temporary, target, overwrite: true);
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }

        var noRows = generator.Items == 0;
        return new SampleSummary(target, format, generator.Users, generator.Orders, generator.Items,
            noRows ? options.EndDate : DateOf(generator.FirstCreatedAt),
            noRows ? options.EndDate : DateOf(generator.LastCreatedAt));
    }

    /// <summary>
    /// Draws one batch while the previous one is written on another thread (two batches, swapped), so drawing and
    /// formatting overlap on a machine with two cores.
    /// </summary>
    private static async Task WriteRowsAsync(OrderItemsGenerator generator, IOrderItemsWriter writer, IProgress<long>? itemsWritten, CancellationToken ct)
    {
        OrderItemBatch[] batches = [new(RowsPerBatch), new(RowsPerBatch)];
        var pending = Task.CompletedTask;
        long handedOver = 0, reported = 0; // items in the batches given to the writer; items reported written
        try
        {
            for (var next = 0; !generator.Done; next ^= 1)
            {
                var batch = batches[next];
                generator.Fill(batch, ct);
                await pending;
                ReportWritten();
                handedOver = generator.Items;
                pending = Task.Run(() => writer.WriteAsync(batch, ct), ct);
            }
            await pending;
            ReportWritten();
        }
        catch when (!pending.IsCompleted)
        {
            // The writer and its file must not be disposed under a write still running. That write's own outcome
            // is moot: the exception already on its way ends the sample.
            await pending.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            throw;
        }

        void ReportWritten()
        {
            if (handedOver == reported) return;
            reported = handedOver;
            itemsWritten?.Report(reported);
        }
    }

    private static void Validate(SampleOptions options)
    {
        if (options.Users.HasValue == options.Items.HasValue)
            throw new ArgumentException("Give exactly one of Users (how many users to simulate) and Items (how many items to reach).", nameof(options));
        if (options.Users is <= 0)
            throw new ArgumentException($"Users must be positive, not {options.Users}.", nameof(options));
        if (options.Items is <= 0)
            throw new ArgumentException($"Items must be positive, not {options.Items}.", nameof(options));
        if (options.Years is < 1 or > 100)
            throw new ArgumentException($"Years must be between 1 and 100, not {options.Years}.", nameof(options));
        if (options.EndDate.Year - options.Years < 1970)
            throw new ArgumentException($"The window of {options.Years} years before {options.EndDate:yyyy-MM-dd} must start in 1970 or later.", nameof(options));
    }

    private static DateOnly DateOf(long unixSeconds) => DateOnly.FromDateTime(DateTime.UnixEpoch.AddSeconds(unixSeconds));
}
