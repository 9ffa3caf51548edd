using System.Globalization;
using System.Text.RegularExpressions;
using DuckDB.NET.Data;
using Parquet;
using Parquet.Schema;
using Pipeline.Embedded.SampleData;

namespace Pipeline.Tests.SampleData;

public sealed class OrderItemsSampleTests : IDisposable
{
    private readonly ScratchDirectory scratch = new();

    public void Dispose() => scratch.Dispose();

    [Theory]
    [InlineData("order_items.csv", SampleFormat.Csv)]
    [InlineData("ORDER_ITEMS.CSV", SampleFormat.Csv)]
    [InlineData("/data/order_items.parquet", SampleFormat.Parquet)]
    [InlineData("x.Parquet", SampleFormat.Parquet)]
    public void Format_follows_the_extension(string path, SampleFormat expected) =>
        Assert.Equal(expected, OrderItemsSample.FormatFor(path));

    [Theory]
    [InlineData("order_items.json")]
    [InlineData("order_items")]
    [InlineData("order_items.csv.gz")]
    public void An_unknown_extension_is_refused_with_the_ones_that_work(string path)
    {
        var error = Assert.Throws<ArgumentException>(() => OrderItemsSample.FormatFor(path));
        Assert.Contains(".csv", error.Message, StringComparison.Ordinal);
        Assert.Contains(".parquet", error.Message, StringComparison.Ordinal);
        Assert.Contains(path, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null, null, 4)]
    [InlineData(10L, 10L, 4)]
    [InlineData(0L, null, 4)]
    [InlineData(null, -5L, 4)]
    [InlineData(10L, null, 0)]
    public async Task Options_must_name_exactly_one_positive_size(long? users, long? items, int years)
    {
        var path = scratch.File("bad.csv");
        await Assert.ThrowsAsync<ArgumentException>(() =>
            OrderItemsSample.WriteAsync(path, new SampleOptions(users, items, 1, SampleFiles.EndDate, years), null, CancellationToken.None));
        Assert.Empty(Directory.EnumerateFileSystemEntries(scratch.Path));
    }

    [Theory]
    [InlineData("a.csv", "b.csv")]
    [InlineData("a.parquet", "b.parquet")]
    public async Task The_same_seed_writes_the_same_bytes(string first, string second)
    {
        await SampleFiles.WriteUsersAsync(scratch.File(first), 20_000, seed: 7);
        await SampleFiles.WriteUsersAsync(scratch.File(second), 20_000, seed: 7);
        var other = await SampleFiles.WriteUsersAsync(scratch.File("other" + Path.GetExtension(first)), 20_000, seed: 8);

        Assert.Equal(SampleFiles.Sha256(scratch.File(first)), SampleFiles.Sha256(scratch.File(second)));
        Assert.NotEqual(SampleFiles.Sha256(scratch.File(first)), SampleFiles.Sha256(other.Path));
    }

    [Fact]
    public async Task Csv_is_shaped_as_BigQuery_exports_order_items()
    {
        var summary = await SampleFiles.WriteUsersAsync(scratch.File("order_items.csv"), 2_000);
        var lines = File.ReadAllLines(summary.Path);

        Assert.Equal(
            "id,order_id,user_id,product_id,inventory_item_id,status,created_at,shipped_at,delivered_at,returned_at,sale_price",
            lines[0]);
        Assert.Equal(summary.Items + 1, lines.Length);
        Assert.DoesNotContain('\r', File.ReadAllText(summary.Path));

        var timestamp = new Regex(@"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC)?$", RegexOptions.None, TimeSpan.FromSeconds(1));
        foreach (var line in lines.Skip(1).Take(50))
        {
            var fields = line.Split(',');
            Assert.All(fields[6..10], f => Assert.Matches(timestamp, f));
            Assert.NotEmpty(fields[6]);
            Assert.Matches(@"^\d+(\.\d{1,2})?$", fields[10]);
            var row = SampleFiles.ParseCsvLine(line); // every field parses in the invariant culture
            Assert.Equal(DateTimeKind.Utc, row.CreatedAt.Kind);
        }
    }

    [Fact]
    public async Task Csv_and_Parquet_of_the_same_options_hold_the_same_rows()
    {
        var csv = await SampleFiles.WriteUsersAsync(scratch.File("s.csv"), 3_000);
        var parquet = await SampleFiles.WriteUsersAsync(scratch.File("s.parquet"), 3_000);
        Assert.Equal(csv with { Path = "", Format = SampleFormat.Parquet }, parquet with { Path = "" });

        var fromCsv = SampleFiles.ReadCsv(csv.Path).ToArray();
        var columns = await ReadParquetAsync(parquet.Path);
        var fromParquet = Enumerable.Range(0, columns.Id.Length).Select(i => new CsvRow(
            columns.Id[i], columns.OrderId[i], columns.UserId[i], columns.ProductId[i], columns.InventoryItemId[i],
            columns.Status[i], columns.CreatedAt[i]!.Value, columns.ShippedAt[i], columns.DeliveredAt[i],
            columns.ReturnedAt[i], columns.SalePrice[i]));
        Assert.Equal(fromCsv, fromParquet);
    }

    [Fact]
    public async Task Parquet_has_BigQuerys_types_in_row_groups_of_about_a_million_rows()
    {
        var summary = await OrderItemsSample.WriteAsync(scratch.File("big.parquet"),
            new SampleOptions(null, 1_100_000, 3, SampleFiles.EndDate), null, CancellationToken.None);

        await using var reader = await ParquetReader.CreateAsync(summary.Path);
        var fields = reader.Schema.GetDataFields();
        Assert.Equal(
            ["id", "order_id", "user_id", "product_id", "inventory_item_id", "status", "created_at", "shipped_at",
                "delivered_at", "returned_at", "sale_price"],
            fields.Select(f => f.Name));
        Assert.All(fields[..5], f => Assert.Equal(typeof(long), f.ClrType));
        Assert.Equal("status", fields[5].Name); // strings read back as ReadOnlyMemory<char>; DuckDB checks the logical type below
        Assert.All(fields[6..10], f =>
        {
            var timestamp = Assert.IsType<DateTimeDataField>(f);
            Assert.Equal(DateTimeFormat.Timestamp, timestamp.DateTimeFormat);
            Assert.True(timestamp.IsAdjustedToUTC);
            Assert.True(timestamp.IsNullable);
        });
        Assert.Equal(typeof(double), fields[10].ClrType);

        Assert.Equal(2, reader.RowGroupCount);
        Assert.InRange(reader.RowGroups[0].RowCount, OrderItemsSample.RowsPerBatch - OrderItemsGenerator.MaxItemsPerUser, OrderItemsSample.RowsPerBatch);
        Assert.Equal(summary.Items, reader.RowGroups.Sum(g => g.RowCount));
    }

    [Fact]
    public async Task DuckDB_reads_the_Parquet_types_BigQuery_exports_and_the_same_values_as_the_CSV()
    {
        var csv = await SampleFiles.WriteUsersAsync(scratch.File("d.csv"), 5_000);
        var parquet = await SampleFiles.WriteUsersAsync(scratch.File("d.parquet"), 5_000);
        using var connection = new DuckDBConnection("DataSource=:memory:");
        connection.Open();

        var types = Query(connection, $"DESCRIBE SELECT * FROM read_parquet('{parquet.Path}')")
            .ToDictionary(r => (string)r[0], r => (string)r[1]);
        Assert.Equal(new Dictionary<string, string>
        {
            ["id"] = "BIGINT", ["order_id"] = "BIGINT", ["user_id"] = "BIGINT", ["product_id"] = "BIGINT",
            ["inventory_item_id"] = "BIGINT", ["status"] = "VARCHAR", ["created_at"] = "TIMESTAMP WITH TIME ZONE",
            ["shipped_at"] = "TIMESTAMP WITH TIME ZONE", ["delivered_at"] = "TIMESTAMP WITH TIME ZONE",
            ["returned_at"] = "TIMESTAMP WITH TIME ZONE", ["sale_price"] = "DOUBLE",
        }, types);

        Query(connection, "SET TimeZone = 'UTC'");
        const string Aggregates = """
            SELECT count(*), count(DISTINCT user_id), sum(sale_price), count(shipped_at), count(returned_at),
                   CAST(min(epoch(created_at)) AS BIGINT), CAST(max(epoch(delivered_at)) AS BIGINT)
            """;
        var fromParquet = Query(connection, $"{Aggregates} FROM read_parquet('{parquet.Path}')").Single();
        var fromCsv = Query(connection, $$"""
            {{Aggregates}} FROM read_csv('{{csv.Path}}', header = true, timestampformat = '%Y-%m-%d %H:%M:%S UTC',
                types = {'created_at': 'TIMESTAMPTZ', 'shipped_at': 'TIMESTAMPTZ', 'delivered_at': 'TIMESTAMPTZ', 'returned_at': 'TIMESTAMPTZ'})
            """).Single();
        Assert.Equal(fromCsv, fromParquet);
        Assert.Equal(parquet.Items, Convert.ToInt64(fromParquet[0], CultureInfo.InvariantCulture));
    }

    [Theory]
    [InlineData("t.csv", 10_000L)]
    [InlineData("t.parquet", 25_000L)]
    public async Task An_items_target_stops_after_the_user_who_reaches_it(string name, long target)
    {
        var summary = await OrderItemsSample.WriteAsync(scratch.File(name),
            new SampleOptions(null, target, 11, SampleFiles.EndDate), null, CancellationToken.None);

        var users = summary.Format == SampleFormat.Csv
            ? SampleFiles.ReadCsv(summary.Path).Select(r => r.UserId).ToArray()
            : (await ReadParquetAsync(summary.Path)).UserId;
        Assert.Equal(summary.Items, users.Length);
        Assert.True(summary.Items >= target);
        var lastUser = users[^1];
        Assert.Equal(summary.Users, lastUser);
        Assert.True(summary.Items - users.Count(u => u == lastUser) < target, "the user before the last had not reached the target yet");
    }

    [Fact]
    public async Task A_users_target_simulates_exactly_that_many_users()
    {
        var summary = await SampleFiles.WriteUsersAsync(scratch.File("u.csv"), 1_000);
        Assert.Equal(1_000, summary.Users);
        Assert.InRange(SampleFiles.ReadCsv(summary.Path).Max(r => r.UserId), 990, 1_000);
    }

    [Fact]
    public async Task Progress_is_reported_after_each_batch_of_about_a_million_items()
    {
        var reports = new List<long>();
        var summary = await OrderItemsSample.WriteAsync(scratch.File("p.csv"),
            new SampleOptions(null, 2_500_000, 5, SampleFiles.EndDate), new SynchronousProgress(reports.Add), CancellationToken.None);

        Assert.Equal(3, reports.Count);
        Assert.InRange(reports[0], OrderItemsSample.RowsPerBatch - OrderItemsGenerator.MaxItemsPerUser, OrderItemsSample.RowsPerBatch);
        Assert.InRange(reports[1], 2 * (OrderItemsSample.RowsPerBatch - OrderItemsGenerator.MaxItemsPerUser), 2 * OrderItemsSample.RowsPerBatch);
        Assert.Equal(summary.Items, reports[^1]);
    }

    [Theory]
    [InlineData("c.csv")]
    [InlineData("c.parquet")]
    public async Task Cancelling_leaves_no_partial_file_and_the_previous_file_as_it_was(string name)
    {
        var path = scratch.File(name);
        await File.WriteAllTextAsync(path, "the previous sample");
        using var cancel = new CancellationTokenSource();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => OrderItemsSample.WriteAsync(path,
            new SampleOptions(null, 20_000_000, 5, SampleFiles.EndDate), new SynchronousProgress(_ => cancel.Cancel()), cancel.Token));

        Assert.Equal("the previous sample", await File.ReadAllTextAsync(path));
        Assert.Equal([path], Directory.EnumerateFileSystemEntries(scratch.Path));
    }

    [Fact]
    public async Task An_already_cancelled_token_writes_nothing()
    {
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            OrderItemsSample.WriteAsync(scratch.File("x.parquet"), new SampleOptions(100, null, 1, SampleFiles.EndDate), null, new CancellationToken(true)));
        Assert.Empty(Directory.EnumerateFileSystemEntries(scratch.Path));
    }

    private sealed record ParquetColumns(
        long[] Id, long[] OrderId, long[] UserId, long[] ProductId, long[] InventoryItemId, string[] Status,
        DateTime?[] CreatedAt, DateTime?[] ShippedAt, DateTime?[] DeliveredAt, DateTime?[] ReturnedAt, double[] SalePrice);

    private static async Task<ParquetColumns> ReadParquetAsync(string path)
    {
        await using var reader = await ParquetReader.CreateAsync(path);
        var total = (int)reader.RowGroups.Sum(g => g.RowCount);
        var fields = reader.Schema.GetDataFields();
        var ids = Enumerable.Range(0, 5).Select(_ => new long[total]).ToArray();
        var timestamps = Enumerable.Range(0, 4).Select(_ => new DateTime?[total]).ToArray();
        var status = new string?[total];
        var price = new double[total];
        var at = 0;
        foreach (var group in reader.RowGroups)
        {
            var n = (int)group.RowCount;
            for (var c = 0; c < 5; c++) await group.ReadAsync<long>(fields[c], ids[c].AsMemory(at, n));
            await group.ReadAsync(fields[5], status.AsMemory(at, n));
            for (var c = 0; c < 4; c++) await group.ReadAsync<DateTime>(fields[6 + c], timestamps[c].AsMemory(at, n));
            await group.ReadAsync<double>(fields[10], price.AsMemory(at, n));
            at += n;
        }
        return new ParquetColumns(ids[0], ids[1], ids[2], ids[3], ids[4], [.. status.Select(s => s ?? throw new InvalidDataException("status is NULL"))],
            timestamps[0], timestamps[1], timestamps[2], timestamps[3], price);
    }

    private static List<object[]> Query(DuckDBConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        using var reader = command.ExecuteReader();
        var rows = new List<object[]>();
        while (reader.Read())
        {
            var row = new object[reader.FieldCount];
            reader.GetValues(row);
            rows.Add(row);
        }
        return rows;
    }

    /// <summary>Calls back on the reporting thread, unlike <see cref="Progress{T}"/>, so the test sees every report at once.</summary>
    private sealed class SynchronousProgress(Action<long> report) : IProgress<long>
    {
        public void Report(long value) => report(value);
    }
}
