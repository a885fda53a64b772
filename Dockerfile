# ClustroPG: clustro serve with terraform and the kubectl provider baked in,
# so nothing is downloaded at run time.
#
#   docker build -t clustro .
#   docker run -p 8080:8080 -e CLUSTRO_GITHUB_REPO=... clustro

ARG GO_VERSION=1.26
ARG TERRAFORM_VERSION=1.11.4

FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/clustro ./cmd/clustro
# The provider, laid out as a filesystem mirror for both registry hostnames
# (terraform and OpenTofu), with the CLI config that uses it.
RUN CGO_ENABLED=0 GOBIN=/out/build go install github.com/gavinbunney/terraform-provider-kubectl@v1.19.0 && \
    mkdir -p /out/providers/registry.terraform.io/gavinbunney/kubectl/1.19.0/linux_amd64 \
             /out/providers/registry.opentofu.org/gavinbunney && \
    mv /out/build/terraform-provider-kubectl \
       /out/providers/registry.terraform.io/gavinbunney/kubectl/1.19.0/linux_amd64/terraform-provider-kubectl_v1.19.0 && \
    ln -s ../../registry.terraform.io/gavinbunney/kubectl /out/providers/registry.opentofu.org/gavinbunney/kubectl && \
    printf '%s\n' \
      'provider_installation {' \
      '  filesystem_mirror {' \
      '    path    = "/opt/clustro/providers"' \
      '    include = ["registry.terraform.io/gavinbunney/kubectl", "registry.opentofu.org/gavinbunney/kubectl"]' \
      '  }' \
      '  direct {' \
      '    exclude = ["registry.terraform.io/gavinbunney/kubectl", "registry.opentofu.org/gavinbunney/kubectl"]' \
      '  }' \
      '}' > /out/terraformrc

FROM hashicorp/terraform:${TERRAFORM_VERSION} AS terraform

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=terraform /bin/terraform /usr/local/bin/terraform
COPY --from=build /out/clustro /usr/local/bin/clustro
COPY --from=build /out/providers /opt/clustro/providers
COPY --from=build /out/terraformrc /opt/clustro/terraformrc
ENV CLUSTRO_TERRAFORM=/usr/local/bin/terraform \
    CLUSTRO_TERRAFORM_CLI_CONFIG=/opt/clustro/terraformrc \
    CLUSTRO_LISTEN=:8080 \
    CLUSTRO_STORE=/var/lib/clustro/clustro.db
# distroless "nonroot": uid 65532
USER 65532:65532
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 CMD ["/usr/local/bin/clustro", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/clustro"]
CMD ["serve"]
