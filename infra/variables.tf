variable "project_id" {
  description = "The Google Cloud project that holds the whole pipeline."
  type        = string
}

variable "region" {
  description = "Region of the Cloud Run services, the Artifact Registry repository and the Cloud Scheduler job."
  type        = string
  default     = "us-central1"
}

variable "topic_prefix" {
  description = "Prepended to every Pub/Sub topic and subscription name (e.g. \"staging-\"), and handed to the functions as Pipeline__TopicPrefix, so that they publish to the same topics Terraform creates. Empty for none."
  type        = string
  default     = ""

  validation {
    # Pub/Sub names start with a letter and hold letters, digits and - _ . ~ + %; the functions accept the same set.
    condition     = can(regex("^([A-Za-z][A-Za-z0-9._~%+-]*)?$", var.topic_prefix)) && length(var.topic_prefix) <= 100
    error_message = "topic_prefix must be empty, or start with a letter and hold only letters, digits and - _ . ~ + % (at most 100 characters)."
  }
}

# --- Warehouse -----------------------------------------------------------------------------------------------------

variable "bigquery_location" {
  description = "Location of the BigQuery dataset and of the functions' query jobs. It must be the source table's location: the public thelook_ecommerce dataset is in the US multi-region."
  type        = string
  default     = "US"
}

variable "dataset_id" {
  description = "The BigQuery dataset the functions write their per-run tables and K-means models to."
  type        = string
  default     = "customer_segmentation"
}

variable "run_table_expiration_days" {
  description = "Default expiration of the tables (and models) created in the dataset. Each run writes its own; the results that users read live in the bucket. 0 keeps them forever."
  type        = number
  default     = 30

  validation {
    condition     = var.run_table_expiration_days >= 0 && floor(var.run_table_expiration_days) == var.run_table_expiration_days
    error_message = "run_table_expiration_days must be a whole number of days, 0 or more."
  }
}

variable "source_table" {
  description = "The thelook_ecommerce-shaped order_items table the statistics are computed from (Gcp__SourceTable). A private table needs its own grant of roles/bigquery.dataViewer to the BuildStats service account."
  type        = string
  default     = "bigquery-public-data.thelook_ecommerce.order_items"
}

# --- Bucket --------------------------------------------------------------------------------------------------------

variable "bucket_name" {
  description = "Name of the bucket the pipeline writes its outputs to. Null for \"<project_id>-segmentation\"."
  type        = string
  default     = null
}

variable "bucket_location" {
  description = "Location of the bucket. The default keeps it beside the BigQuery dataset."
  type        = string
  default     = "US"
}

variable "bucket_versioning" {
  description = "Keep noncurrent versions of overwritten objects (latest.json, manifests)."
  type        = bool
  default     = false
}

variable "run_retention_days" {
  description = "Objects under runs/ older than this many days are deleted. 0 keeps every run."
  type        = number
  default     = 90

  validation {
    condition     = var.run_retention_days >= 0 && floor(var.run_retention_days) == var.run_retention_days
    error_message = "run_retention_days must be a whole number of days, 0 or more."
  }
}

variable "force_destroy" {
  description = "Let terraform destroy delete the bucket and the dataset while they still hold objects and tables."
  type        = bool
  default     = false
}

# --- Images and Cloud Run ------------------------------------------------------------------------------------------

variable "artifact_repository" {
  description = "The Artifact Registry Docker repository the images are pushed to (cloudbuild.yaml's _REPOSITORY)."
  type        = string
  default     = "segmentation"
}

variable "image_tag" {
  description = "The image tag the services are created with (a commit SHA that Cloud Build pushed). Null creates them with a placeholder image: from then on cloudbuild.yaml rolls out every new image, and Terraform leaves the image alone."
  type        = string
  default     = null
}

variable "placeholder_image" {
  description = "The image the services start with when image_tag is null, before the first Cloud Build deployment."
  type        = string
  default     = "us-docker.pkg.dev/cloudrun/container/hello"
}

variable "ingress" {
  description = "Cloud Run ingress. Pub/Sub push from the same project counts as internal traffic, so the functions need no public ingress."
  type        = string
  default     = "INGRESS_TRAFFIC_INTERNAL_ONLY"

  validation {
    condition     = contains(["INGRESS_TRAFFIC_ALL", "INGRESS_TRAFFIC_INTERNAL_ONLY", "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER"], var.ingress)
    error_message = "ingress must be INGRESS_TRAFFIC_ALL, INGRESS_TRAFFIC_INTERNAL_ONLY or INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER."
  }
}

variable "cpu" {
  description = "CPU limit of each function's container."
  type        = string
  default     = "1"
}

variable "memory" {
  description = "Memory limit of each function's container (the chart and the parquet files are built in memory)."
  type        = string
  default     = "1Gi"
}

variable "max_instances" {
  description = "Upper bound on the instances of each function. Runs are rare and a stage handles one message at a time."
  type        = number
  default     = 3
}

variable "stage_wait_seconds" {
  description = "How long a stage waits on a BigQuery job within one push delivery before asking Pub/Sub to deliver again (Pipeline__StageWaitSeconds). It must stay below the 600 s acknowledgement deadline."
  type        = number
  default     = 540

  validation {
    condition     = var.stage_wait_seconds >= 10 && var.stage_wait_seconds <= 590
    error_message = "stage_wait_seconds must be between 10 and 590."
  }
}

variable "deletion_protection" {
  description = "Refuse to destroy the Cloud Run services. Set it to true in production."
  type        = bool
  default     = false
}

# --- Campaign writer -----------------------------------------------------------------------------------------------

variable "campaign_writer" {
  description = "Who writes the campaign text (Campaign__Writer): Vertex (Gemini), OpenAI (any OpenAI-compatible endpoint) or Offline (the built-in rule-based writer)."
  type        = string
  default     = "Vertex"

  validation {
    condition     = contains(["Offline", "Vertex", "OpenAI"], var.campaign_writer)
    error_message = "campaign_writer must be Offline, Vertex or OpenAI."
  }
}

variable "campaign_model" {
  description = "The model the campaign writer asks (Campaign__Model), e.g. a Gemini model id. Null leaves the writer's own default."
  type        = string
  default     = null
}

variable "vertex_location" {
  description = "Vertex AI location for Gemini (Gcp__VertexLocation). Null for the region of the services."
  type        = string
  default     = null
}

# --- Pub/Sub delivery ----------------------------------------------------------------------------------------------

variable "max_delivery_attempts" {
  description = "Deliveries of a message to a function before it goes to the dead-letter topic. A long BigQuery ML training uses one delivery per stage_wait_seconds, so keep room for it."
  type        = number
  default     = 20

  validation {
    condition     = var.max_delivery_attempts >= 5 && var.max_delivery_attempts <= 100
    error_message = "max_delivery_attempts must be between 5 and 100 (Pub/Sub's limits)."
  }
}

variable "minimum_backoff" {
  description = "Shortest wait before Pub/Sub delivers a message that was not acknowledged again."
  type        = string
  default     = "10s"
}

variable "maximum_backoff" {
  description = "Longest wait before Pub/Sub delivers a message that was not acknowledged again (at most 600s)."
  type        = string
  default     = "300s"
}

# --- Schedule ------------------------------------------------------------------------------------------------------

variable "stalled_run_seconds" {
  description = "A run still running this long after it started is failed by the watchdog's sweep and announced on run-failed (Pipeline__StalledRunSeconds). Keep it above the longest run."
  type        = number
  default     = 21600

  validation {
    condition     = var.stalled_run_seconds >= 60 && var.stalled_run_seconds <= 604800 && floor(var.stalled_run_seconds) == var.stalled_run_seconds
    error_message = "stalled_run_seconds must be a whole number from 60 to 604800."
  }
}

variable "sweep_schedule" {
  description = "When Cloud Scheduler asks the watchdog to fail stalled runs, in cron syntax (UTC)."
  type        = string
  default     = "17 * * * *"
}

variable "schedule" {
  description = "When Cloud Scheduler publishes the trigger, in cron syntax."
  type        = string
  default     = "0 6 * * 1"
}

variable "schedule_time_zone" {
  description = "Time zone of the schedule."
  type        = string
  default     = "Etc/UTC"
}

variable "schedule_paused" {
  description = "Create the scheduler job paused (runs are then started by hand with gcloud pubsub topics publish)."
  type        = bool
  default     = false
}

variable "trigger_message" {
  description = "The trigger message the schedule publishes (CONTRACT.md, \"Trigger message\"). Every field is optional; {} analyses the 365 days before the run."
  type        = any
  default     = {}
}
