resource "google_pubsub_topic" "chain" {
  for_each = toset(local.topics)

  name = "${var.topic_prefix}${each.key}"

  depends_on = [google_project_service.pipeline]
}

# Messages a function could not take after max_delivery_attempts land here; the pull subscription keeps
# them for a week so that someone can read them (gcloud pubsub subscriptions pull).
resource "google_pubsub_topic" "dead_letter" {
  name = "${var.topic_prefix}${local.dead_letter_topic}"

  depends_on = [google_project_service.pipeline]
}

resource "google_pubsub_subscription" "dead_letter" {
  name  = "${var.topic_prefix}${local.dead_letter_topic}"
  topic = google_pubsub_topic.dead_letter.id

  message_retention_duration = "604800s"

  expiration_policy {
    ttl = ""
  }
}

# One push subscription per function: its trigger topic, delivered to its Cloud Run service with an OIDC
# token of the invoker account. Non-2xx answers (transient failures, and stages still waiting on a
# BigQuery job) are retried with backoff, then dead-lettered.
resource "google_pubsub_subscription" "push" {
  for_each = local.functions

  name  = "${var.topic_prefix}${each.value.image}-push"
  topic = google_pubsub_topic.chain[each.value.triggered_by].id

  # The longest Pub/Sub allows; a stage answers within stage_wait_seconds, below it.
  ack_deadline_seconds       = 600
  message_retention_duration = "604800s"

  push_config {
    push_endpoint = google_cloud_run_v2_service.function[each.key].uri

    oidc_token {
      service_account_email = google_service_account.push_invoker.email
      audience              = google_cloud_run_v2_service.function[each.key].uri
    }
  }

  retry_policy {
    minimum_backoff = var.minimum_backoff
    maximum_backoff = var.maximum_backoff
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter.id
    max_delivery_attempts = var.max_delivery_attempts
  }

  # Runs may be weeks apart; a subscription must not expire for want of traffic.
  expiration_policy {
    ttl = ""
  }

  depends_on = [
    google_cloud_run_v2_service_iam_member.push_invoker,
    google_pubsub_topic_iam_member.dead_letter_publisher,
  ]
}
