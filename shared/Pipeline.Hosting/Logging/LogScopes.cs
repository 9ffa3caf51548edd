using Microsoft.Extensions.Logging;

namespace Pipeline.Hosting.Logging;

/// <summary>The values of the open logging scopes that say which run, stage and message a line belongs to.</summary>
internal static class LogScopes
{
    /// <summary>Scope keys worth a field of their own, and the field's name (snake_case, as in the bucket's JSON).</summary>
    private static readonly Dictionary<string, string> Fields = new(StringComparer.Ordinal)
    {
        ["RunId"] = "run_id",
        ["Stage"] = "stage",
        ["Function"] = "function",
        ["MessageId"] = "message_id",
    };

    /// <summary>The innermost stage progress report among the open scopes (what <see cref="Pipeline.Core.LoggedStageProgress"/> opens).</summary>
    public static Pipeline.Core.StageProgress? Progress(IExternalScopeProvider? scopes)
    {
        if (scopes is null) return null;
        var found = new Pipeline.Core.StageProgress?[1];
        scopes.ForEachScope(static (scope, found) =>
        {
            if (scope is Pipeline.Core.StageProgress progress) found[0] = progress;
        }, found);
        return found[0];
    }

    /// <summary>Field name → value, the innermost scope winning, in the order of <see cref="Fields"/>.</summary>
    public static IReadOnlyList<KeyValuePair<string, string>> Collect(IExternalScopeProvider? scopes)
    {
        if (scopes is null) return [];
        var found = new Dictionary<string, string>(StringComparer.Ordinal);
        scopes.ForEachScope(static (scope, found) =>
        {
            if (scope is not IEnumerable<KeyValuePair<string, object?>> pairs) return;
            foreach (var (key, value) in pairs)
                if (value is not null && Fields.TryGetValue(key, out var field))
                    found[field] = value.ToString() ?? "";
        }, found);
        return [.. Fields.Values.Where(found.ContainsKey).Select(field => KeyValuePair.Create(field, found[field]))];
    }
}
