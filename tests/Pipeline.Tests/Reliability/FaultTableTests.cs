using System.Collections;
using System.Reflection;
using System.Text.RegularExpressions;

namespace Pipeline.Tests.Reliability;

/// <summary>
/// RELIABILITY.md's "Faults injected" table counts what the tests run: for every row reproduced in this project,
/// the cases its filter selects (a fact is one, a theory one per row of its data) add up to the "tried" column.
/// </summary>
public sealed partial class FaultTableTests
{
    [Fact]
    public void RELIABILITY_md_counts_the_fault_cases_the_tests_run()
    {
        var rows = ReliabilityDocument.Text().Split('\n')
            .SkipWhile(l => l.TrimEnd() != "## Faults injected").Skip(1).TakeWhile(l => !l.StartsWith("## ", StringComparison.Ordinal))
            .Where(l => l.StartsWith('|')).Skip(2)
            .Select(l => CellBorder().Split(l).Select(cell => cell.Trim()).ToArray())
            .Where(cells => cells[4].Contains("tests/Pipeline.Tests ", StringComparison.Ordinal))
            .ToList();
        Assert.NotEmpty(rows);

        foreach (var cells in rows)
        {
            // "5 (each stage)", "1 (in one process) + 1 (two `run` processes)".
            var tried = cells[2].Split(" + ").Sum(part => int.Parse(LeadingNumber().Match(part).Value, System.Globalization.CultureInfo.InvariantCulture));
            var names = Filter().Matches(cells[4]).Select(m => m.Groups[1].Value).ToList();
            Assert.True(names.Count > 0, $"no FullyQualifiedName filter in the row '{cells[1]}'");
            var cases = typeof(FaultTableTests).Assembly.GetTypes()
                .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly))
                .Where(m => m.GetCustomAttribute<FactAttribute>() is not null && names.Any(n => m.Name.Contains(n, StringComparison.Ordinal)))
                .Sum(Cases);
            Assert.True(tried == cases, $"RELIABILITY.md says {tried} tried for '{cells[1]}'; its filter selects {cases} test cases");
        }
    }

    private static int Cases(MethodInfo test)
    {
        var data = test.GetCustomAttributes<MemberDataAttribute>().ToList();
        if (data.Count == 0) return test.GetCustomAttributes<InlineDataAttribute>().Count() is var inline and > 0 ? inline : 1;
        return data.Sum(d =>
        {
            var member = test.DeclaringType!.GetMember(d.MemberName, BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static).Single();
            var value = member switch
            {
                PropertyInfo property => property.GetValue(null),
                FieldInfo field => field.GetValue(null),
                MethodInfo method => method.Invoke(null, null),
                _ => null,
            };
            return ((IEnumerable)value!).Cast<object>().Count();
        });
    }

    // A "\|" inside a cell (an "or" in a test filter) is no cell border.
    [GeneratedRegex(@"(?<!\\)\|")]
    private static partial Regex CellBorder();

    [GeneratedRegex(@"^\d+")]
    private static partial Regex LeadingNumber();

    [GeneratedRegex(@"FullyQualifiedName~([A-Za-z0-9_]+)")]
    private static partial Regex Filter();
}
