using System.Globalization;
using System.Text;
using Pipeline.Core;
using Pipeline.Embedded;

namespace Pipeline.Tests;

/// <summary>One order item as a test writes it, with its instant in UTC.</summary>
public sealed record TestItem(long OrderId, long UserId, string Status, DateTime CreatedAtUtc, double SalePrice);

/// <summary>
/// The contract's customer statistics computed independently of the SQL (LINQ over the items), and the items
/// written as the CSV BigQuery exports: what the property tests and the bad-input catalogue compare against.
/// </summary>
public static class OrderItemsByHand
{
    public const string Header = "order_id,user_id,status,created_at,sale_price";

    /// <summary>Per customer with a counted item in [start, end): user, days from the last item's UTC date to as_of, orders, spend.</summary>
    public static List<(long User, long Days, long Orders, double Spend)> Stats(
        IEnumerable<TestItem> items, StatsPreset preset, DateOnly start, DateOnly end, DateOnly asOf)
    {
        var from = start.ToDateTime(TimeOnly.MinValue);
        var to = end.ToDateTime(TimeOnly.MinValue);
        return items
            .Where(i => i.CreatedAtUtc >= from && i.CreatedAtUtc < to)
            .Where(i => preset == StatsPreset.Lab || (i.Status != "Cancelled" && i.Status != "Returned"))
            .GroupBy(i => i.UserId)
            .OrderBy(g => g.Key)
            .Select(g =>
            {
                var orders = g.Select(i => i.OrderId).Distinct().LongCount();
                return (g.Key,
                    (long)(asOf.DayNumber - DateOnly.FromDateTime(g.Max(i => i.CreatedAtUtc)).DayNumber),
                    preset == StatsPreset.Lab ? g.LongCount() : orders,
                    preset == StatsPreset.Lab ? g.Average(i => i.SalePrice) : g.Sum(i => i.SalePrice) / orders);
            })
            .ToList();
    }

    /// <summary>The same customers, days and orders; spend to 9 decimals (a sum of doubles depends on its order).</summary>
    public static void AssertSame(List<(long User, long Days, long Orders, double Spend)> expected, List<(long User, long Days, long Orders, double Spend)> actual)
    {
        Assert.Equal(expected.Select(e => (e.User, e.Days, e.Orders)), actual.Select(a => (a.User, a.Days, a.Orders)));
        Assert.All(expected.Zip(actual), p => Assert.Equal(p.First.Spend, p.Second.Spend, 9));
    }

    /// <summary>The items as BigQuery's CSV export writes them (<c>2022-03-04 05:06:07 UTC</c>).</summary>
    public static string Csv(IEnumerable<TestItem> items, string newline = "\n")
    {
        var csv = new StringBuilder(Header).Append(newline);
        foreach (var i in items)
            csv.Append(CultureInfo.InvariantCulture, $"{i.OrderId},{i.UserId},{i.Status},{i.CreatedAtUtc:yyyy-MM-dd HH:mm:ss} UTC,{i.SalePrice}").Append(newline);
        return csv.ToString();
    }
}

/// <summary>Reads a run's <c>customer_stats</c> parts back, ordered by user.</summary>
public static class StatsFile
{
    public static async Task<List<(long User, long Days, long Orders, double Spend)>> ReadAsync(IBucket bucket, string tablePrefix)
    {
        using var parts = await bucket.OpenLocalPartsAsync(tablePrefix, CancellationToken.None);
        using var connection = DuckDb.Open(new EmbeddedOptions());
        using var command = DuckDb.Command(connection,
            $"SELECT user_id, days_since_last_order, count_orders, average_spend FROM {DuckDb.ReadParquet(parts)} ORDER BY user_id");
        using var reader = command.ExecuteReader();
        var rows = new List<(long, long, long, double)>();
        while (reader.Read()) rows.Add((reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetDouble(3)));
        return rows;
    }
}

/// <summary>RELIABILITY.md at the repository root, whose tables the tests check against their own counts.</summary>
public static class ReliabilityDocument
{
    public static string Text()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            var file = System.IO.Path.Combine(directory.FullName, "RELIABILITY.md");
            if (File.Exists(file) && File.Exists(System.IO.Path.Combine(directory.FullName, "Pipeline.sln"))) return File.ReadAllText(file);
        }
        throw new FileNotFoundException("RELIABILITY.md not found above the test binaries");
    }

    /// <summary>The first two cells of each row of the table in the section <c>## {section}</c>, header and rule left out.</summary>
    public static Dictionary<string, string> Table(string section)
    {
        var lines = Text().Split('\n').SkipWhile(l => l.TrimEnd() != $"## {section}").Skip(1).TakeWhile(l => !l.StartsWith("## ", StringComparison.Ordinal));
        return lines.Where(l => l.StartsWith('|')).Skip(2)
            .Select(l => l.Split('|', StringSplitOptions.TrimEntries))
            .ToDictionary(cells => cells[1], cells => cells[2]);
    }
}
