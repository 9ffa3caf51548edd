using System.CommandLine;
using System.Globalization;
using Pipeline.Embedded.SampleData;

namespace Pipeline.Runner.Commands;

/// <summary>
/// <c>sample</c>: writes thelook_ecommerce-shaped order items of a given size, and the <c>users</c> and
/// <c>products</c> tables they refer to beside them.
/// </summary>
public static class SampleCommand
{
    public static Command Create()
    {
        var output = new Option<string>("--out", "-o") { Description = "The order_items file to write: .csv (BigQuery export format) or .parquet; users and products go beside it (order_items.csv: users.csv, products.csv).", Required = true };
        var users = new Option<long?>("--users") { Description = "How many customers to generate (the lab's size: 100,000, about 180,000 items)." };
        var items = new Option<long?>("--items") { Description = "Generate customers until this many order items are written (e.g. 50000000)." };
        var seed = new Option<int>("--seed") { Description = "Random seed: the same seed and end date give the same file.", DefaultValueFactory = _ => 42 };
        var endDate = new Option<string?>("--end-date") { Description = "Orders are dated before this day, YYYY-MM-DD. Default: today (UTC)." };
        var years = new Option<int>("--years") { Description = "How many years of orders before --end-date.", DefaultValueFactory = _ => 4 };
        var command = new Command("sample", "Write thelook_ecommerce-shaped order_items, users and products files (CSV or Parquet), drawn the way Google's public generator draws them.");
        foreach (var option in new Option[] { output, users, items, seed, endDate, years }) command.Options.Add(option);
        command.Validators.Add(result =>
        {
            if (result.GetValue(users) is null == result.GetValue(items) is null)
                result.AddError("give exactly one of --users and --items");
        });

        command.SetAction(async (result, cancellationToken) =>
        {
            var end = result.GetValue(endDate) is { } text
                ? DateOnly.ParseExact(text, "yyyy-MM-dd", CultureInfo.InvariantCulture)
                : DateOnly.FromDateTime(DateTime.UtcNow);
            var options = new SampleOptions(result.GetValue(users), result.GetValue(items), result.GetValue(seed), end, result.GetValue(years));
            var (summary, tables) = await WriteAsync(Path.GetFullPath(result.GetValue(output)!), options, cancellationToken);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"Wrote {summary.Items:N0} items in {summary.Orders:N0} orders of {summary.Users:N0} users, {summary.FirstDate:yyyy-MM-dd} to {summary.LastDate:yyyy-MM-dd}: {summary.Path}"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Wrote {tables.Users:N0} users: {tables.UsersPath}"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Wrote {tables.Products:N0} products: {tables.ProductsPath}"));
            return 0;
        });
        return command;
    }

    /// <summary>
    /// The sample <c>run</c> uses when no input is given: order items, users and products, generated once per size,
    /// seed and day under <c>{out}/samples/</c>, reused after that.
    /// </summary>
    public static async Task<(string OrderItems, string Users, string Products)> EnsureSampleAsync(
        string outDirectory, long users, int seed, CancellationToken cancellationToken)
    {
        var today = DateOnly.FromDateTime(DateTime.UtcNow);
        var path = Path.Combine(outDirectory, "samples", string.Create(CultureInfo.InvariantCulture, $"order_items-{users}users-seed{seed}-{today:yyyy-MM-dd}.parquet"));
        var (usersPath, productsPath) = ProfileTablesSample.PathsBeside(path);
        if (File.Exists(path) && File.Exists(usersPath) && File.Exists(productsPath)) return (path, usersPath, productsPath);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"No --input: generating sample order items, users and products for {users:N0} customers ({path})"));
        await WriteAsync(path, new SampleOptions(users, null, seed, today), cancellationToken);
        return (path, usersPath, productsPath);
    }

    /// <summary>The order items, then the users and products beside them (the order items' users, every product).</summary>
    private static async Task<(SampleSummary, ProfileTablesSummary)> WriteAsync(string path, SampleOptions options, CancellationToken cancellationToken)
    {
        var progress = new Progress<long>(written =>
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {written:N0} items written")));
        var summary = await OrderItemsSample.WriteAsync(path, options, progress, cancellationToken);
        var (usersPath, productsPath) = ProfileTablesSample.PathsBeside(path);
        var tables = await ProfileTablesSample.WriteAsync(usersPath, productsPath, summary.Users, options, cancellationToken);
        return (summary, tables);
    }
}
