resource "google_storage_bucket" "pipeline" {
  name     = local.bucket_name
  location = var.bucket_location

  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = var.force_destroy

  versioning {
    enabled = var.bucket_versioning
  }

  # Old runs go; latest.json and whatever else lives outside runs/ stays.
  dynamic "lifecycle_rule" {
    for_each = var.run_retention_days > 0 ? [var.run_retention_days] : []
    content {
      condition {
        age            = lifecycle_rule.value
        matches_prefix = ["runs/"]
      }
      action {
        type = "Delete"
      }
    }
  }

  # With versioning on, overwritten and deleted objects linger as noncurrent versions; drop them after a week.
  dynamic "lifecycle_rule" {
    for_each = var.bucket_versioning ? [7] : []
    content {
      condition {
        days_since_noncurrent_time = lifecycle_rule.value
        with_state                 = "ARCHIVED"
      }
      action {
        type = "Delete"
      }
    }
  }

  depends_on = [google_project_service.pipeline]
}

# Where gcloud builds submit uploads the source (--gcs-source-staging-dir), readable by the Cloud Build
# service account. Uploads are only needed while a build runs.
resource "google_storage_bucket" "build_source" {
  name     = "${local.bucket_name}-build-source"
  location = var.bucket_location

  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = true

  lifecycle_rule {
    condition {
      age = 7
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_project_service.pipeline]
}
