using Parquet;
using Parquet.Schema;
using Pipeline.Core;

namespace Pipeline.Gcp;

/// <summary>A column of an exported Parquet file, and how it is read from a BigQuery row.</summary>
internal abstract record ParquetColumn(string Name)
{
    public abstract DataField Field { get; }
    public abstract void Add(BigQueryRow row);
    public abstract Task WriteAsync(ParquetRowGroupWriter group, CancellationToken cancellationToken);
    public abstract void Clear();

    public static ParquetColumn Int64(string name) => new Values<long>(name, r => r.GetInt64(name));
    public static ParquetColumn Int32(string name) => new Values<int>(name, r => checked((int)r.GetInt64(name)));
    public static ParquetColumn Double(string name) => new NullableValues<double>(name, r => r.GetNullableDouble(name));
    public static ParquetColumn String(string name) => new Strings(name);
    public static ParquetColumn NullableInt32(string name) => new NullableValues<int>(name, r => r.IsNull(name) ? null : checked((int)r.GetInt64(name)));
    public static ParquetColumn Date(string name) => new NullableValues<DateOnly>(name, r => r[name] switch
    {
        null => null,
        DateOnly d => d,
        var v => throw new InvalidCastException($"'{name}' is {v.GetType().Name}, not DATE"),
    });
    public static ParquetColumn Boolean(string name) => new Values<bool>(name, r => r.GetBoolean(name));

    private sealed record Values<T>(string Name, Func<BigQueryRow, T> Read) : ParquetColumn(Name) where T : struct
    {
        private readonly List<T> _values = [];
        public override DataField Field { get; } = new DataField<T>(Name);
        public override void Add(BigQueryRow row) => _values.Add(Read(row));
        public override void Clear() => _values.Clear();
        public override Task WriteAsync(ParquetRowGroupWriter group, CancellationToken cancellationToken) =>
            group.WriteAsync<T>(Field, _values.ToArray().AsMemory(), null, null, cancellationToken);
    }

    private sealed record NullableValues<T>(string Name, Func<BigQueryRow, T?> Read) : ParquetColumn(Name) where T : struct
    {
        private readonly List<T?> _values = [];
        public override DataField Field { get; } = new DataField<T?>(Name);
        public override void Add(BigQueryRow row) => _values.Add(Read(row));
        public override void Clear() => _values.Clear();
        public override Task WriteAsync(ParquetRowGroupWriter group, CancellationToken cancellationToken) =>
            group.WriteAsync<T>(Field, _values.ToArray().AsMemory(), null, null, cancellationToken);
    }

    private sealed record Strings(string Name) : ParquetColumn(Name)
    {
        private readonly List<string> _values = [];
        public override DataField Field { get; } = new DataField<string>(Name);
        public override void Add(BigQueryRow row) => _values.Add(row.GetString(Name) ?? "");
        public override void Clear() => _values.Clear();
        public override Task WriteAsync(ParquetRowGroupWriter group, CancellationToken cancellationToken) =>
            group.WriteAsync(Field, _values, null);
    }
}

/// <summary>
/// Puts a BigQuery result into the bucket as one Parquet file, streamed page by page into row groups, so memory
/// stays bounded however many customers there are. (EXPORT DATA writes sharded files; the bucket layout promises one.)
/// </summary>
internal static class ParquetDownload
{
    public const int RowGroupSize = 100_000;

    /// <summary>The columns of <c>customer_stats.parquet</c>.</summary>
    public static ParquetColumn[] CustomerStats() =>
    [
        ParquetColumn.Int64("user_id"),
        ParquetColumn.Int64(Features.DaysSinceLastOrder),
        ParquetColumn.Int64(Features.CountOrders),
        ParquetColumn.Double(Features.AverageSpend),
    ];

    /// <summary>The columns of <c>predictions.parquet</c>.</summary>
    public static ParquetColumn[] Predictions() =>
    [
        ParquetColumn.Int64("user_id"),
        ParquetColumn.Int32("centroid_id"),
        ParquetColumn.Double("distance"),
        ParquetColumn.String("segment"),
        ParquetColumn.Int64(Features.DaysSinceLastOrder),
        ParquetColumn.Int64(Features.CountOrders),
        ParquetColumn.Double(Features.AverageSpend),
        ParquetColumn.NullableInt32("previous_segment_id"),
        ParquetColumn.Date("segment_since"),
        ParquetColumn.Date("run_as_of"),
        ParquetColumn.Boolean("control_group"),
    ];

    /// <summary>
    /// Writes the pages to a temporary file, uploads it as the one part of the table under <paramref name="tablePrefix"/>,
    /// and returns the row count.
    /// </summary>
    public static async Task<long> UploadAsync(IAsyncEnumerable<BigQueryResultPage> pages, ParquetColumn[] columns, IBucket bucket,
        string tablePrefix, CancellationToken cancellationToken)
    {
        var objectName = BucketLayout.Part(tablePrefix, 0);
        var path = Path.Combine(Path.GetTempPath(), $"bq-export-{Guid.NewGuid():N}.parquet");
        try
        {
            long rows;
            await using (var file = File.Create(path))
                rows = await WriteAsync(pages, columns, file, cancellationToken);
            await bucket.UploadFileAsync(objectName, path, ContentTypes.Parquet, cancellationToken);
            return rows;
        }
        finally
        {
            File.Delete(path);
        }
    }

    public static async Task<long> WriteAsync(IAsyncEnumerable<BigQueryResultPage> pages, ParquetColumn[] columns, Stream output,
        CancellationToken cancellationToken)
    {
        var schema = new ParquetSchema(columns.Select(c => (Field)c.Field).ToArray());
        await using var writer = await ParquetWriter.CreateAsync(schema, output, cancellationToken: cancellationToken);
        long total = 0;
        var buffered = 0;

        async Task FlushAsync()
        {
            using var group = writer.CreateRowGroup();
            foreach (var column in columns)
            {
                await column.WriteAsync(group, cancellationToken);
                column.Clear();
            }
            buffered = 0;
        }

        await foreach (var page in pages.WithCancellation(cancellationToken))
        {
            foreach (var row in page.Rows)
            {
                foreach (var column in columns) column.Add(row);
                total++;
                if (++buffered == RowGroupSize) await FlushAsync();
            }
        }
        // An empty result still makes a readable file with the schema (one empty row group).
        if (buffered > 0 || total == 0) await FlushAsync();
        return total;
    }
}
