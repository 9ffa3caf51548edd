using Pipeline.Embedded.SampleData;

namespace Pipeline.Tests.Pipeline;

/// <summary>Generated order items (and their users and products) shared by the end-to-end tests: 3,000 customers over four years to 2026-01-01.</summary>
public sealed class SampleDataFixture : IAsyncLifetime, IDisposable
{
    public static readonly DateOnly EndDate = new(2026, 1, 1);
    private readonly TempDirectory _directory = new();

    public string Parquet => _directory.File("order_items.parquet");
    public string Csv => _directory.File("order_items.csv");
    public string Users => _directory.File("users.parquet");
    public string Products => _directory.File("products.parquet");

    public async Task InitializeAsync()
    {
        var options = new SampleOptions(Users: 3_000, Items: null, Seed: 7, EndDate: EndDate);
        await OrderItemsSample.WriteAsync(Parquet, options, null, CancellationToken.None);
        var summary = await OrderItemsSample.WriteAsync(Csv, options, null, CancellationToken.None);
        await ProfileTablesSample.WriteAsync(Users, Products, summary.Users, options, CancellationToken.None);
    }

    public Task DisposeAsync()
    {
        Dispose();
        return Task.CompletedTask;
    }

    public void Dispose() => _directory.Dispose();
}
