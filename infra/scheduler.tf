# Publishes the trigger message on a schedule, as a person would with gcloud pubsub topics publish.
# Cloud Scheduler publishes as its own service agent, which holds the right to publish in the project.
resource "google_cloud_scheduler_job" "trigger" {
  name        = "${replace(var.topic_prefix, "/[^A-Za-z0-9_-]/", "-")}segmentation-schedule"
  region      = var.region
  description = "Starts a customer-segmentation run."
  schedule    = var.schedule
  time_zone   = var.schedule_time_zone
  paused      = var.schedule_paused

  pubsub_target {
    topic_name = google_pubsub_topic.chain["segmentation-trigger"].id
    data       = base64encode(jsonencode(var.trigger_message))
  }

  depends_on = [google_project_service.pipeline]
}
