# A stand-in for modules/cnpg-database: terraform_data resources only, so
# plans and applies need no provider and no cluster.

variable "items" {
  type = set(string)
}

variable "label" {
  type = string
}

variable "generation" {
  type = string
}

variable "note" {
  type = string
}

variable "password" {
  type      = string
  sensitive = true
}

variable "fail" {
  type = bool
}

variable "slow" {
  type = bool
}

variable "pid_file" {
  type = string
}

variable "env_file" {
  type = string
}

# One instance per item: adding or removing items creates or deletes.
resource "terraform_data" "item" {
  for_each = var.items
  input    = each.key
}

# Changing the label updates in place.
resource "terraform_data" "label" {
  input = var.label
}

# Changing the generation replaces both, one of each kind of replacement.
resource "terraform_data" "gen" {
  triggers_replace = var.generation
}

resource "terraform_data" "gen_cbd" {
  triggers_replace = var.generation

  lifecycle {
    create_before_destroy = true
  }
}

resource "terraform_data" "secret" {
  input = var.password
}

# A value that is not sensitive to terraform, but is to the runner.
resource "terraform_data" "note" {
  count = var.note == "" ? 0 : 1
  input = var.note
}

resource "terraform_data" "fail" {
  count = var.fail ? 1 : 0

  provisioner "local-exec" {
    command = "echo 'cannot go on with ${var.note}' >&2; exit 1"
  }
}

# The shell's child outlives the shell when terraform is interrupted.
resource "terraform_data" "slow" {
  count = var.slow ? 1 : 0

  provisioner "local-exec" {
    command = "sleep 30 & echo $! > '${var.pid_file}'; wait"
  }
}

resource "terraform_data" "env" {
  count = var.env_file == "" ? 0 : 1

  provisioner "local-exec" {
    command = "env > '${var.env_file}'"
  }
}

output "label" {
  value = terraform_data.label.output
}

output "items" {
  value = sort([for i in terraform_data.item : i.output])
}

output "password" {
  value     = terraform_data.secret.output
  sensitive = true
}
