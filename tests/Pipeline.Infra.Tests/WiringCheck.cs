namespace Pipeline.Infra.Tests;

/// <summary>
/// Compares the chain the code declares with the one Terraform deploys, and lists every difference, each
/// naming the topic, stage or resource at fault. An empty list means they agree.
/// </summary>
public static class WiringCheck
{
    /// <summary>Push deliveries wait this long for an answer: the most Pub/Sub allows, and what the stages plan for.</summary>
    public const int AckDeadlineSeconds = 600;

    public static IReadOnlyList<string> FindDrift(ChainDeclaration code, TerraformWiring terraform)
    {
        var drift = new List<string>(terraform.Problems);
        string Describe(string? topicAddress) =>
            terraform.Topics.FirstOrDefault(topic => topic.Value == topicAddress).Key is { } name ? $"\"{name}\""
            : topicAddress is null ? "no topic"
            : $"{topicAddress} (not a topic Terraform declares)";

        foreach (var topic in code.Topics.Where(topic => !terraform.Topics.ContainsKey(topic)))
            drift.Add($"topic \"{topic}\" (Topics.All) has no google_pubsub_topic named {TerraformWiring.TopicPrefix}{topic}");
        foreach (var topic in terraform.Topics.Keys.Where(topic => !code.Topics.Contains(topic) && topic != code.DeadLetterTopic))
            drift.Add($"Terraform declares topic \"{topic}\" ({terraform.Topics[topic]}), which is not in Topics.All");
        var deadLetter = terraform.Topics.GetValueOrDefault(code.DeadLetterTopic);
        if (deadLetter is null)
            drift.Add($"there is no dead-letter topic named {TerraformWiring.TopicPrefix}{code.DeadLetterTopic}");

        if (terraform.Topics.GetValueOrDefault(code.TriggerTopic) is { } trigger && !terraform.ScheduledTopicAddresses.Contains(trigger))
            drift.Add($"no Cloud Scheduler job publishes to the trigger topic \"{code.TriggerTopic}\"");

        foreach (var function in code.Functions)
        {
            if (terraform.Services.FirstOrDefault(service => service.Stage == function.Stage) is not { } service)
            {
                drift.Add($"{function.Stage} has no Cloud Run service (google_cloud_run_v2_service keyed \"{function.Stage}\")");
                continue;
            }

            if (service.Environment.GetValueOrDefault("Pipeline__TopicPrefix") != TerraformWiring.TopicPrefix)
                drift.Add($"{service.Address} does not pass Pipeline__TopicPrefix = {TerraformWiring.TopicPrefix}, so {function.Stage} would publish to other topics than Terraform creates");
            if (service.Environment.GetValueOrDefault("Pipeline__Backend") != "Gcp")
                drift.Add($"{service.Address} does not set Pipeline__Backend = Gcp");

            var triggeredBy = terraform.Topics.GetValueOrDefault(function.TriggeredBy);
            var subscriptions = terraform.Subscriptions.Where(subscription => subscription.ServiceAddress == service.Address).ToList();
            if (subscriptions.Count == 0)
                drift.Add($"no push subscription delivers to {function.Stage}'s service {service.Address}");
            foreach (var subscription in subscriptions)
            {
                if (triggeredBy is null || subscription.TopicAddress != triggeredBy)
                    drift.Add($"{subscription.Address} delivers {Describe(subscription.TopicAddress)} to {function.Stage}, which is triggered by \"{function.TriggeredBy}\"");
                if (subscription.Name?.StartsWith(TerraformWiring.TopicPrefix, StringComparison.Ordinal) != true)
                    drift.Add($"{subscription.Address} is named {subscription.Name}, without {TerraformWiring.TopicPrefix}");
                if (!subscription.HasOidcToken)
                    drift.Add($"{subscription.Address} pushes without an OIDC token, which {function.Stage}'s service requires");
                if (subscription.AckDeadlineSeconds != AckDeadlineSeconds)
                    drift.Add($"{subscription.Address} has an acknowledgement deadline of {subscription.AckDeadlineSeconds?.ToString() ?? "(default)"} s, not {AckDeadlineSeconds} s");
                if (!subscription.HasRetryPolicy)
                    drift.Add($"{subscription.Address} has no retry policy, so failed deliveries are retried without backoff");
                if (deadLetter is null || subscription.DeadLetterTopicAddress != deadLetter)
                    drift.Add($"{subscription.Address} does not dead-letter to \"{code.DeadLetterTopic}\"");
            }

            if (service.ServiceAccountAddress is null)
            {
                drift.Add($"{service.Address} does not run as a service account of its own");
                continue;
            }

            var granted = terraform.PublisherGrants
                .Where(grant => grant.MemberAddress == service.ServiceAccountAddress)
                .Select(grant => grant.TopicAddress)
                .ToHashSet();
            foreach (var topic in new[] { function.Publishes, code.FailureTopic }.Distinct())
            {
                if (terraform.Topics.GetValueOrDefault(topic) is not { } address || !granted.Contains(address))
                    drift.Add($"{function.Stage}'s service account {service.ServiceAccountAddress} may not publish to \"{topic}\"");
            }

            var allowed = new[] { function.Publishes, code.FailureTopic }.Select(terraform.Topics.GetValueOrDefault).ToHashSet();
            foreach (var extra in granted.Where(topic => !allowed.Contains(topic)))
                drift.Add($"{function.Stage}'s service account {service.ServiceAccountAddress} may also publish to {Describe(extra)}, which it does not publish to");
        }

        drift.AddRange(WatchdogDrift(code, terraform, deadLetter));

        foreach (var service in terraform.Services.Where(service => code.Deployed.All(function => function.Stage != service.Stage)))
            drift.Add($"{service.Address} is the service of stage \"{service.Stage}\", which the code does not have");

        return drift;
    }

    /// <summary>
    /// The watchdog takes the dead-letter topic by push (and must not dead-letter itself), may publish to run-failed
    /// only, and a schedule sends it the stalled-run sweep.
    /// </summary>
    private static IEnumerable<string> WatchdogDrift(ChainDeclaration code, TerraformWiring terraform, string? deadLetter)
    {
        var watchdog = code.Watchdog;
        if (terraform.Services.FirstOrDefault(service => service.Stage == watchdog.Stage) is not { } service)
        {
            yield return $"{watchdog.Stage} has no Cloud Run service (a google_cloud_run_v2_service keyed \"{watchdog.Stage}\")";
            yield break;
        }
        if (service.Environment.GetValueOrDefault("Pipeline__TopicPrefix") != TerraformWiring.TopicPrefix)
            yield return $"{service.Address} does not pass Pipeline__TopicPrefix = {TerraformWiring.TopicPrefix}, so {watchdog.Stage} would publish to other topics than Terraform creates";
        if (service.Environment.GetValueOrDefault("Pipeline__Backend") != "Gcp")
            yield return $"{service.Address} does not set Pipeline__Backend = Gcp";

        var subscriptions = terraform.Subscriptions.Where(subscription => subscription.ServiceAddress == service.Address).ToList();
        if (subscriptions.Count == 0)
            yield return $"no push subscription delivers the dead-letter topic to {watchdog.Stage}'s service {service.Address}";
        foreach (var subscription in subscriptions)
        {
            if (deadLetter is null || subscription.TopicAddress != deadLetter)
                yield return $"{subscription.Address} delivers {subscription.TopicAddress ?? "no topic"} to {watchdog.Stage}, which is triggered by \"{watchdog.TriggeredBy}\"";
            if (!subscription.HasOidcToken)
                yield return $"{subscription.Address} pushes without an OIDC token, which {watchdog.Stage}'s service requires";
            if (subscription.AckDeadlineSeconds != AckDeadlineSeconds)
                yield return $"{subscription.Address} has an acknowledgement deadline of {subscription.AckDeadlineSeconds?.ToString() ?? "(default)"} s, not {AckDeadlineSeconds} s";
            if (!subscription.HasRetryPolicy)
                yield return $"{subscription.Address} has no retry policy, so failed deliveries are retried without backoff";
            if (subscription.DeadLetterTopicAddress is not null)
                yield return $"{subscription.Address} dead-letters the dead-letter topic's messages to {subscription.DeadLetterTopicAddress}: the watchdog is where they end";
        }

        if (deadLetter is not null && !terraform.ScheduledTopicAddresses.Contains(deadLetter))
            yield return $"no Cloud Scheduler job sends the stalled-run sweep to the dead-letter topic \"{code.DeadLetterTopic}\"";

        if (service.ServiceAccountAddress is null)
        {
            yield return $"{service.Address} does not run as a service account of its own";
            yield break;
        }
        var granted = terraform.PublisherGrants.Where(grant => grant.MemberAddress == service.ServiceAccountAddress).Select(grant => grant.TopicAddress).ToList();
        var failure = terraform.Topics.GetValueOrDefault(watchdog.Publishes);
        if (failure is null || !granted.Contains(failure))
            yield return $"{watchdog.Stage}'s service account {service.ServiceAccountAddress} may not publish to \"{watchdog.Publishes}\"";
        foreach (var extra in granted.Where(topic => topic != failure))
            yield return $"{watchdog.Stage}'s service account {service.ServiceAccountAddress} may also publish to {extra}, which it does not publish to";
    }
}
