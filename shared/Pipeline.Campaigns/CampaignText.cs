using Pipeline.Core;

namespace Pipeline.Campaigns;

public static class CentroidSummary
{
    public static IReadOnlyList<CentroidSummaryRow> Build(SegmentModel model, IReadOnlyList<SegmentSize> sizes) => throw new NotImplementedException();
    public static byte[] ToCsv(IReadOnlyList<CentroidSummaryRow> rows) => throw new NotImplementedException();
}

public static class CampaignPrompt
{
    public static string Build(IReadOnlyList<CentroidSummaryRow> rows) => throw new NotImplementedException();
}

public static class CampaignMarkdown
{
    public static byte[] Render(CampaignDocument document) => throw new NotImplementedException();
}
