#!/usr/bin/env bash
# Builds the offline toolchain ClustroPG's tests and demo need into .tools/
# (and installs Debian's postgresql-15 and barman-cli-cloud when missing):
#   .tools/bin/etcd, .tools/bin/kube-apiserver     the test control plane
#   .tools/bin/minio                               S3 object store for backups (internal/barman)
#   .tools/providers/...                           the kubectl provider as a filesystem mirror
#   .tools/bin/tofu                                only when no terraform is on PATH
#   .tools/bin/helm                                renders the chart for its dry-run test
#   .tools/terraformrc                             CLI config pointing terraform at the mirror
# Every piece comes from the Go module proxy and is rebuilt only when its pinned
# version (the wrapper's go.mod) changes. See ../shared/E2E-TOOLS.md.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
tools="$root/.tools"
bin="$tools/bin"
mkdir -p "$bin" "$tools/stamps"

KUBECTL_PROVIDER_VERSION=1.19.0
HELM_VERSION=v3.22.0
OPENTOFU_VERSION=v1.10.6

step() { printf '==> %s\n' "$*" >&2; }

# fresh NAME KEY: true when the stamp for NAME does not match KEY.
fresh() { [ "$(cat "$tools/stamps/$1" 2>/dev/null)" != "$2" ]; }
stamp() { printf '%s' "$2" >"$tools/stamps/$1"; }

build_wrapper() { # name
	local name=$1 dir="$root/tools/$1"
	local key
	key=$(cat "$dir/go.mod" "$dir/go.sum" "$dir/main.go" | sha256sum | cut -c1-16)
	if [ -x "$bin/$name" ] && ! fresh "$name" "$key"; then
		step "$name: cached"
		return
	fi
	step "$name: building from the Go module proxy (a few minutes on 2 cores, once)"
	(cd "$dir" && go build -trimpath -o "$bin/$name.tmp" .)
	mv "$bin/$name.tmp" "$bin/$name"
	stamp "$name" "$key"
	step "$name: built"
}

build_provider() {
	local dest="$tools/providers/registry.terraform.io/gavinbunney/kubectl/$KUBECTL_PROVIDER_VERSION/linux_amd64"
	local file="$dest/terraform-provider-kubectl_v$KUBECTL_PROVIDER_VERSION"
	if [ -x "$file" ]; then
		step "kubectl provider $KUBECTL_PROVIDER_VERSION: cached"
		return
	fi
	step "kubectl provider $KUBECTL_PROVIDER_VERSION: building (about 1.5 minutes, once)"
	mkdir -p "$dest" "$tools/build"
	GOBIN="$tools/build" go install "github.com/gavinbunney/terraform-provider-kubectl@v$KUBECTL_PROVIDER_VERSION"
	mv "$tools/build/terraform-provider-kubectl" "$file"
	step "kubectl provider: built"
}

# helm renders the chart in deploy/helm for its server-side dry-run test.
build_helm() {
	if [ -x "$bin/helm" ] && ! fresh helm "$HELM_VERSION"; then
		step "helm $HELM_VERSION: cached"
		return
	fi
	step "helm $HELM_VERSION: building from the Go module proxy (about 2 minutes, once)"
	mkdir -p "$tools/build"
	GOBIN="$tools/build" go install "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
	mv "$tools/build/helm" "$bin/helm"
	stamp helm "$HELM_VERSION"
	step "helm: built"
}

# OpenTofu resolves gavinbunney/kubectl on registry.opentofu.org: mirror the
# same binary under that hostname too.
mirror_for_tofu() {
	local dir="$tools/providers/registry.opentofu.org/gavinbunney"
	mkdir -p "$dir"
	ln -sfn ../../registry.terraform.io/gavinbunney/kubectl "$dir/kubectl"
}

terraform_binary() {
	if [ -n "${CLUSTRO_TERRAFORM:-}" ]; then
		step "terraform: using CLUSTRO_TERRAFORM=$CLUSTRO_TERRAFORM"
		return
	fi
	if command -v terraform >/dev/null 2>&1; then
		step "terraform: $(command -v terraform)"
		return
	fi
	if command -v tofu >/dev/null 2>&1; then
		step "terraform: none; using OpenTofu $(command -v tofu)"
		return
	fi
	if [ -x "$bin/tofu" ] && ! fresh tofu "$OPENTOFU_VERSION"; then
		step "terraform: none on PATH; OpenTofu $OPENTOFU_VERSION cached"
		return
	fi
	step "terraform: none on PATH; building OpenTofu $OPENTOFU_VERSION (several minutes, once)"
	(cd "$root/tools/tofu" && go build -mod=mod -trimpath -o "$bin/tofu" github.com/opentofu/opentofu/cmd/tofu)
	stamp tofu "$OPENTOFU_VERSION"
}

# PostgreSQL 15 server binaries (Debian's postgresql-15) run the throwaway
# servers of the store tests and the operator stand-in. Installed from
# Debian's packages when missing and we may.
postgres_binaries() {
	if [ -x /usr/lib/postgresql/15/bin/pg_ctl ]; then
		step "postgresql-15: /usr/lib/postgresql/15/bin"
		return
	fi
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		step "postgresql-15: installing from Debian's packages"
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql-15 >/dev/null ||
			{ apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql-15 >/dev/null; }
		# Debian starts a cluster on install; the tests run their own.
		command -v pg_ctlcluster >/dev/null 2>&1 && pg_ctlcluster 15 main stop 2>/dev/null || true
		return
	fi
	echo "tools.sh: PostgreSQL 15 server binaries are missing: run \`apt-get install postgresql-15\` as root" >&2
	exit 1
}

# barman-cloud-backup and friends (Debian's barman-cli-cloud, with boto3 for
# S3) take the base backups and archive the WAL of the backup tests
# (internal/barman). Installed from Debian's packages when missing and we may.
barman_tools() {
	local bin py
	# boto3 must import in the interpreter barman runs with (its #! line).
	if bin=$(command -v barman-cloud-backup) && py=$(sed -n '1s/^#! *//p' "$bin") && $py -c 'import boto3' 2>/dev/null; then
		step "barman-cloud: $bin"
		return
	fi
	local pkgs="barman-cli-cloud python3-boto3"
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		step "barman-cloud: installing $pkgs from Debian's packages"
		# shellcheck disable=SC2086
		if DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $pkgs >/dev/null ||
			{ apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $pkgs >/dev/null; }; then
			command -v barman-cloud-backup >/dev/null 2>&1 && return
		fi
		echo "tools.sh: installing $pkgs failed: run \`apt-get update && apt-get install -y $pkgs\` as root and look at its errors" >&2
		exit 1
	fi
	echo "tools.sh: barman-cloud-backup (or python3's boto3) is missing: run \`apt-get install -y $pkgs\` as root" >&2
	exit 1
}

write_cli_config() {
	cat >"$tools/terraformrc" <<CFG
# Written by scripts/tools.sh: install the kubectl provider from the local mirror, offline.
provider_installation {
  filesystem_mirror {
    path    = "$tools/providers"
    include = ["registry.terraform.io/gavinbunney/kubectl", "registry.opentofu.org/gavinbunney/kubectl"]
  }
  direct {
    exclude = ["registry.terraform.io/gavinbunney/kubectl", "registry.opentofu.org/gavinbunney/kubectl"]
  }
}
CFG
}

want=${*:-postgres barman provider terraform etcd kube-apiserver minio helm}
for t in $want; do
	case $t in
	postgres) postgres_binaries ;;
	provider) build_provider && mirror_for_tofu ;;
	terraform) terraform_binary ;;
	barman) barman_tools ;;
	etcd | kube-apiserver | minio) build_wrapper "$t" ;;
	helm) build_helm ;;
	*) echo "tools.sh: unknown tool $t (known: postgres barman provider terraform etcd kube-apiserver minio helm)" >&2; exit 2 ;;
	esac
done
write_cli_config
step "tools ready in $tools"
