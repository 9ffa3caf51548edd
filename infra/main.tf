# The pipeline's wiring, in one place. The code is the source of truth: these names must match
# shared/Pipeline.Core/Topics.cs and the [PipelineFunction] attribute on each functions/<Stage>/Function.cs.
# tests/Pipeline.Infra.Tests parses this directory and fails when the two drift apart.
#
# The resources live in files by concern: apis.tf, artifact_registry.tf, bigquery.tf, storage.tf, pubsub.tf,
# iam.tf, run.tf, scheduler.tf.

locals {
  # Every topic of the chain (CONTRACT.md, "Topics"), without the deployment's prefix.
  topics = [
    "segmentation-trigger",
    "stats-ready",
    "model-trained",
    "predictions-ready",
    "chart-rendered",
    "run-completed",
    "run-failed",
  ]

  # Every stage publishes here on a permanent failure, besides its own output topic.
  failure_topic = "run-failed"

  # Where undeliverable messages go, after max_delivery_attempts.
  dead_letter_topic = "segmentation-dead-letter"

  # One entry per function, keyed by its stage name. service, account_id and image are the names
  # cloudbuild.yaml deploys to; bigquery and vertex_ai say which of those services the function's
  # service account may use.
  functions = {
    BuildStats = {
      service      = "segmentation-build-stats"
      account_id   = "seg-build-stats"
      image        = "build-stats"
      triggered_by = "segmentation-trigger"
      publishes    = "stats-ready"
      bigquery     = true
      vertex_ai    = false
    }
    TrainModel = {
      service      = "segmentation-train-model"
      account_id   = "seg-train-model"
      image        = "train-model"
      triggered_by = "stats-ready"
      publishes    = "model-trained"
      bigquery     = true
      vertex_ai    = false
    }
    Predict = {
      service      = "segmentation-predict"
      account_id   = "seg-predict"
      image        = "predict"
      triggered_by = "model-trained"
      publishes    = "predictions-ready"
      bigquery     = true
      vertex_ai    = false
    }
    RenderChart = {
      service      = "segmentation-render-chart"
      account_id   = "seg-render-chart"
      image        = "render-chart"
      triggered_by = "predictions-ready"
      publishes    = "chart-rendered"
      bigquery     = true
      vertex_ai    = false
    }
    GenerateCampaign = {
      service      = "segmentation-generate-campaign"
      account_id   = "seg-generate-campaign"
      image        = "generate-campaign"
      triggered_by = "chart-rendered"
      publishes    = "run-completed"
      bigquery     = false
      vertex_ai    = true
    }
  }

  bucket_name = coalesce(var.bucket_name, "${var.project_id}-segmentation")

  # <region>-docker.pkg.dev/<project>/<repository>: cloudbuild.yaml tags the images the same way.
  image_repository = "${google_artifact_registry_repository.images.location}-docker.pkg.dev/${var.project_id}/${google_artifact_registry_repository.images.repository_id}"

  # The configuration every function reads (environment variables bound by the options classes).
  function_env = {
    Pipeline__Backend          = "Gcp"
    Pipeline__TopicPrefix      = var.topic_prefix
    Pipeline__StageWaitSeconds = tostring(var.stage_wait_seconds)
    Gcp__ProjectId             = var.project_id
    Gcp__Location              = var.bigquery_location
    Gcp__Dataset               = google_bigquery_dataset.pipeline.dataset_id
    Gcp__Bucket                = google_storage_bucket.pipeline.name
    Gcp__SourceTable           = var.source_table
    Gcp__VertexLocation        = var.vertex_location
    Campaign__Writer           = var.campaign_writer
  }

  # Settings the code has its own default for are passed only when set: an empty variable would override it.
  optional_function_env = {
    for name, value in { Campaign__Model = var.campaign_model } : name => value if value != null
  }
}

data "google_project" "this" {
  project_id = var.project_id
}
