using Pipeline.Embedded.SampleData;

namespace Pipeline.Emulator.Tests.Support;

/// <summary>Generated order items for the chain tests: 2,000 customers over four years to <see cref="EndDate"/>.</summary>
public sealed class SampleOrders : IAsyncLifetime
{
    public static readonly DateOnly EndDate = new(2026, 1, 1);

    private readonly string directory = Path.Combine(Path.GetTempPath(), "pipeline-emulator-tests-" + Guid.NewGuid().ToString("N")[..8]);

    public string Parquet => Path.Combine(directory, "order_items.parquet");

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(directory);
        await OrderItemsSample.WriteAsync(Parquet, new SampleOptions(Users: 2_000, Items: null, Seed: 7, EndDate: EndDate), null, CancellationToken.None);
    }

    public Task DisposeAsync()
    {
        Directory.Delete(directory, recursive: true);
        return Task.CompletedTask;
    }
}
