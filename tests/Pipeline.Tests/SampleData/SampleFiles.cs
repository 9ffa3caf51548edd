using System.Globalization;
using System.Security.Cryptography;
using Pipeline.Embedded.SampleData;

namespace Pipeline.Tests.SampleData;

/// <summary>One order_items row as the CSV holds it, parsed back.</summary>
internal sealed record CsvRow(
    long Id, long OrderId, long UserId, long ProductId, long InventoryItemId, string Status,
    DateTime CreatedAt, DateTime? ShippedAt, DateTime? DeliveredAt, DateTime? ReturnedAt, double SalePrice);

/// <summary>A scratch directory for sample files, removed with everything in it.</summary>
internal sealed class ScratchDirectory : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("pipeline-sample-").FullName;

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose() => Directory.Delete(Path, recursive: true);
}

internal static class SampleFiles
{
    public static readonly DateOnly EndDate = new(2025, 1, 1);

    public static string Sha256(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexString(SHA256.HashData(stream));
    }

    public static IEnumerable<CsvRow> ReadCsv(string path) =>
        File.ReadLines(path).Skip(1).Select(ParseCsvLine);

    public static CsvRow ParseCsvLine(string line)
    {
        var f = line.Split(',');
        Assert.Equal(11, f.Length);
        return new CsvRow(
            long.Parse(f[0], CultureInfo.InvariantCulture), long.Parse(f[1], CultureInfo.InvariantCulture),
            long.Parse(f[2], CultureInfo.InvariantCulture), long.Parse(f[3], CultureInfo.InvariantCulture),
            long.Parse(f[4], CultureInfo.InvariantCulture), f[5],
            ParseTimestamp(f[6]) ?? throw new InvalidDataException($"created_at is empty in: {line}"),
            ParseTimestamp(f[7]), ParseTimestamp(f[8]), ParseTimestamp(f[9]),
            double.Parse(f[10], NumberStyles.Float, CultureInfo.InvariantCulture));
    }

    /// <summary>BigQuery's CSV form, <c>2022-03-04 05:06:07 UTC</c>; empty for NULL.</summary>
    public static DateTime? ParseTimestamp(string field) =>
        field.Length == 0
            ? null
            : DateTime.ParseExact(field, "yyyy-MM-dd HH:mm:ss 'UTC'", CultureInfo.InvariantCulture,
                DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal);

    public static Task<SampleSummary> WriteUsersAsync(string path, long users, int seed = 42) =>
        OrderItemsSample.WriteAsync(path, new SampleOptions(users, null, seed, EndDate), null, CancellationToken.None);
}
