using Pipeline.Analytics;
using Pipeline.Campaigns;
using Pipeline.Core;

namespace Pipeline.Tests.Campaigns;

/// <summary>
/// The prompt saved in campaign.json is the lab's, byte for byte (CONTRACT.md, "The lab's centroid table and
/// prompt"): the expected text below is the contract's, copied, not built by the code under test.
/// </summary>
public sealed class LabPromptTests
{
    // The contract's prompt with its example line as cluster 1; a leading and a trailing newline.
    private const string Expected = """

        You're a creative brand strategist, given the following clusters, come up with creative brand persona, a catchy title, and next marketing action, explained step by step.

        Clusters:
        cluster 1, average spend $48.32, count of orders per person 1.36, days since last order 384.37
        cluster 2, average spend $150.0, count of orders per person 2.0, days since last order 1.3
        cluster 3, average spend $1234.57, count of orders per person 1.01, days since last order 0.0

        For each Cluster:
        * Title:
        * Persona:
        * Next marketing step:

        """;

    private static SegmentModel Model(params Centroid[] centroids) => new("run-1", "embedded", centroids.Length, "fixed", Features.All,
        new Standardization([0, 0, 0], [1, 1, 1]), centroids, new ModelMetrics(1, 1, 1), 5, 100, 20, 42, null);

    [Fact]
    public void The_saved_prompt_is_the_labs_byte_for_byte()
    {
        // Unrounded centroids, listed out of id order: the table rounds to 2 decimals (half away from zero) and sorts.
        var model = Model(
            new Centroid(3, SegmentCatalog.BigSpenders, 0.004, 1.0051, 1234.5678, new RfmScore(5, 2, 5)),
            new Centroid(1, SegmentCatalog.Lost, 384.3689, 1.3649, 48.3211, new RfmScore(1, 2, 2)),
            new Centroid(2, SegmentCatalog.Champions, 1.3, 2.0000001, 149.999, new RfmScore(5, 5, 5)));
        var table = CentroidSummary.Build(model, [new(1, SegmentCatalog.Lost, 10), new(2, SegmentCatalog.Champions, 5), new(3, SegmentCatalog.BigSpenders, 1)]);

        var prompt = CampaignPrompt.Build(table);

        Assert.Equal(Expected.ReplaceLineEndings("\n"), prompt);
    }

    [Theory]
    [InlineData(1.3, "1.3")]
    [InlineData(2.0, "2.0")]
    [InlineData(384.37, "384.37")]
    [InlineData(0.0, "0.0")]
    [InlineData(-0.0, "-0.0")]
    [InlineData(100.0, "100.0")]
    [InlineData(0.1, "0.1")]
    [InlineData(0.01, "0.01")]
    [InlineData(0.0001, "0.0001")]
    [InlineData(0.00001, "1e-05")]
    [InlineData(123456789012345.67, "123456789012345.67")]
    [InlineData(1e15, "1000000000000000.0")]
    [InlineData(1e16, "1e+16")]
    [InlineData(1.5e17, "1.5e+17")]
    [InlineData(-48.32, "-48.32")]
    public void Numbers_are_written_as_Pythons_str_writes_a_float(double value, string python) =>
        Assert.Equal(python, CampaignPrompt.PythonFloat(value));

    [Theory]
    [InlineData(0.125, 0.13)] // exact in binary: a true half, which banker's rounding would send to 0.12
    [InlineData(-0.125, -0.13)]
    [InlineData(48.3211, 48.32)]
    public void The_table_rounds_to_two_decimals_halves_away_from_zero(double value, double rounded) =>
        Assert.Equal(rounded, CampaignPrompt.Round(value));
}
