using System.Globalization;
using Pipeline.Core;

namespace Pipeline.Gcp;

/// <summary>
/// The parts BigQuery's <c>EXPORT DATA</c> writes under a table's prefix in the bucket: the URI's one wildcard
/// becomes a 12-digit number counting from <c>000000000000</c>, so an export of N files writes
/// <c>part-000000000000.parquet</c> to <c>part-{N-1:D12}.parquet</c> (<c>.csv</c> for a CSV export), overwriting what
/// an earlier attempt wrote there.
/// </summary>
internal static class ExportedParts
{
    public const string Parquet = ".parquet";
    public const string Csv = ".csv";

    /// <summary>The export's destination URI for <c>EXPORT DATA OPTIONS (uri = …)</c>.</summary>
    public static string Uri(string bucketName, string tablePrefix, string extension = Parquet) => $"gs://{bucketName}/{tablePrefix}part-*{extension}";

    /// <summary>The name of the export's file number <paramref name="index"/>.</summary>
    public static string Name(string tablePrefix, long index, string extension = Parquet) =>
        $"{tablePrefix}part-{index.ToString("D12", CultureInfo.InvariantCulture)}{extension}";

    /// <summary>The names of an export's <paramref name="fileCount"/> files, in order.</summary>
    public static IReadOnlyList<string> Names(string tablePrefix, long fileCount, string extension = Parquet)
    {
        var names = new List<string>();
        for (long i = 0; i < fileCount; i++) names.Add(Name(tablePrefix, i, extension));
        return names;
    }

    /// <summary>
    /// Checks that the export's <paramref name="fileCount"/> files are all there and deletes every other part under
    /// the prefix: the surplus files of an earlier attempt that wrote more of them, or a part another writer left.
    /// Readers read every part under the prefix, so a stale one would count its customers twice.
    /// </summary>
    public static async Task TidyAsync(IBucket bucket, string tablePrefix, long fileCount, string extension, CancellationToken cancellationToken)
    {
        var parts = (await bucket.ListAsync(tablePrefix, cancellationToken)).Where(n => BucketLayout.IsPart(tablePrefix, n, extension)).ToHashSet(StringComparer.Ordinal);
        var expected = Names(tablePrefix, fileCount, extension).ToHashSet(StringComparer.Ordinal);

        var missing = expected.Where(n => !parts.Contains(n)).Order(StringComparer.Ordinal).ToList();
        if (missing.Count > 0)
            throw new BigQueryTransientException(
                $"the export reported {fileCount} files but {bucket.Describe(missing[0])} is not there ({missing.Count} missing); looking again on the next delivery",
                null, null);
        foreach (var stale in parts.Where(n => !expected.Contains(n)).Order(StringComparer.Ordinal))
            await bucket.DeleteAsync(stale, cancellationToken);
    }
}
