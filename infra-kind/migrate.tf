# The schema and the database roles, before any CronJob runs: a Job with the owner's DATABASE_URL runs
# `weather migrate`, which applies the migrations and lets the roles the CronJobs use log in with
# their generated passwords (DATABASE_ROLE_PASSWORDS; sql/migrations/0080_function_roles.sql). The
# CronJobs then connect as weather_ingest and weather_heal, never as the owner.

locals {
  migrate_labels = {
    "app.kubernetes.io/name"       = "weather-migrate"
    "app.kubernetes.io/part-of"    = "weather-dataops"
    "app.kubernetes.io/managed-by" = "terraform"
  }
  migrate_selector = { "app.kubernetes.io/name" = "weather-migrate" }
}

# One generated password per role a CronJob connects as. URL-unreserved specials only: no escaping
# in a URL or in the JSON below.
resource "random_password" "ingest_role" {
  length           = 32
  special          = true
  override_special = "-_"
  min_lower        = 2
  min_upper        = 2
  min_numeric      = 2
}

resource "random_password" "heal_role" {
  length           = 32
  special          = true
  override_special = "-_"
  min_lower        = 2
  min_upper        = 2
  min_numeric      = 2
}

resource "kubernetes_secret_v1" "database_roles" {
  metadata {
    name      = "weather-database-roles"
    namespace = kubernetes_namespace_v1.weather.metadata[0].name
    labels    = local.migrate_labels
  }

  type = "Opaque"
  data = {
    # What `weather migrate` reads (core/db/roles.ts): role -> password.
    DATABASE_ROLE_PASSWORDS = "{\"weather_ingest\":\"${random_password.ingest_role.result}\",\"weather_heal\":\"${random_password.heal_role.result}\"}"
  }
}

resource "kubernetes_secret_v1" "ingest_database" {
  metadata {
    name      = "weather-ingest-database"
    namespace = kubernetes_namespace_v1.weather.metadata[0].name
    labels    = local.ingest_labels
  }

  type = "Opaque"
  data = {
    DATABASE_URL = "postgres://weather_ingest:${urlencode(random_password.ingest_role.result)}@${local.postgres_service_host}:5432/${var.postgres_db}"
  }
}

resource "kubernetes_secret_v1" "heal_database" {
  metadata {
    name      = "weather-heal-database"
    namespace = kubernetes_namespace_v1.weather.metadata[0].name
    labels    = local.heal_labels
  }

  type = "Opaque"
  data = {
    DATABASE_URL = "postgres://weather_heal:${urlencode(random_password.heal_role.result)}@${local.postgres_service_host}:5432/${var.postgres_db}"
  }
}

resource "kubernetes_job_v1" "migrate" {
  metadata {
    name      = "weather-migrate"
    namespace = kubernetes_namespace_v1.weather.metadata[0].name
    labels    = local.migrate_labels
  }

  spec {
    backoff_limit           = 3
    active_deadline_seconds = 600

    template {
      metadata {
        labels = local.migrate_labels
      }

      spec {
        restart_policy                  = "Never"
        automount_service_account_token = false
        enable_service_links            = false

        security_context {
          run_as_non_root = true
          run_as_user     = 10001
          run_as_group    = 10001

          seccomp_profile {
            type = "RuntimeDefault"
          }
        }

        container {
          name              = "migrate"
          image             = var.ingest_image
          image_pull_policy = "IfNotPresent"
          command           = ["node", "bin/weather.js", "migrate", "--json"]

          env {
            name = "DATABASE_URL"
            value_from {
              secret_key_ref {
                name = kubernetes_secret_v1.postgres.metadata[0].name
                key  = "DATABASE_URL"
              }
            }
          }

          env {
            name = "DATABASE_ROLE_PASSWORDS"
            value_from {
              secret_key_ref {
                name = kubernetes_secret_v1.database_roles.metadata[0].name
                key  = "DATABASE_ROLE_PASSWORDS"
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

          # Node (and tsx's compile cache) write temporary files; the root filesystem is read-only.
          volume_mount {
            name       = "tmp"
            mount_path = "/tmp"
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

  # Apply waits for the Job, so the CronJobs (which depend on it) never start on an old schema.
  wait_for_completion = true

  timeouts {
    create = "10m"
    update = "10m"
  }

  depends_on = [kubernetes_stateful_set_v1.postgres]
}
