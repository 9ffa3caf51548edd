using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Pipeline.Infra.Tests;

/// <summary>A function's Cloud Run service, read from Terraform (its for_each key is the stage name).</summary>
public sealed record FunctionService(
    string Stage,
    string Address,
    string? Name,
    string? ServiceAccountAddress,
    string? AccountId,
    string? ImageName,
    IReadOnlyDictionary<string, string> Environment);

/// <summary>A push subscription: the topic it reads and the Cloud Run service it delivers to.</summary>
public sealed record PushSubscription(
    string Address,
    string? Name,
    string? TopicAddress,
    string? ServiceAddress,
    bool HasOidcToken,
    int? AckDeadlineSeconds,
    bool HasRetryPolicy,
    string? DeadLetterTopicAddress);

/// <summary>A grant of roles/pubsub.publisher on one topic.</summary>
public sealed record PublisherGrant(string Address, string? TopicAddress, string? MemberAddress);

/// <summary>
/// The pipeline's wiring as Terraform declares it: topics by their name without the deployment's prefix, the
/// functions' services, push subscriptions, publisher grants and what the schedule publishes to. Whatever could
/// not be read is listed in <see cref="Problems"/>.
/// </summary>
public sealed partial record TerraformWiring(
    IReadOnlyDictionary<string, string> Topics,
    IReadOnlyList<FunctionService> Services,
    IReadOnlyList<PushSubscription> Subscriptions,
    IReadOnlyList<PublisherGrant> PublisherGrants,
    IReadOnlyList<string?> ScheduledTopicAddresses,
    IReadOnlyList<string> Problems)
{
    public const string TopicPrefix = "${var.topic_prefix}";

    public static TerraformWiring Read(TerraformConfiguration terraform)
    {
        var problems = new List<string>();

        var topics = new Dictionary<string, string>();
        foreach (var topic in terraform.Instances("google_pubsub_topic", problems))
        {
            var name = topic.Text("name");
            if (name is null || !name.StartsWith(TopicPrefix, StringComparison.Ordinal) || name.IndexOf("${", TopicPrefix.Length, StringComparison.Ordinal) >= 0)
                problems.Add($"{topic.Address} is named {name ?? "(nothing)"}: a topic's name must be {TopicPrefix} followed by a literal name");
            else
                topics[name[TopicPrefix.Length..]] = topic.Address;
        }

        var accounts = terraform.Instances("google_service_account", problems)
            .ToDictionary(account => account.Address, account => account.Text("account_id"));

        var services = new List<FunctionService>();
        foreach (var service in terraform.Instances("google_cloud_run_v2_service", problems))
        {
            if (service.Key is null)
            {
                problems.Add($"{service.Address} is not one of the functions' services: they are declared with for_each, keyed by stage");
                continue;
            }

            var accountAddress = ResourceInstance.ReferencedAddress(service.Text("template", "service_account"));
            services.Add(new FunctionService(
                service.Key,
                service.Address,
                service.Text("name"),
                accountAddress,
                accountAddress is not null ? accounts.GetValueOrDefault(accountAddress) : null,
                service.Text("template", "containers", "image") is { } image && ImageName().Match(image) is { Success: true } match
                    ? match.Groups["name"].Value
                    : null,
                Environment(service, terraform.Locals)));
        }

        var subscriptions = terraform.Instances("google_pubsub_subscription", problems)
            .Where(subscription => subscription.Node("push_config") is not null)
            .Select(subscription => new PushSubscription(
                subscription.Address,
                subscription.Text("name"),
                ResourceInstance.ReferencedAddress(subscription.Text("topic")),
                ResourceInstance.ReferencedAddress(subscription.Text("push_config", "push_endpoint")),
                !string.IsNullOrEmpty(subscription.Text("push_config", "oidc_token", "service_account_email")),
                int.TryParse(subscription.Text("ack_deadline_seconds"), out var deadline) ? deadline : null,
                subscription.Node("retry_policy") is not null,
                ResourceInstance.ReferencedAddress(subscription.Text("dead_letter_policy", "dead_letter_topic"))))
            .ToList();

        var grants = terraform.Instances("google_pubsub_topic_iam_member", problems)
            .Where(grant => grant.Text("role") == "roles/pubsub.publisher")
            .Select(grant => new PublisherGrant(
                grant.Address,
                ResourceInstance.ReferencedAddress(grant.Text("topic")),
                ResourceInstance.ReferencedAddress(grant.Text("member"))))
            .ToList();
        foreach (var binding in terraform.Instances("google_pubsub_topic_iam_binding", problems))
            problems.Add($"{binding.Address}: use google_pubsub_topic_iam_member; a binding replaces every other holder of the role");

        var scheduled = terraform.Instances("google_cloud_scheduler_job", problems)
            .Select(job => ResourceInstance.ReferencedAddress(job.Text("pubsub_target", "topic_name")))
            .ToList();

        return new TerraformWiring(topics, services, subscriptions, grants, scheduled, problems);
    }

    /// <summary>The container's env: static env blocks, and a dynamic env block over locals that are literal maps.</summary>
    private static Dictionary<string, string> Environment(ResourceInstance service, JsonObject locals)
    {
        var environment = new Dictionary<string, string>();
        var container = service.Node("template", "containers");
        foreach (var env in container?["env"]?.AsArray().OfType<JsonObject>() ?? [])
        {
            if (env["name"]?.ToString() is { } name)
                environment[name] = env["value"]?.ToString() ?? "";
        }

        if (container?["dynamic"]?["env"]?.AsArray().FirstOrDefault()?["for_each"]?.ToString() is { } forEach)
        {
            foreach (Match reference in LocalReference().Matches(forEach))
            {
                foreach (var (name, value) in locals[reference.Groups["name"].Value] as JsonObject ?? [])
                    environment[name] = value?.ToString() ?? "";
            }
        }

        return environment;
    }

    // The image a service is given when image_tag is set: ".../<name>:${var.image_tag}".
    [GeneratedRegex(@"/(?<name>[a-z0-9][a-z0-9._-]*):\$\{var\.image_tag\}")]
    private static partial Regex ImageName();

    [GeneratedRegex(@"\blocal\.(?<name>\w+)\b")]
    private static partial Regex LocalReference();
}
