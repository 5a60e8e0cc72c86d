# A single-node Kind cluster with Postgres published on the host's loopback, the hourly ingest and
# the daily heal.
# The Kubernetes provider is configured from the cluster this same configuration creates, so one
# `terraform apply` builds everything; `terraform destroy` removes the cluster and with it all state.

provider "kind" {}

provider "kubernetes" {
  host                   = kind_cluster.this.endpoint
  client_certificate     = kind_cluster.this.client_certificate
  client_key             = kind_cluster.this.client_key
  cluster_ca_certificate = kind_cluster.this.cluster_ca_certificate
}

locals {
  postgres_labels = {
    "app.kubernetes.io/name"       = "postgres"
    "app.kubernetes.io/part-of"    = "weather-dataops"
    "app.kubernetes.io/managed-by" = "terraform"
  }
  postgres_selector = { "app.kubernetes.io/name" = "postgres" }

  ingest_labels = {
    "app.kubernetes.io/name"       = "weather-ingest"
    "app.kubernetes.io/part-of"    = "weather-dataops"
    "app.kubernetes.io/managed-by" = "terraform"
  }
  ingest_selector = { "app.kubernetes.io/name" = "weather-ingest" }

  # In-cluster DNS name of the Postgres Service; the ingest connects through it.
  postgres_service_host = "postgres.${var.namespace}.svc.cluster.local"
}

resource "kind_cluster" "this" {
  name            = var.cluster_name
  node_image      = var.kind_node_image
  wait_for_ready  = true
  kubeconfig_path = abspath("${path.root}/${var.cluster_name}.kubeconfig")

  kind_config {
    kind        = "Cluster"
    api_version = "kind.x-k8s.io/v1alpha4"

    node {
      role = "control-plane"

      # The host reaches Postgres at 127.0.0.1:<postgres_host_port>: Docker publishes the node container's
      # NodePort there. Loopback only, so the database is not exposed on the host's network.
      extra_port_mappings {
        container_port = var.postgres_node_port
        host_port      = var.postgres_host_port
        listen_address = "127.0.0.1"
        protocol       = "TCP"
      }
    }
  }
}

resource "kubernetes_namespace_v1" "weather" {
  metadata {
    name = var.namespace
    labels = {
      "app.kubernetes.io/part-of" = "weather-dataops"
      # Every pod here must meet the "restricted" Pod Security Standard; the API server rejects any that don't.
      "pod-security.kubernetes.io/enforce"         = "restricted"
      "pod-security.kubernetes.io/enforce-version" = "latest"
    }
  }
}
