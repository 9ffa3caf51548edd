# The watchdog (functions/RunWatchdog): no run stays "running" without anyone being told. It takes the
# dead-letter topic by push — a message Pub/Sub gave up on after max_delivery_attempts fails its run in the
# stage it was for — and the stalled-run sweep the schedule below publishes there, which fails every run still
# running stalled_run_seconds after it started. Either way the manifest records the stage, the attempts and the
# last error, and run-failed is published once. The pull subscription in pubsub.tf keeps a copy of every dead
# letter for people to read.
locals {
  # Keyed by the function's name, as local.functions is keyed by stage; the same names as cloudbuild.yaml.
  watchdog = {
    RunWatchdog = {
      service    = "segmentation-run-watchdog"
      account_id = "seg-run-watchdog"
      image      = "run-watchdog"
    }
  }
}

resource "google_service_account" "watchdog" {
  for_each = local.watchdog

  account_id   = each.value.account_id
  display_name = "Segmentation ${each.key}"
  description  = "Fails customer-segmentation runs that Pub/Sub gave up on or that stalled, and announces them on run-failed."
}

# It lists runs/ and updates manifests; it needs neither BigQuery nor Vertex AI.
resource "google_storage_bucket_iam_member" "watchdog_objects" {
  for_each = local.watchdog

  bucket = google_storage_bucket.pipeline.name
  role   = "roles/storage.objectAdmin"
  member = google_service_account.watchdog[each.key].member
}

resource "google_pubsub_topic_iam_member" "watchdog_publishes_failure" {
  for_each = local.watchdog

  topic  = google_pubsub_topic.chain[local.failure_topic].name
  role   = "roles/pubsub.publisher"
  member = google_service_account.watchdog[each.key].member
}

resource "google_cloud_run_v2_service" "watchdog" {
  for_each = local.watchdog

  name                = each.value.service
  location            = var.region
  description         = "Fails runs whose messages ${var.topic_prefix}${local.dead_letter_topic} receives, and stalled runs."
  ingress             = var.ingress
  deletion_protection = var.deletion_protection

  template {
    service_account = google_service_account.watchdog[each.key].email
    timeout         = "600s"

    max_instance_request_concurrency = 1

    scaling {
      min_instance_count = 0
      max_instance_count = 1
    }

    containers {
      image = var.image_tag == null ? var.placeholder_image : "${local.image_repository}/${each.value.image}:${var.image_tag}"

      ports {
        container_port = 8080
      }

      resources {
        limits = {
          cpu    = "1"
          memory = "512Mi"
        }
        cpu_idle = true
      }

      dynamic "env" {
        for_each = merge(local.function_env, local.optional_function_env, local.watchdog_env)
        content {
          name  = env.key
          value = env.value
        }
      }
    }
  }

  lifecycle {
    ignore_changes = [
      client,
      client_version,
      template[0].containers[0].image,
    ]
  }

  depends_on = [google_project_service.pipeline]
}

locals {
  watchdog_env = {
    Pipeline__StalledRunSeconds = tostring(var.stalled_run_seconds)
  }
}

resource "google_cloud_run_v2_service_iam_member" "watchdog_invoker" {
  for_each = local.watchdog

  name     = google_cloud_run_v2_service.watchdog[each.key].name
  location = google_cloud_run_v2_service.watchdog[each.key].location
  role     = "roles/run.invoker"
  member   = google_service_account.push_invoker.member
}

# No dead-letter policy here: this is where undeliverable messages end. A watchdog that keeps failing is
# retried with backoff for the retention period, and the pull subscription keeps the message meanwhile.
resource "google_pubsub_subscription" "watchdog" {
  for_each = local.watchdog

  name  = "${var.topic_prefix}${each.value.image}-push"
  topic = google_pubsub_topic.dead_letter.id

  ack_deadline_seconds       = 600
  message_retention_duration = "604800s"

  push_config {
    push_endpoint = google_cloud_run_v2_service.watchdog[each.key].uri

    oidc_token {
      service_account_email = google_service_account.push_invoker.email
      audience              = google_cloud_run_v2_service.watchdog[each.key].uri
    }
  }

  retry_policy {
    minimum_backoff = var.minimum_backoff
    maximum_backoff = var.maximum_backoff
  }

  expiration_policy {
    ttl = ""
  }

  depends_on = [google_cloud_run_v2_service_iam_member.watchdog_invoker]
}

# The sweep: a message with the "sweep" attribute on the dead-letter topic, which the watchdog reads as
# "fail every run stalled past stalled_run_seconds".
resource "google_cloud_scheduler_job" "stalled_run_sweep" {
  name        = "${replace(var.topic_prefix, "/[^A-Za-z0-9_-]/", "-")}segmentation-stalled-run-sweep"
  region      = var.region
  description = "Fails customer-segmentation runs still running after stalled_run_seconds, and announces them on run-failed."
  schedule    = var.sweep_schedule
  time_zone   = "Etc/UTC"

  pubsub_target {
    topic_name = google_pubsub_topic.dead_letter.id
    data       = base64encode(jsonencode({ sweep = "stalled_runs" }))
    attributes = {
      sweep = "stalled-runs"
    }
  }

  depends_on = [google_project_service.pipeline]
}

# Cloud Build rolls new revisions out to the watchdog too (cloudbuild.yaml).
resource "google_cloud_run_v2_service_iam_member" "cloud_build_deploys_watchdog" {
  for_each = local.watchdog

  name     = google_cloud_run_v2_service.watchdog[each.key].name
  location = google_cloud_run_v2_service.watchdog[each.key].location
  role     = "roles/run.developer"
  member   = google_service_account.cloud_build.member
}

resource "google_service_account_iam_member" "cloud_build_acts_as_watchdog" {
  for_each = local.watchdog

  service_account_id = google_service_account.watchdog[each.key].name
  role               = "roles/iam.serviceAccountUser"
  member             = google_service_account.cloud_build.member
}
