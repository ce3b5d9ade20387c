# linerate: `make demo` and `make test` on a fresh Debian machine, as root.
# Both install whatever Debian packages are missing first.

SHELL := /bin/bash
CARGO ?= cargo

# clang/llvm build the XDP program; m4, libelf, zlib and libpcap build the
# vendored libbpf and libxdp; iproute2 builds the lab; tshark checks the
# frames linerate writes, and ethtool reads veth queue counters, in the tests.
DEB_PACKAGES := clang llvm m4 libelf-dev zlib1g-dev libpcap-dev pkg-config make gcc iproute2 tshark ethtool

.PHONY: all deps build demo test bench fuzz clean vm-deps test-vm

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

test: deps
	@mkdir -p target
	set -o pipefail; $(CARGO) test --workspace --all-targets --no-fail-fast 2>&1 | tee target/test.log
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
	set -o pipefail; $(CARGO) test --release --no-run -p linerate-engine -p linerate 2>&1 | \
		tee target/vm/build.log | sed -n 's|^ *Executable tests/\([a-z_]*\)\.rs (\(.*\))$$|\1 \2|p' > target/vm/test-binaries.txt
	python3 tests/vm/vm_lab.py --host-features $(foreach kernel,$(VM_KERNELS),--kernel $(kernel)) $(foreach check,$(VM_CHECKS),--check $(check))

clean:
	$(CARGO) clean
