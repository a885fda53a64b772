# A workspace laid out as templates renders them: one module call with a
# relative source. Tests add backend.tf (a local backend with an absolute
# path) and settings.auto.tfvars.json to a copy.

variable "items" {
  type    = set(string)
  default = ["a", "b"]
}

variable "label" {
  type    = string
  default = "v1"
}

variable "generation" {
  type    = string
  default = "1"
}

variable "note" {
  type    = string
  default = ""
}

variable "password" {
  type      = string
  sensitive = true
  default   = "default-password"
}

variable "fail" {
  type    = bool
  default = false
}

variable "slow" {
  type    = bool
  default = false
}

variable "pid_file" {
  type    = string
  default = ""
}

variable "env_file" {
  type    = string
  default = ""
}

module "database" {
  source = "../../../../modules/m"

  items      = var.items
  label      = var.label
  generation = var.generation
  note       = var.note
  password   = var.password
  fail       = var.fail
  slow       = var.slow
  pid_file   = var.pid_file
  env_file   = var.env_file
}

output "label" {
  value = module.database.label
}

output "items" {
  value = module.database.items
}

output "password" {
  value     = module.database.password
  sensitive = true
}
