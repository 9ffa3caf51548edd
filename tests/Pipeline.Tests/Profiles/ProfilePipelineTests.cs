using System.Text;
using System.Text.Json.Nodes;
using Pipeline.Campaigns;
using Pipeline.Core;
using Pipeline.Embedded;
using Pipeline.Runner;
using Pipeline.Tests.Pipeline;

namespace Pipeline.Tests.Profiles;

/// <summary>
/// The whole chain with the sample's users and products: full profiles, personas that say who the customers are,
/// and no name, e-mail, address or coordinate in any output.
/// </summary>
public sealed class ProfilePipelineTests(SampleDataFixture data) : IClassFixture<SampleDataFixture>, IDisposable
{
    private readonly TempDirectory _out = new();

    public void Dispose() => _out.Dispose();

    [Fact]
    public async Task A_run_with_users_and_products_profiles_every_segment_and_leaks_no_personal_data()
    {
        await using var pipeline = LocalPipeline.Create(_out.Path, data.Parquet, settings: new Dictionary<string, string?>
        {
            [$"{EmbeddedOptions.SectionName}:{nameof(EmbeddedOptions.Users)}"] = data.Users,
            [$"{EmbeddedOptions.SectionName}:{nameof(EmbeddedOptions.Products)}"] = data.Products,
        });
        var manifest = await pipeline.RunAsync(new JsonObject
        {
            ["run_id"] = "profiled",
            ["window_start"] = "2025-01-01",
            ["window_end"] = "2026-01-01",
            ["k"] = 3,
        }, CancellationToken.None);
        Assert.Equal(RunStatus.Completed, manifest.Status);

        var profiles = PipelineJson.Deserialize<ProfilesDocument>(await File.ReadAllBytesAsync(Path.Combine(_out.Path, BucketLayout.Profiles("profiled"))));
        Assert.Empty(profiles.Lacking);
        Assert.Equal(0, profiles.Coverage.ItemsWithoutUser + profiles.Coverage.ItemsWithoutProduct);
        Assert.Equal(3, profiles.Segments.Count);
        Assert.Equal(profiles.Segments.Sum(s => s.Customers), profiles.Population.Customers);
        Assert.Equal(1.0, profiles.Segments.Sum(s => s.RevenueShare), 3);
        Assert.All(profiles.Segments, s => Assert.True(s.Gender!.Cells.Count > 0 && s.Countries!.Cells.Count > 0 && s.Categories!.Cells.Count > 0));
        // The sample's users buy in their own department, so the population's gender and department split agree.
        var women = profiles.Population.Gender!.Cells.Single(c => c.Value == "F").Share!.Value;
        Assert.InRange(women, 0.45, 0.55);
        Assert.Equal("Search", profiles.Population.TrafficSources!.Cells[0].Value);

        var campaign = PipelineJson.Deserialize<CampaignDocument>(await File.ReadAllBytesAsync(Path.Combine(_out.Path, BucketLayout.CampaignJson("profiled"))));
        // The profiles travel beside the lab's prompt, never inside it.
        Assert.DoesNotContain("index", campaign.Prompt, StringComparison.Ordinal);
        Assert.Contains("index", campaign.ProfileContext, StringComparison.Ordinal);
        foreach (var segment in campaign.Segments)
        {
            var profile = profiles.For(segment.CentroidId)!;
            Assert.Contains($"buying {string.Join(" and ", ProfileText.TopCategories(profile))}", segment.Persona, StringComparison.Ordinal);
            Assert.Contains(ProfileText.TopCategories(profile)[0], segment.NextMarketingStep, StringComparison.Ordinal);
            Assert.Contains(ProfileText.Channel(profile)!, segment.NextMarketingStep, StringComparison.Ordinal);
        }

        // Only aggregates leave the pipeline: no output holds a user's name, e-mail, street or coordinates.
        var outputs = Directory.EnumerateFiles(Path.Combine(_out.Path, "runs", "profiled"), "*", SearchOption.AllDirectories).ToList();
        Assert.Contains(outputs, f => f.EndsWith("profiles.json", StringComparison.Ordinal));
        foreach (var file in outputs)
        {
            var text = file.EndsWith(".parquet", StringComparison.Ordinal) ? ParquetText(file) : Encoding.UTF8.GetString(await File.ReadAllBytesAsync(file));
            foreach (var personal in new[] { "@example.com", "Sample Street", "Müller", "Tanaka", "first_name", "last_name", "latitude", "longitude" })
                Assert.False(text.Contains(personal, StringComparison.OrdinalIgnoreCase), $"{file} contains '{personal}'");
        }
    }

    /// <summary>A Parquet table's column names and values as text, through DuckDB.</summary>
    private static string ParquetText(string path)
    {
        using var connection = DuckDb.Open(new EmbeddedOptions());
        var text = new StringBuilder();
        using var command = DuckDb.Command(connection, $"SELECT * FROM read_parquet({DuckDb.Literal(path)})");
        using var reader = command.ExecuteReader();
        for (var i = 0; i < reader.FieldCount; i++) text.Append(reader.GetName(i)).Append(' ');
        while (reader.Read())
            for (var i = 0; i < reader.FieldCount; i++) text.Append(reader.GetValue(i)).Append(' ');
        return text.ToString();
    }
}
