# The daily gap heal: the same image, ConfigMap, Secrets and raw PVC as the hourly ingest, running
# `weather heal`, which refills the site-hours missing in the last var.heal_days days from the
# provider's history and rebuilds silver and gold over them (core/use-cases/heal.ts). Its JSON
# document on stdout says what it filled and what remains; exit 1 when a gap survived.

locals {
  heal_labels = {
    "app.kubernetes.io/name"       = "weather-heal"
    "app.kubernetes.io/part-of"    = "weather-dataops"
    "app.kubernetes.io/managed-by" = "terraform"
  }
  heal_selector = { "app.kubernetes.io/name" = "weather-heal" }
}

resource "kubernetes_cron_job_v1" "heal" {
  metadata {
    name      = "weather-heal"
    namespace = kubernetes_namespace_v1.weather.metadata[0].name
    labels    = local.heal_labels
  }

  spec {
    schedule = var.heal_schedule
    # A heal is idempotent, but two at once would fetch the same history twice.
    concurrency_policy            = "Forbid"
    starting_deadline_seconds     = 3600
    successful_jobs_history_limit = 3
    failed_jobs_history_limit     = 5
    suspend                       = false

    job_template {
      metadata {
        labels = local.heal_labels
      }

      spec {
        # Gaps that survive exit 1 too; a retry a minute later rarely helps, the next day's heal does.
        backoff_limit           = 1
        active_deadline_seconds = var.heal_active_deadline_seconds

        template {
          metadata {
            labels = local.heal_labels
          }

          spec {
            restart_policy                  = "Never"
            automount_service_account_token = false
            enable_service_links            = false

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
              name              = "heal"
              image             = var.ingest_image
              image_pull_policy = "IfNotPresent"
              # The same command line tests/infra/kind-command.test.ts runs against the simulator.
              command = ["node", "bin/weather.js", "heal", "--days", tostring(var.heal_days), "--json"]

              env_from {
                config_map_ref {
                  name = kubernetes_config_map_v1.ingest.metadata[0].name
                }
              }

              env {
                name = "DATABASE_URL"
                value_from {
                  secret_key_ref {
                    name = kubernetes_secret_v1.heal_database.metadata[0].name
                    key  = "DATABASE_URL"
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

              # History lands raw on the same PVC as the ingest's responses (ReadWriteOnce: fine on
              # Kind's single node, where both pods share it).
              volume_mount {
                name       = "weather-home"
                mount_path = local.weather_home
              }
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

  depends_on = [kubernetes_job_v1.migrate]
}
