using System.Text.RegularExpressions;

namespace Pipeline.Infra.Tests;

/// <summary>
/// Checks that cloudbuild.yaml builds, pushes and deploys every function (the chain and its watchdog), pushes nothing before the
/// tests have passed, and deploys to the services and service accounts Terraform creates.
/// </summary>
public static partial class CloudBuildCheck
{
    /// <summary>Where the images go: Artifact Registry, in the region and repository the substitutions name.</summary>
    public const string Repository = "${_REGION}-docker.pkg.dev/${PROJECT_ID}/${_REPOSITORY}/";

    /// <summary>Cloud Build substitutions and the Terraform variables whose defaults they must share.</summary>
    public static readonly IReadOnlyDictionary<string, string> SubstitutionVariables =
        new Dictionary<string, string> { ["_REGION"] = "region", ["_REPOSITORY"] = "artifact_repository" };

    public static IReadOnlyList<string> FindGaps(
        CloudBuildFile build, ChainDeclaration code, TerraformWiring wiring, TerraformConfiguration terraform)
    {
        var gaps = new List<string>();
        var steps = build.Steps;
        var ids = steps.Select((step, index) => step.Id ?? $"step {index + 1}").ToList();
        var after = RunsAfter(steps, ids, gaps);

        foreach (var (substitution, variable) in SubstitutionVariables)
        {
            var value = build.Substitutions.GetValueOrDefault(substitution);
            if (value is null || value != terraform.VariableDefault(variable))
                gaps.Add($"substitution {substitution} defaults to {value ?? "nothing"}, Terraform's {variable} to {terraform.VariableDefault(variable) ?? "nothing"}");
        }

        var tests = Enumerable.Range(0, steps.Count).Where(i => DotnetTest().IsMatch(CommandLine(steps[i]))).ToList();
        if (tests.Count == 0)
            gaps.Add("no step runs dotnet test");

        var pushes = Enumerable.Range(0, steps.Count).Where(i => IsDocker(steps[i], "push")).ToList();
        foreach (var push in pushes.Where(push => tests.Count > 0 && !tests.Any(test => after[push].Contains(test))))
            gaps.Add($"{ids[push]} pushes an image without waiting for the tests ({string.Join(", ", tests.Select(t => ids[t]))})");

        foreach (var function in code.Deployed)
        {
            var builds = Enumerable.Range(0, steps.Count)
                .Where(i => IsDocker(steps[i], "build") && Flags(steps[i].Args, "--build-arg").Contains($"FUNCTION={function.Stage}"))
                .ToList();
            if (builds is not [var buildStep])
            {
                gaps.Add($"{function.Stage}: {builds.Count} docker build steps pass --build-arg FUNCTION={function.Stage}; there must be one");
                continue;
            }

            var tag = Flags(steps[buildStep].Args, "--tag", "-t").FirstOrDefault(t => t.EndsWith(":$COMMIT_SHA", StringComparison.Ordinal) || t.EndsWith(":${COMMIT_SHA}", StringComparison.Ordinal));
            if (tag is null)
            {
                gaps.Add($"{ids[buildStep]} does not tag {function.Stage}'s image with $COMMIT_SHA");
                continue;
            }

            var image = tag[..tag.LastIndexOf(':')];
            if (!image.StartsWith(Repository, StringComparison.Ordinal))
                gaps.Add($"{ids[buildStep]} tags {image}, outside {Repository}");

            var service = wiring.Services.FirstOrDefault(service => service.Stage == function.Stage);
            if (service is not null && service.ImageName != image[(image.LastIndexOf('/') + 1)..])
                gaps.Add($"{ids[buildStep]} builds image {image}, but Terraform gives {service.Address} image {service.ImageName ?? "(unreadable)"}");

            var push = pushes.Where(push => Positional(steps[push].Args).Skip(1).Any(pushed => pushed == tag || (pushed == image && steps[push].Args.Contains("--all-tags")))).ToList();
            if (push.Count == 0)
                gaps.Add($"{function.Stage}'s image {tag} is never pushed");
            foreach (var p in push.Where(p => !after[p].Contains(buildStep)))
                gaps.Add($"{ids[p]} pushes {function.Stage}'s image without waiting for {ids[buildStep]}, which builds it");

            if (service is null)
                continue; // WiringCheck reports a function without a service.

            var deploys = Enumerable.Range(0, steps.Count)
                .Where(i => Deploys(steps[i]) == service.Name)
                .ToList();
            if (deploys.Count == 0)
                gaps.Add($"{function.Stage} is never deployed: no step runs gcloud run deploy {service.Name}");
            foreach (var deploy in deploys)
            {
                var args = steps[deploy].Args;
                if (Flags(args, "--image").SingleOrDefault() != tag)
                    gaps.Add($"{ids[deploy]} deploys {string.Join(", ", Flags(args, "--image"))} to {service.Name}, not {tag}");
                if (!push.Any(p => after[deploy].Contains(p)))
                    gaps.Add($"{ids[deploy]} deploys {function.Stage} without waiting for its image to be pushed");
                if (!Flags(args, "--region").SequenceEqual(["${_REGION}"]))
                    gaps.Add($"{ids[deploy]} deploys {function.Stage} outside --region=${{_REGION}}");

                string[] account = [$"{service.AccountId}@${{PROJECT_ID}}.iam.gserviceaccount.com", $"{service.AccountId}@$PROJECT_ID.iam.gserviceaccount.com"];
                if (service.AccountId is null || !account.Contains(Flags(args, "--service-account").SingleOrDefault()))
                    gaps.Add($"{ids[deploy]} deploys {function.Stage} with --service-account={string.Join(", ", Flags(args, "--service-account"))}, but Terraform runs it as {service.AccountId ?? "(unreadable)"}");
            }
        }

        return gaps;
    }

    /// <summary>For each step, every step that has finished before it starts (Cloud Build's waitFor rules, transitively).</summary>
    private static List<HashSet<int>> RunsAfter(List<CloudBuildStep> steps, List<string> ids, List<string> gaps)
    {
        var after = new List<HashSet<int>>();
        for (var i = 0; i < steps.Count; i++)
        {
            IEnumerable<int> direct = steps[i].WaitFor switch
            {
                null => Enumerable.Range(0, i),
                ["-"] => [],
                var waitFor => waitFor.Select(id =>
                {
                    var index = ids.IndexOf(id);
                    if (index < 0 || index >= i)
                        gaps.Add($"{ids[i]} waits for {id}, which is not a step before it");
                    return index;
                }).Where(index => index >= 0 && index < i),
            };
            var all = new HashSet<int>();
            foreach (var d in direct)
            {
                all.Add(d);
                all.UnionWith(after[d]);
            }

            after.Add(all);
        }

        return after;
    }

    private static string CommandLine(CloudBuildStep step) =>
        string.Join(' ', new[] { step.Entrypoint, step.Script }.Concat(step.Args).Where(part => part is not null));

    private static bool IsDocker(CloudBuildStep step, string command) =>
        step.Name.EndsWith("/docker", StringComparison.Ordinal) && step.Entrypoint is null && step.Args.FirstOrDefault() == command;

    /// <summary>The service a <c>gcloud run deploy SERVICE …</c> step deploys, or null.</summary>
    private static string? Deploys(CloudBuildStep step) =>
        step.Entrypoint == "gcloud" && Positional(step.Args) is ["run", "deploy", var service, ..] ? service : null;

    /// <summary>The values of a flag, given as <c>--flag=value</c> or <c>--flag value</c>.</summary>
    private static List<string> Flags(List<string> args, params string[] names)
    {
        var values = new List<string>();
        for (var i = 0; i < args.Count; i++)
        {
            foreach (var name in names)
            {
                if (args[i].StartsWith(name + "=", StringComparison.Ordinal))
                    values.Add(args[i][(name.Length + 1)..]);
                else if (args[i] == name && i + 1 < args.Count)
                    values.Add(args[i + 1]);
            }
        }

        return values;
    }

    /// <summary>The arguments that are not flags nor flag values (a flag's value is taken as given with '=').</summary>
    private static List<string> Positional(List<string> args) => args.Where(arg => !arg.StartsWith('-')).ToList();

    [GeneratedRegex(@"\bdotnet\s+test\b")]
    private static partial Regex DotnetTest();
}
