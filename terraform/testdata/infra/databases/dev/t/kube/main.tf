# Needs the gavinbunney/kubectl provider, installed from the offline mirror
# the CLI config names. Validated only: there is no cluster.

terraform {
  required_providers {
    kubectl = {
      source  = "gavinbunney/kubectl"
      version = "1.19.0"
    }
  }
}

provider "kubectl" {
  load_config_file = false
  host             = "https://127.0.0.1:1"
}

resource "kubectl_manifest" "config" {
  yaml_body = <<-YAML
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: clustro-test
      namespace: default
    data:
      hello: world
  YAML
}
