# One service account per function, holding only what that function uses:
#   - the bucket: object admin, on the bucket only (every stage writes its manifest entry);
#   - BigQuery (the warehouse stages): data editor on the pipeline's dataset only, and job user, which
#     BigQuery grants per project only (jobs run in the project, not in a dataset);
#   - Vertex AI user (GenerateCampaign only);
#   - Pub/Sub publisher on its own output topic and on run-failed, nothing else.
resource "google_service_account" "function" {
  for_each = local.functions

  account_id   = each.value.account_id
  display_name = "Segmentation ${each.key}"
  description  = "Runs the ${each.key} function of the customer-segmentation pipeline."
}

resource "google_storage_bucket_iam_member" "function_objects" {
  for_each = local.functions

  bucket = google_storage_bucket.pipeline.name
  role   = "roles/storage.objectAdmin"
  member = google_service_account.function[each.key].member
}

resource "google_bigquery_dataset_iam_member" "function_data" {
  for_each = { for stage, function in local.functions : stage => function if function.bigquery }

  dataset_id = google_bigquery_dataset.pipeline.dataset_id
  role       = "roles/bigquery.dataEditor"
  member     = google_service_account.function[each.key].member
}

resource "google_project_iam_member" "function_jobs" {
  for_each = { for stage, function in local.functions : stage => function if function.bigquery }

  project = var.project_id
  role    = "roles/bigquery.jobUser"
  member  = google_service_account.function[each.key].member
}

resource "google_project_iam_member" "function_vertex_ai" {
  for_each = { for stage, function in local.functions : stage => function if function.vertex_ai }

  project = var.project_id
  role    = "roles/aiplatform.user"
  member  = google_service_account.function[each.key].member
}

resource "google_pubsub_topic_iam_member" "function_publishes" {
  for_each = local.functions

  topic  = google_pubsub_topic.chain[each.value.publishes].name
  role   = "roles/pubsub.publisher"
  member = google_service_account.function[each.key].member
}

resource "google_pubsub_topic_iam_member" "function_publishes_failure" {
  for_each = local.functions

  topic  = google_pubsub_topic.chain[local.failure_topic].name
  role   = "roles/pubsub.publisher"
  member = google_service_account.function[each.key].member
}

# The identity Pub/Sub signs push requests as: it may invoke the functions and nothing else.
resource "google_service_account" "push_invoker" {
  account_id   = "seg-push-invoker"
  display_name = "Segmentation Pub/Sub push invoker"
  description  = "Pub/Sub push subscriptions of the customer-segmentation pipeline present its OIDC token to Cloud Run."
}

resource "google_cloud_run_v2_service_iam_member" "push_invoker" {
  for_each = local.functions

  name     = google_cloud_run_v2_service.function[each.key].name
  location = google_cloud_run_v2_service.function[each.key].location
  role     = "roles/run.invoker"
  member   = google_service_account.push_invoker.member
}

# The Pub/Sub service agent mints the invoker's OIDC tokens (projects created before April 2021 do not grant
# it this by default), forwards undeliverable messages to the dead-letter topic, and acknowledges them on
# the source subscription.
locals {
  pubsub_service_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}

resource "google_service_account_iam_member" "pubsub_mints_invoker_tokens" {
  service_account_id = google_service_account.push_invoker.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_service_agent

  depends_on = [google_project_service.pipeline]
}

resource "google_pubsub_topic_iam_member" "dead_letter_publisher" {
  topic  = google_pubsub_topic.dead_letter.name
  role   = "roles/pubsub.publisher"
  member = local.pubsub_service_agent
}

resource "google_pubsub_subscription_iam_member" "dead_letter_subscriber" {
  for_each = local.functions

  subscription = google_pubsub_subscription.push[each.key].name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_service_agent
}

# Cloud Build runs cloudbuild.yaml as this account (gcloud builds submit --service-account): it pushes to
# the repository, rolls new revisions out to the five services, and may act as their service accounts.
resource "google_service_account" "cloud_build" {
  account_id   = "seg-cloud-build"
  display_name = "Segmentation Cloud Build deployer"
  description  = "Builds, pushes and deploys the customer-segmentation functions."
}

resource "google_artifact_registry_repository_iam_member" "cloud_build_pushes" {
  location   = google_artifact_registry_repository.images.location
  repository = google_artifact_registry_repository.images.name
  role       = "roles/artifactregistry.writer"
  member     = google_service_account.cloud_build.member
}

resource "google_cloud_run_v2_service_iam_member" "cloud_build_deploys" {
  for_each = local.functions

  name     = google_cloud_run_v2_service.function[each.key].name
  location = google_cloud_run_v2_service.function[each.key].location
  role     = "roles/run.developer"
  member   = google_service_account.cloud_build.member
}

resource "google_service_account_iam_member" "cloud_build_acts_as_function" {
  for_each = local.functions

  service_account_id = google_service_account.function[each.key].name
  role               = "roles/iam.serviceAccountUser"
  member             = google_service_account.cloud_build.member
}

resource "google_project_iam_member" "cloud_build_logs" {
  project = var.project_id
  role    = "roles/logging.logWriter"
  member  = google_service_account.cloud_build.member
}

resource "google_storage_bucket_iam_member" "cloud_build_reads_source" {
  bucket = google_storage_bucket.build_source.name
  role   = "roles/storage.objectViewer"
  member = google_service_account.cloud_build.member
}
