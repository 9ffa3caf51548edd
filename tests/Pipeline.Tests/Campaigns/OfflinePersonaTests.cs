using Pipeline.Analytics;
using Pipeline.Campaigns;
using Pipeline.Core;

namespace Pipeline.Tests.Campaigns;

/// <summary>
/// The offline writer's words agree with the segment's own numbers: RFM scores are relative to the population, so a
/// middling frequency score over about one order a customer is still called one-time buying.
/// </summary>
public sealed class OfflinePersonaTests
{
    private static string Persona(double countOrders, int frequencyScore)
    {
        var row = new CentroidSummaryRow(1, SegmentCatalog.BigSpenders, 745.23, countOrders, 186, 133_708, 0.142,
            new RfmScore(3, frequencyScore, 5));
        return OfflineCampaignWriter.Write(new CampaignRequest("run-1", [row], "prompt")).Segments.Single().Persona;
    }

    [Theory]
    [InlineData(1.08, 3, "mostly one-time buyers")]
    [InlineData(1.49, 4, "mostly one-time buyers")]
    [InlineData(2.0, 3, "occasional repeat buyers")]
    [InlineData(3.17, 5, "frequent buyers")]
    [InlineData(1.6, 1, "mostly one-time buyers")]
    public void Frequency_words_follow_the_orders_a_customer_places(double countOrders, int score, string words)
    {
        var persona = Persona(countOrders, score);

        Assert.Contains($"frequency {score}/5", persona);
        Assert.Contains($", {words}, ", persona);
    }

    /// <summary>An At Risk segment of one-time buyers is not called regulars in its next step; one of repeat buyers is.</summary>
    [Theory]
    [InlineData(1.0, false)]
    [InlineData(1.49, false)]
    [InlineData(2.3, true)]
    public void At_risk_next_step_calls_only_repeat_buyers_regulars(double countOrders, bool regulars)
    {
        var row = new CentroidSummaryRow(5, SegmentCatalog.AtRisk, 60.21, countOrders, 273, 10_588, 0.36, new RfmScore(2, 3, 3));

        var step = OfflineCampaignWriter.Write(new CampaignRequest("run-1", [row], "prompt")).Segments.Single().NextMarketingStep;

        Assert.Equal(regulars, step.Contains("regulars", StringComparison.Ordinal));
        Assert.Contains("273-day gap", step);
    }
}
