output "bucket" {
  description = "The bucket the pipeline writes its outputs to (runs/{run_id}/…, latest.json)."
  value       = google_storage_bucket.pipeline.name
}

output "bucket_url" {
  description = "The bucket, as gcloud storage addresses it."
  value       = google_storage_bucket.pipeline.url
}

output "dataset" {
  description = "The BigQuery dataset of the per-run tables and models (project:dataset)."
  value       = "${var.project_id}:${google_bigquery_dataset.pipeline.dataset_id}"
}

output "topics" {
  description = "Every topic of the chain: its name in the code => its name in Pub/Sub (with the prefix)."
  value       = { for topic, resource in google_pubsub_topic.chain : topic => resource.name }
}

output "trigger_topic" {
  description = "The topic that starts a run (gcloud pubsub topics publish <this> --message='{}')."
  value       = google_pubsub_topic.chain["segmentation-trigger"].name
}

output "dead_letter_subscription" {
  description = "Pull subscription holding the messages no function could take."
  value       = google_pubsub_subscription.dead_letter.name
}

output "service_urls" {
  description = "Each function's Cloud Run service URL, by stage."
  value       = { for stage, service in google_cloud_run_v2_service.function : stage => service.uri }
}

output "service_accounts" {
  description = "Each function's service account e-mail, by stage."
  value       = { for stage, account in google_service_account.function : stage => account.email }
}

output "image_repository" {
  description = "Where cloudbuild.yaml pushes the images (<region>-docker.pkg.dev/<project>/<repository>)."
  value       = local.image_repository
}

output "cloud_build_service_account" {
  description = "The service account to run cloudbuild.yaml as (projects/…/serviceAccounts/…, for --service-account)."
  value       = google_service_account.cloud_build.id
}

output "build_source_staging_dir" {
  description = "Where gcloud builds submit should upload the source (--gcs-source-staging-dir)."
  value       = "${google_storage_bucket.build_source.url}/source"
}
