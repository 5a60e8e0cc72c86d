# The hourly ingest: the project's image running the `weather` CLI, configured like every other
# runtime through the env names of core/config/env.ts (non-secret ones from a ConfigMap, the rest
# from Secrets). Raw API responses land on their own PVC so a replay can rebuild bronze from them.

locals {
  # Where the image keeps state; the raw PVC is mounted here (see the Dockerfile's WORKDIR /app).
  weather_home = "/var/lib/weather"
}

resource "kubernetes_config_map_v1" "ingest" {
  metadata {
    name      = "weather-ingest"
    namespace = kubernetes_namespace_v1.weather.metadata[0].name
    labels    = local.ingest_labels
  }

  data = {
    WEATHER_SOURCE               = var.weather_source
    SITES_FILE                   = "config/sites.json"
    WEATHER_HOME                 = local.weather_home
    RAW_STORE                    = "${local.weather_home}/raw"
    OPEN_METEO_BATCH_SIZE        = tostring(var.rate_limits.open_meteo_batch_size)
    OPEN_METEO_CONCURRENCY       = tostring(var.rate_limits.open_meteo_concurrency)
    OPEN_METEO_CALLS_PER_MINUTE  = tostring(var.rate_limits.open_meteo_calls_per_minute)
    OPEN_METEO_CALLS_PER_HOUR    = tostring(var.rate_limits.open_meteo_calls_per_hour)
    OPEN_METEO_CALLS_PER_DAY     = tostring(var.rate_limits.open_meteo_calls_per_day)
    OPENWEATHER_CONCURRENCY      = tostring(var.rate_limits.openweather_concurrency)
    OPENWEATHER_CALLS_PER_MINUTE = tostring(var.rate_limits.openweather_calls_per_minute)
    OPENWEATHER_CALLS_PER_HOUR   = tostring(var.rate_limits.openweather_calls_per_hour)
    OPENWEATHER_CALLS_PER_DAY    = tostring(var.rate_limits.openweather_calls_per_day)
    SITE_FAILURE_THRESHOLD       = tostring(var.site_failure_threshold)
  }
}

resource "kubernetes_secret_v1" "ingest" {
  metadata {
    name      = "weather-ingest-credentials"
    namespace = kubernetes_namespace_v1.weather.metadata[0].name
    labels    = local.ingest_labels
  }

  type = "Opaque"
  data = {
    OPENWEATHER_API_KEY = var.openweather_api_key
  }
}

resource "kubernetes_persistent_volume_claim_v1" "raw" {
  metadata {
    name      = "weather-raw"
    namespace = kubernetes_namespace_v1.weather.metadata[0].name
    labels    = local.ingest_labels
  }

  spec {
    access_modes       = ["ReadWriteOnce"]
    storage_class_name = "standard"

    resources {
      requests = {
        storage = var.raw_storage_size
      }
    }
  }

  # Binds when the first Job pod is scheduled (Kind's class is WaitForFirstConsumer).
  wait_until_bound = false
}

resource "kubernetes_cron_job_v1" "ingest" {
  metadata {
    name      = "weather-ingest"
    namespace = kubernetes_namespace_v1.weather.metadata[0].name
    labels    = local.ingest_labels
  }

  spec {
    schedule = var.ingest_schedule
    # Runs of one interval are idempotent, but two at once would compete for the provider's rate limit.
    concurrency_policy            = "Forbid"
    starting_deadline_seconds     = 600
    successful_jobs_history_limit = 3
    failed_jobs_history_limit     = 5
    suspend                       = false

    job_template {
      metadata {
        labels = local.ingest_labels
      }

      spec {
        backoff_limit           = 2
        active_deadline_seconds = var.ingest_active_deadline_seconds

        template {
          metadata {
            labels = local.ingest_labels
          }

          spec {
            # Retries are the Job's (backoff_limit), each in a fresh pod whose logs stay inspectable.
            restart_policy                  = "Never"
            automount_service_account_token = false
            enable_service_links            = false

            # The image's non-root user (see the Dockerfile); fsGroup lets it write the raw PVC.
            security_context {
              run_as_non_root = true
              run_as_user     = 10001
              run_as_group    = 10001
              fs_group        = 10001

              seccomp_profile {
                type = "RuntimeDefault"
              }
            }

            container {
              name = "ingest"
              # Loaded into Kind with `kind load docker-image`; IfNotPresent because Kind has no registry.
              image             = var.ingest_image
              image_pull_policy = "IfNotPresent"
              # The same command line tests/infra/kind-command.test.ts runs against the simulator.
              command = ["node", "bin/weather.js", "ingest", "--json"]

              env_from {
                config_map_ref {
                  name = kubernetes_config_map_v1.ingest.metadata[0].name
                }
              }

              # As weather_ingest (infra-kind/migrate.tf), never the owner.
              env {
                name = "DATABASE_URL"
                value_from {
                  secret_key_ref {
                    name = kubernetes_secret_v1.ingest_database.metadata[0].name
                    key  = "DATABASE_URL"
                  }
                }
              }

              env {
                name = "OPENWEATHER_API_KEY"
                value_from {
                  secret_key_ref {
                    name = kubernetes_secret_v1.ingest.metadata[0].name
                    key  = "OPENWEATHER_API_KEY"
                  }
                }
              }

              resources {
                requests = {
                  cpu    = var.ingest_resources.requests_cpu
                  memory = var.ingest_resources.requests_memory
                }
                limits = {
                  cpu    = var.ingest_resources.limits_cpu
                  memory = var.ingest_resources.limits_memory
                }
              }

              security_context {
                run_as_non_root            = true
                run_as_user                = 10001
                run_as_group               = 10001
                allow_privilege_escalation = false
                privileged                 = false
                read_only_root_filesystem  = true

                capabilities {
                  drop = ["ALL"]
                }
              }

              volume_mount {
                name       = "weather-home"
                mount_path = local.weather_home
              }
              # Node (and tsx's compile cache) write temporary files; the root filesystem is read-only.
              volume_mount {
                name       = "tmp"
                mount_path = "/tmp"
              }
            }

            volume {
              name = "weather-home"
              persistent_volume_claim {
                claim_name = kubernetes_persistent_volume_claim_v1.raw.metadata[0].name
              }
            }
            volume {
              name = "tmp"
              empty_dir {
                size_limit = "256Mi"
              }
            }
          }
        }
      }
    }
  }

  lifecycle {
    precondition {
      condition     = var.weather_source != "openweather" || var.openweather_api_key != ""
      error_message = "weather_source = \"openweather\" needs openweather_api_key (e.g. TF_VAR_openweather_api_key)."
    }
  }

  # The Job's first run needs the schema and its role: the migrate Job has completed before this.
  depends_on = [kubernetes_job_v1.migrate]
}
