# One Cloud Run service per function. Terraform owns each service's configuration (service account, env,
# scaling, ingress, who may invoke it); cloudbuild.yaml owns the image: it deploys every new commit's image,
# and Terraform does not roll it back (see ignore_changes).
resource "google_cloud_run_v2_service" "function" {
  for_each = local.functions

  name                = each.value.service
  location            = var.region
  description         = "The ${each.key} stage of the customer-segmentation pipeline, pushed to by ${var.topic_prefix}${each.value.triggered_by}."
  ingress             = var.ingress
  deletion_protection = var.deletion_protection

  template {
    service_account = google_service_account.function[each.key].email

    # As long as Pub/Sub waits for an answer; a stage answers within stage_wait_seconds.
    timeout = "600s"

    # A stage holds a whole run's data in memory while it works, so one delivery per instance.
    max_instance_request_concurrency = 1

    scaling {
      min_instance_count = 0
      max_instance_count = var.max_instances
    }

    containers {
      image = var.image_tag == null ? var.placeholder_image : "${local.image_repository}/${each.value.image}:${var.image_tag}"

      ports {
        container_port = 8080
      }

      resources {
        limits = {
          cpu    = var.cpu
          memory = var.memory
        }
        cpu_idle          = true
        startup_cpu_boost = true
      }

      dynamic "env" {
        for_each = merge(local.function_env, local.optional_function_env)
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
