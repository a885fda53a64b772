# ClustroPG. `make test` is what CI runs (.ci/run); it builds the offline
# toolchain first (`make tools`, cached in .tools/).

GO      ?= go
TOOLS   := $(CURDIR)/.tools
BIN     := $(CURDIR)/bin
PKGS    := ./...

# Tests find terraform's CLI config (the offline provider mirror) and the
# control plane binaries here.
export TF_CLI_CONFIG_FILE := $(TOOLS)/terraformrc
export CLUSTRO_TOOLS      := $(TOOLS)

.PHONY: all build tools test lint unit bench fuzz load clean demo

all: build

build: ## build bin/clustro
	$(GO) build -o $(BIN)/clustro ./cmd/clustro

tools: ## build the offline toolchain into .tools/ (cached; see scripts/tools.sh)
	./scripts/tools.sh

demo: tools build ## the whole loop on this machine, from a Slack mention to psql (ARGS=--keep leaves it running)
	$(GO) build -o $(BIN)/clustro-demo ./cmd/clustro-demo
	$(BIN)/clustro-demo $(ARGS)

lint: ## gofmt and go vet
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.tools/*')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

test: tools lint ## lint, then every test (unit, integration, end-to-end)
	$(GO) test -count=1 -timeout 20m $(PKGS)

bench: ## benchmarks quoted in the README
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

load: build ## load suite against a real clustro serve (not part of make test): the README's benchmark table, then unauthenticated bodies
	$(GO) run ./cmd/clustro-load -clustro $(BIN)/clustro $(ARGS)
	$(GO) run ./server/bodyload -clustro $(BIN)/clustro

fuzz: ## run the fuzz targets, a minute each: render/verify, hostile edits of workspaces, signed webhooks
	$(GO) test -run '^$$' -fuzz '^FuzzRenderVerify$$' -fuzztime 60s ./templates
	$(GO) test -run '^$$' -fuzz '^FuzzVerifyHostile$$' -fuzztime 60s -fuzzminimizetime 0 ./templates
	$(GO) test -run '^$$' -fuzz '^FuzzWebhook$$' -fuzztime 60s -fuzzminimizetime 5s ./gitops

clean:
	rm -rf $(BIN)
