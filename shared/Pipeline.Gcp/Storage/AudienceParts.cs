using System.Globalization;
using Pipeline.Core;

namespace Pipeline.Gcp;

/// <summary>
/// An audience file put together inside the bucket. BigQuery's <c>EXPORT DATA</c> needs a <c>*</c> in its URI, so it
/// cannot write <c>audiences/{segment}.csv</c> itself: it writes a segment's user ids as headerless CSV parts under
/// <c>audiences/.parts/{segment}/</c>, then Cloud Storage composes a one-line header object and the parts into the
/// file (in rounds of at most <see cref="IBucket.MaxComposeSources"/>), and the parts are deleted. No user id passes
/// through the function.
/// </summary>
internal static class AudienceParts
{
    /// <summary>The segment the plan shows in place of each real one (the segments are known only after TrainModel).</summary>
    public const string PlannedSegment = "{segment}";

    private static readonly byte[] Header = "user_id\n"u8.ToArray();

    /// <summary>Where the segment's parts and the compose's own objects go: a folder readers of audiences/ never read.</summary>
    public static string Prefix(string runId, string segment) =>
        $"{BucketLayout.Audiences(runId)}.parts/{(segment == PlannedSegment ? segment : BucketLayout.SegmentSlug(segment))}/";

    /// <summary>
    /// Writes <paramref name="destination"/> as the header followed by the <paramref name="parts"/>, composing in rounds
    /// when there are more sources than one compose takes; the intermediate objects stay under <paramref name="partsPrefix"/>
    /// for <see cref="RemoveAsync"/>.
    /// </summary>
    public static async Task ComposeAsync(IBucket bucket, string partsPrefix, IReadOnlyList<string> parts, string destination,
        CancellationToken cancellationToken)
    {
        var header = $"{partsPrefix}compose/header.csv";
        await bucket.WriteAsync(header, Header, ContentTypes.Csv, null, cancellationToken);
        IReadOnlyList<string> sources = [header, .. parts];
        for (var round = 0; sources.Count > IBucket.MaxComposeSources; round++)
        {
            var next = new List<string>();
            foreach (var chunk in sources.Chunk(IBucket.MaxComposeSources))
            {
                var name = string.Create(CultureInfo.InvariantCulture, $"{partsPrefix}compose/round-{round}-{next.Count:D6}.csv");
                await bucket.ComposeAsync(chunk, name, ContentTypes.Csv, cancellationToken);
                next.Add(name);
            }
            sources = next;
        }
        await bucket.ComposeAsync(sources, destination, ContentTypes.Csv, cancellationToken);
    }

    /// <summary>Deletes everything under the segment's <paramref name="partsPrefix"/>: the parts and the compose's objects.</summary>
    public static async Task RemoveAsync(IBucket bucket, string partsPrefix, CancellationToken cancellationToken)
    {
        foreach (var name in await bucket.ListAsync(partsPrefix, cancellationToken))
            await bucket.DeleteAsync(name, cancellationToken);
    }
}
