using DuckDB.NET.Data;
using Pipeline.Core;

namespace Pipeline.Tests.Reliability;

/// <summary>
/// A run's outputs in a bucket directory, compared by what a reader gets: Parquet by its rows (in any order, as
/// several threads may write them), every other object byte for byte. The manifest (timings) and latest.json (a
/// time) are left out: they are the run's record, not its outputs.
/// </summary>
public static class RunOutputs
{
    /// <summary>Every object of the run (no temporary files), by name relative to the run's prefix.</summary>
    public static IReadOnlyList<string> Objects(string bucket, string runId)
    {
        var root = Path.Combine(bucket, BucketLayout.RunPrefix(runId));
        if (!Directory.Exists(root)) return [];
        return [.. Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories)
            .Select(path => Path.GetRelativePath(root, path).Replace(Path.DirectorySeparatorChar, '/'))
            .Where(name => !name.Split('/').Any(part => part.StartsWith('.')) && name != "manifest.json")
            .Order(StringComparer.Ordinal)];
    }

    /// <summary>What a reader of the object gets: its rows for Parquet, its bytes otherwise.</summary>
    public static string Content(string bucket, string runId, string name)
    {
        var path = Path.Combine(bucket, BucketLayout.RunPrefix(runId), name);
        if (!name.EndsWith(".parquet", StringComparison.Ordinal)) return Convert.ToHexString(File.ReadAllBytes(path));
        using var connection = new DuckDBConnection("DataSource=:memory:");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = $"SELECT * FROM read_parquet('{path.Replace("'", "''", StringComparison.Ordinal)}') ORDER BY ALL";
        using var reader = command.ExecuteReader();
        var rows = new System.Text.StringBuilder();
        while (reader.Read())
        {
            for (var i = 0; i < reader.FieldCount; i++) rows.Append(reader.GetValue(i)).Append('|');
            rows.AppendLine();
        }
        return rows.ToString();
    }

    /// <summary>Asserts that every object <paramref name="bucket"/> holds for the run is whole: the same as the reference run's.</summary>
    public static void AssertSubsetOf(string reference, string bucket, string runId)
    {
        var expected = Objects(reference, runId);
        foreach (var name in Objects(bucket, runId))
        {
            Assert.Contains(name, expected);
            Assert.True(Content(reference, runId, name) == Content(bucket, runId, name), $"{name} differs from the undisturbed run's");
        }
    }

    /// <summary>Asserts that the run's outputs are exactly the reference run's.</summary>
    public static void AssertSame(string reference, string bucket, string runId)
    {
        Assert.Equal(Objects(reference, runId), Objects(bucket, runId));
        AssertSubsetOf(reference, bucket, runId);
    }
}
