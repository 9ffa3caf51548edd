resource "google_bigquery_dataset" "pipeline" {
  dataset_id  = var.dataset_id
  location    = var.bigquery_location
  description = "Per-run customer statistics, predictions and K-means models of the customer-segmentation pipeline."

  # Every run creates its own tables; what users read is in the bucket, so the tables may expire.
  default_table_expiration_ms = var.run_table_expiration_days > 0 ? var.run_table_expiration_days * 24 * 60 * 60 * 1000 : null

  delete_contents_on_destroy = var.force_destroy

  depends_on = [google_project_service.pipeline]
}
