# Exact provider pins: a Kind cluster is rebuilt from scratch often, and an unpinned provider that changes a
# schema between two applies is the most common way such a stack stops working. Bump deliberately.
terraform {
  required_version = ">= 1.6.0, < 2.0.0"

  required_providers {
    kind = {
      source  = "tehcyx/kind"
      version = "0.11.0"
    }
    kubernetes = {
      source  = "hashicorp/kubernetes"
      version = "3.0.1"
    }
    random = {
      source  = "hashicorp/random"
      version = "3.7.2"
    }
  }
}
