variable "cluster_name" {
  description = "Name of the Kind cluster (also the Docker container prefix and the kubeconfig file name)."
  type        = string
  default     = "weather-dataops"

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]{0,30}[a-z0-9])?$", var.cluster_name))
    error_message = "cluster_name must be a DNS label of at most 32 characters: lowercase letters, digits and '-'."
  }
}

variable "kind_node_image" {
  description = "kindest/node image for the cluster's single node, pinned by exact version tag (optionally @sha256 digest)."
  type        = string
  default     = "kindest/node:v1.33.1"

  validation {
    condition     = can(regex("^kindest/node:v[0-9]+\\.[0-9]+\\.[0-9]+(@sha256:[0-9a-f]{64})?$", var.kind_node_image))
    error_message = "kind_node_image must be kindest/node:vX.Y.Z, optionally followed by @sha256:<64 hex>."
  }
}

variable "namespace" {
  description = "Namespace holding Postgres and the ingest CronJob."
  type        = string
  default     = "weather"

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", var.namespace)) && var.namespace != "default"
    error_message = "namespace must be a DNS label other than 'default'."
  }
}

variable "postgres_image" {
  description = "Postgres image by exact version tag, optionally pinned further by digest (tag@sha256:..., e.g. from `docker buildx imagetools inspect`). A Debian variant: the non-root security context assumes its postgres uid 999."
  type        = string
  default     = "postgres:17.7-bookworm"

  validation {
    condition     = can(regex("^postgres:[0-9]+\\.[0-9]+-(bookworm|trixie)(@sha256:[0-9a-f]{64})?$", var.postgres_image))
    error_message = "postgres_image must be postgres:<major>.<minor>-bookworm or -trixie, optionally @sha256:<64 hex> (exact tag; Alpine images use uid 70, not 999)."
  }
}

variable "postgres_user" {
  description = "Role the application connects as (created by the image's initdb)."
  type        = string
  default     = "weather"

  validation {
    condition     = can(regex("^[a-z_][a-z0-9_]{0,62}$", var.postgres_user)) && var.postgres_user != "postgres"
    error_message = "postgres_user must be a lowercase SQL identifier other than 'postgres'."
  }
}

variable "postgres_db" {
  description = "Database the application uses."
  type        = string
  default     = "weather"

  validation {
    condition     = can(regex("^[a-z_][a-z0-9_]{0,62}$", var.postgres_db))
    error_message = "postgres_db must be a lowercase SQL identifier."
  }
}

variable "postgres_storage_size" {
  description = "Size of the Postgres data PersistentVolumeClaim."
  type        = string
  default     = "2Gi"

  validation {
    condition     = can(regex("^[1-9][0-9]*(Mi|Gi)$", var.postgres_storage_size))
    error_message = "postgres_storage_size must be a quantity in Mi or Gi, e.g. 2Gi."
  }
}

variable "raw_storage_size" {
  description = "Size of the PersistentVolumeClaim holding raw API responses written by the ingest."
  type        = string
  default     = "1Gi"

  validation {
    condition     = can(regex("^[1-9][0-9]*(Mi|Gi)$", var.raw_storage_size))
    error_message = "raw_storage_size must be a quantity in Mi or Gi, e.g. 1Gi."
  }
}

variable "postgres_node_port" {
  description = "NodePort of the Postgres Service inside the Kind node; Kind maps it to postgres_host_port."
  type        = number
  default     = 30432

  validation {
    condition     = var.postgres_node_port >= 30000 && var.postgres_node_port <= 32767 && floor(var.postgres_node_port) == var.postgres_node_port
    error_message = "postgres_node_port must be an integer in Kubernetes' NodePort range 30000-32767."
  }
}

variable "postgres_host_port" {
  description = "Port on the host's 127.0.0.1 where Kind publishes Postgres (5433 so it does not collide with a local Postgres on 5432)."
  type        = number
  default     = 5433

  validation {
    condition     = var.postgres_host_port >= 1024 && var.postgres_host_port <= 65535 && floor(var.postgres_host_port) == var.postgres_host_port
    error_message = "postgres_host_port must be an unprivileged port, 1024-65535."
  }
}

variable "host_access_cidr" {
  description = "Source range admitted to Postgres besides the ingest pods: the Docker network Kind runs on, through which host connections arrive (`docker network inspect kind`). Docker's default pools are inside 172.16.0.0/12."
  type        = string
  default     = "172.16.0.0/12"

  validation {
    condition     = can(cidrhost(var.host_access_cidr, 0)) && var.host_access_cidr != "0.0.0.0/0"
    error_message = "host_access_cidr must be a CIDR narrower than 0.0.0.0/0, e.g. 172.18.0.0/16."
  }
}

variable "postgres_resources" {
  description = "CPU and memory requests and limits for the Postgres container."
  type = object({
    requests_cpu    = string
    requests_memory = string
    limits_cpu      = string
    limits_memory   = string
  })
  default = {
    requests_cpu    = "250m"
    requests_memory = "256Mi"
    limits_cpu      = "1"
    limits_memory   = "1Gi"
  }

  validation {
    condition = alltrue([
      for q in [var.postgres_resources.requests_cpu, var.postgres_resources.limits_cpu] : can(regex("^([0-9]+m|[0-9]+(\\.[0-9]+)?)$", q))
      ]) && alltrue([
      for q in [var.postgres_resources.requests_memory, var.postgres_resources.limits_memory] : can(regex("^[0-9]+(Mi|Gi)$", q))
    ])
    error_message = "postgres_resources: CPU as millicores (250m) or cores (1), memory in Mi or Gi."
  }
}

variable "ingest_image" {
  description = "Image built from the repository's Dockerfile and loaded into Kind (`kind load docker-image`)."
  type        = string
  default     = "weather-dataops:local"

  validation {
    # A ':latest' or untagged image makes Kubernetes pull on every start, and Kind has no registry to pull from.
    condition     = can(regex("^[a-z0-9][a-z0-9._/-]*:[A-Za-z0-9_][A-Za-z0-9._-]{0,127}(@sha256:[0-9a-f]{64})?$", var.ingest_image)) && !can(regex(":latest(@|$)", var.ingest_image))
    error_message = "ingest_image must be name:tag with an explicit tag other than 'latest' (e.g. weather-dataops:local)."
  }
}

variable "ingest_schedule" {
  description = "Cron schedule of the ingest (UTC). Hourly by default, a few minutes past the hour so the provider's current hour has settled."
  type        = string
  default     = "5 * * * *"

  validation {
    condition     = length(split(" ", trimspace(var.ingest_schedule))) == 5
    error_message = "ingest_schedule must be a five-field cron expression, e.g. '5 * * * *'."
  }
}

variable "weather_source" {
  description = "Weather provider the CronJob ingests from (WEATHER_SOURCE in core/config/env.ts)."
  type        = string
  default     = "open-meteo"

  validation {
    condition     = contains(["open-meteo", "openweather", "simulator"], var.weather_source)
    error_message = "weather_source must be one of open-meteo, openweather, simulator."
  }
}

variable "openweather_api_key" {
  description = "OpenWeatherMap API key, required only when weather_source is 'openweather' (set TF_VAR_openweather_api_key). Stored in a Secret, never in the ConfigMap; empty means unset (the env gate ignores empty values)."
  type        = string
  default     = ""
  nullable    = false
  sensitive   = true
}

variable "rate_limits" {
  description = "Provider limits (weighted calls per minute/hour/day) and concurrency; defaults are the free tiers' (see core/config/env.ts). A commercial plan is a change of the *_calls_per_* values."
  type = object({
    open_meteo_batch_size        = optional(number, 50)
    open_meteo_concurrency       = optional(number, 1)
    open_meteo_calls_per_minute  = optional(number, 600)
    open_meteo_calls_per_hour    = optional(number, 5000)
    open_meteo_calls_per_day     = optional(number, 10000)
    openweather_concurrency      = optional(number, 4)
    openweather_calls_per_minute = optional(number, 60)
    openweather_calls_per_hour   = optional(number, 3600)
    openweather_calls_per_day    = optional(number, 32000)
  })
  default = {
    open_meteo_batch_size        = 50
    open_meteo_concurrency       = 1
    open_meteo_calls_per_minute  = 600
    open_meteo_calls_per_hour    = 5000
    open_meteo_calls_per_day     = 10000
    openweather_concurrency      = 4
    openweather_calls_per_minute = 60
    openweather_calls_per_hour   = 3600
    openweather_calls_per_day    = 32000
  }

  validation {
    condition     = alltrue([for v in values(var.rate_limits) : v >= 1 && floor(v) == v])
    error_message = "Every rate_limits entry must be a positive integer."
  }
}

variable "site_failure_threshold" {
  description = "Share of failed sites above which a run exits 1 (SITE_FAILURE_THRESHOLD)."
  type        = number
  default     = 0.1

  validation {
    condition     = var.site_failure_threshold >= 0 && var.site_failure_threshold <= 1
    error_message = "site_failure_threshold must be between 0 and 1."
  }
}

variable "ingest_resources" {
  description = "CPU and memory requests and limits for the ingest container."
  type = object({
    requests_cpu    = string
    requests_memory = string
    limits_cpu      = string
    limits_memory   = string
  })
  default = {
    requests_cpu    = "100m"
    requests_memory = "192Mi"
    limits_cpu      = "1"
    limits_memory   = "512Mi"
  }

  validation {
    condition = alltrue([
      for q in [var.ingest_resources.requests_cpu, var.ingest_resources.limits_cpu] : can(regex("^([0-9]+m|[0-9]+(\\.[0-9]+)?)$", q))
      ]) && alltrue([
      for q in [var.ingest_resources.requests_memory, var.ingest_resources.limits_memory] : can(regex("^[0-9]+(Mi|Gi)$", q))
    ])
    error_message = "ingest_resources: CPU as millicores (100m) or cores (1), memory in Mi or Gi."
  }
}

variable "ingest_active_deadline_seconds" {
  description = "A Job running longer than this is killed (must stay under the schedule's period so runs cannot pile up)."
  type        = number
  default     = 1800

  validation {
    condition     = var.ingest_active_deadline_seconds >= 60 && var.ingest_active_deadline_seconds < 3600
    error_message = "ingest_active_deadline_seconds must be between 60 and 3599 (less than the hourly period)."
  }
}

variable "heal_schedule" {
  description = "Cron schedule of the daily gap heal (UTC). Off the ingest's minute so the two rarely overlap."
  type        = string
  default     = "35 3 * * *"

  validation {
    condition     = length(split(" ", trimspace(var.heal_schedule))) == 5
    error_message = "heal_schedule must be a five-field cron expression, e.g. '35 3 * * *'."
  }
}

variable "heal_days" {
  description = "Days of complete hours the heal checks and refills (`weather heal --days`)."
  type        = number
  default     = 7

  validation {
    condition     = var.heal_days >= 1 && var.heal_days <= 92 && floor(var.heal_days) == var.heal_days
    error_message = "heal_days must be a whole number from 1 to 92 (Open-Meteo's forecast API serves 92 past days)."
  }
}

variable "heal_active_deadline_seconds" {
  description = "A heal Job running longer than this is killed (must stay under the daily period)."
  type        = number
  default     = 3600

  validation {
    condition     = var.heal_active_deadline_seconds >= 60 && var.heal_active_deadline_seconds < 86400
    error_message = "heal_active_deadline_seconds must be between 60 and 86399 (less than the daily period)."
  }
}
