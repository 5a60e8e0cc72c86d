# Postgres: generated credentials in a Secret, data on a PVC, a hardened single-replica StatefulSet,
# a headless Service that governs it and a NodePort Service that Kind publishes to the host.

resource "random_password" "postgres" {
  length  = 32
  special = true
  # URL-unreserved specials only, so the password needs no escaping in DATABASE_URL or a shell.
  override_special = "-_"
  min_lower        = 2
  min_upper        = 2
  min_numeric      = 2
}

resource "kubernetes_secret_v1" "postgres" {
  metadata {
    name      = "postgres-credentials"
    namespace = kubernetes_namespace_v1.weather.metadata[0].name
    labels    = local.postgres_labels
  }

  type = "Opaque"

  data = {
    POSTGRES_USER     = var.postgres_user
    POSTGRES_DB       = var.postgres_db
    POSTGRES_PASSWORD = random_password.postgres.result
    # What the ingest reads (core/config/env.ts). urlencode guards against a future override_special.
    DATABASE_URL = "postgres://${var.postgres_user}:${urlencode(random_password.postgres.result)}@${local.postgres_service_host}:5432/${var.postgres_db}"
  }
}

resource "kubernetes_persistent_volume_claim_v1" "postgres_data" {
  metadata {
    name      = "postgres-data"
    namespace = kubernetes_namespace_v1.weather.metadata[0].name
    labels    = local.postgres_labels
  }

  spec {
    access_modes       = ["ReadWriteOnce"]
    storage_class_name = "standard"

    resources {
      requests = {
        storage = var.postgres_storage_size
      }
    }
  }

  # Kind's "standard" class binds on first consumer: waiting here would block until the StatefulSet exists.
  wait_until_bound = false
}

resource "kubernetes_service_v1" "postgres_headless" {
  metadata {
    name      = "postgres-headless"
    namespace = kubernetes_namespace_v1.weather.metadata[0].name
    labels    = local.postgres_labels
  }

  spec {
    cluster_ip = "None"
    selector   = local.postgres_selector

    port {
      name        = "postgres"
      port        = 5432
      target_port = "postgres"
    }
  }
}

resource "kubernetes_service_v1" "postgres" {
  metadata {
    name      = "postgres"
    namespace = kubernetes_namespace_v1.weather.metadata[0].name
    labels    = local.postgres_labels
  }

  spec {
    type     = "NodePort"
    selector = local.postgres_selector
    # Keeps the client's source address (the Kind network's gateway for host connections) so the
    # NetworkPolicy below can admit it; the cluster has one node, so Local never drops traffic.
    external_traffic_policy = "Local"

    port {
      name        = "postgres"
      port        = 5432
      target_port = "postgres"
      node_port   = var.postgres_node_port
    }
  }
}

resource "kubernetes_stateful_set_v1" "postgres" {
  metadata {
    name      = "postgres"
    namespace = kubernetes_namespace_v1.weather.metadata[0].name
    labels    = local.postgres_labels
  }

  spec {
    service_name = kubernetes_service_v1.postgres_headless.metadata[0].name
    replicas     = 1

    selector {
      match_labels = local.postgres_selector
    }

    template {
      metadata {
        labels = local.postgres_labels
      }

      spec {
        automount_service_account_token  = false
        enable_service_links             = false
        termination_grace_period_seconds = 60

        # The Debian postgres image's own user (uid/gid 999); fsGroup makes mounted volumes group-writable for it.
        security_context {
          run_as_non_root        = true
          run_as_user            = 999
          run_as_group           = 999
          fs_group               = 999
          fs_group_change_policy = "OnRootMismatch"

          seccomp_profile {
            type = "RuntimeDefault"
          }
        }

        container {
          name              = "postgres"
          image             = var.postgres_image
          image_pull_policy = "IfNotPresent"

          port {
            name           = "postgres"
            container_port = 5432
            protocol       = "TCP"
          }

          # Names, not secrets: plain values keep the Secret's only use by Postgres a mounted file.
          env {
            name  = "POSTGRES_USER"
            value = var.postgres_user
          }

          env {
            name  = "POSTGRES_DB"
            value = var.postgres_db
          }

          # The password is read from a mounted file, so it never sits in the process environment.
          env {
            name  = "POSTGRES_PASSWORD_FILE"
            value = "/run/secrets/postgres/POSTGRES_PASSWORD"
          }

          # A subdirectory: the volume's root may hold lost+found, which initdb refuses.
          env {
            name  = "PGDATA"
            value = "/var/lib/postgresql/data/pgdata"
          }

          resources {
            requests = {
              cpu    = var.postgres_resources.requests_cpu
              memory = var.postgres_resources.requests_memory
            }
            limits = {
              cpu    = var.postgres_resources.limits_cpu
              memory = var.postgres_resources.limits_memory
            }
          }

          # initdb on first start takes a while; the startup probe holds off liveness until the server answers.
          startup_probe {
            exec {
              command = ["pg_isready", "--host=127.0.0.1", "--port=5432", "--username=${var.postgres_user}", "--dbname=${var.postgres_db}"]
            }
            period_seconds    = 5
            timeout_seconds   = 5
            failure_threshold = 60
          }

          readiness_probe {
            exec {
              command = ["pg_isready", "--host=127.0.0.1", "--port=5432", "--username=${var.postgres_user}", "--dbname=${var.postgres_db}"]
            }
            initial_delay_seconds = 5
            period_seconds        = 10
            timeout_seconds       = 5
            failure_threshold     = 3
          }

          liveness_probe {
            exec {
              command = ["pg_isready", "--host=127.0.0.1", "--port=5432", "--username=${var.postgres_user}", "--dbname=${var.postgres_db}"]
            }
            initial_delay_seconds = 30
            period_seconds        = 20
            timeout_seconds       = 5
            failure_threshold     = 6
          }

          security_context {
            run_as_non_root            = true
            run_as_user                = 999
            run_as_group               = 999
            allow_privilege_escalation = false
            privileged                 = false
            read_only_root_filesystem  = true

            capabilities {
              drop = ["ALL"]
            }
          }

          volume_mount {
            name       = "data"
            mount_path = "/var/lib/postgresql/data"
          }
          # With a read-only root filesystem these are the only places Postgres writes besides PGDATA.
          volume_mount {
            name       = "run"
            mount_path = "/var/run/postgresql"
          }
          volume_mount {
            name       = "tmp"
            mount_path = "/tmp"
          }
          volume_mount {
            name       = "credentials"
            mount_path = "/run/secrets/postgres"
            read_only  = true
          }
        }

        volume {
          name = "data"
          persistent_volume_claim {
            claim_name = kubernetes_persistent_volume_claim_v1.postgres_data.metadata[0].name
          }
        }
        volume {
          name = "run"
          empty_dir {
            medium     = "Memory"
            size_limit = "16Mi"
          }
        }
        volume {
          name = "tmp"
          empty_dir {
            size_limit = "256Mi"
          }
        }
        volume {
          name = "credentials"
          secret {
            secret_name = kubernetes_secret_v1.postgres.metadata[0].name
            # Owned by root with group fsGroup (999): group-readable is what lets the postgres user read it.
            default_mode = "0440"
            items {
              key  = "POSTGRES_PASSWORD"
              path = "POSTGRES_PASSWORD"
            }
          }
        }
      }
    }
  }
}

# Deny all ingress in the namespace, then admit Postgres connections from the ingest and heal pods and
# from the host through Kind's published port. (kindnet enforces NetworkPolicy since Kind v0.24.)
resource "kubernetes_network_policy_v1" "default_deny_ingress" {
  metadata {
    name      = "default-deny-ingress"
    namespace = kubernetes_namespace_v1.weather.metadata[0].name
  }

  spec {
    pod_selector {}
    policy_types = ["Ingress"]
  }
}

resource "kubernetes_network_policy_v1" "postgres_ingress" {
  metadata {
    name      = "postgres-ingress"
    namespace = kubernetes_namespace_v1.weather.metadata[0].name
    labels    = local.postgres_labels
  }

  spec {
    pod_selector {
      match_labels = local.postgres_selector
    }
    policy_types = ["Ingress"]

    ingress {
      from {
        pod_selector {
          match_labels = local.ingest_selector
        }
      }
      from {
        pod_selector {
          match_labels = local.heal_selector
        }
      }
      from {
        pod_selector {
          match_labels = local.migrate_selector
        }
      }
      from {
        ip_block {
          cidr = var.host_access_cidr
        }
      }

      ports {
        port     = "postgres"
        protocol = "TCP"
      }
    }
  }
}
