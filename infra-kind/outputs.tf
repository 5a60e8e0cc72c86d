output "cluster_name" {
  description = "Kind cluster name (for `kind load docker-image --name ...` and `kind delete cluster --name ...`)."
  value       = kind_cluster.this.name
}

output "kubeconfig_path" {
  description = "kubeconfig for the cluster: `export KUBECONFIG=$(terraform -chdir=infra-kind output -raw kubeconfig_path)`."
  value       = kind_cluster.this.kubeconfig_path
}

output "namespace" {
  description = "Namespace holding Postgres and the ingest CronJob."
  value       = kubernetes_namespace_v1.weather.metadata[0].name
}

output "postgres_host" {
  description = "Host address where Kind publishes Postgres (loopback only)."
  value       = "127.0.0.1"
}

output "postgres_port" {
  description = "Host port where Kind publishes Postgres."
  value       = var.postgres_host_port
}

output "postgres_user" {
  description = "Application role."
  value       = var.postgres_user
}

output "postgres_db" {
  description = "Application database."
  value       = var.postgres_db
}

output "postgres_password" {
  description = "Generated Postgres password (also in the postgres-credentials Secret)."
  value       = random_password.postgres.result
  sensitive   = true
}

output "database_url" {
  description = "Ready-to-use DATABASE_URL for the host: `export DATABASE_URL=$(terraform -chdir=infra-kind output -raw database_url)`."
  value       = "postgres://${var.postgres_user}:${urlencode(random_password.postgres.result)}@127.0.0.1:${var.postgres_host_port}/${var.postgres_db}"
  sensitive   = true
}

output "database_url_in_cluster" {
  description = "DATABASE_URL as pods in the cluster see it (the value the ingest CronJob gets)."
  value       = "postgres://${var.postgres_user}:${urlencode(random_password.postgres.result)}@${local.postgres_service_host}:5432/${var.postgres_db}"
  sensitive   = true
}

output "ingest_cronjob" {
  description = "Name of the ingest CronJob (trigger a run: kubectl -n <namespace> create job --from=cronjob/<name> manual-1)."
  value       = kubernetes_cron_job_v1.ingest.metadata[0].name
}

output "heal_cronjob" {
  description = "Name of the daily heal CronJob (run it now: kubectl -n <namespace> create job --from=cronjob/<name> heal-now)."
  value       = kubernetes_cron_job_v1.heal.metadata[0].name
}
