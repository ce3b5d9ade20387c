#!/usr/bin/env python3
"""VM lab runner: boots Debian kernels under qemu and runs check scripts inside.

This file owns the host side of the VM lab. It knows nothing about linerate:
it fetches and caches Debian kernel packages (apt-get download + dpkg-deb -x),
puts their modules under /lib/modules/<version> (depmod), boots each kernel on
the host's own root file system with virtme-ng, runs the check scripts of
tests/vm/checks/ inside through tests/vm/guest.sh, reads the rows and
features they wrote into the VM's --rwdir directory (console output under
qemu is unreliable), and prints and writes a pass/fail table per kernel and a
kernel feature table. The qemu it starts is killed by its process group id on
every exit path; the checks remove what they create inside the VM.

Exit status: 0 every row passed or was skipped, 1 a row failed or a VM did not
finish, 2 bad arguments or a broken environment. With --skip-without-qemu, a
machine where qemu cannot run at all prints the reason and exits 0.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
VM_DIR = Path(__file__).resolve().parent
CHECKS_DIR = VM_DIR / "checks"

# Short kernel names and the Debian package each resolves through: the
# versioned package the metapackage depends on.
KERNEL_METAPACKAGES = {
    "6.1": "linux-image-amd64",
    "6.12": "linux-image-6.12-amd64",
}


class RunnerError(Exception):
    """An environment or argument problem, reported in one line, exit 2."""


@dataclass
class Row:
    """One check's result: a row of a kernel's table."""

    check: str
    name: str
    status: str
    seconds: float
    detail: str


@dataclass
class KernelRun:
    """What one boot of one kernel produced."""

    label: str
    version: str
    wall_seconds: float = 0.0
    finished: bool = False
    rows: list[Row] = field(default_factory=list)
    features: dict[str, str] = field(default_factory=dict)
    problem: str = ""


def run_quiet(command: list[str], cwd: Path | None = None) -> str:
    """Runs a command, returns its stdout; raises RunnerError naming it on failure."""
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise RunnerError(f"`{shlex.join(command)}` failed: {last}")
    return result.stdout


def resolve_package(label: str) -> str:
    """The versioned linux-image package a short kernel name stands for."""
    if label.startswith("linux-image-"):
        return label
    meta = KERNEL_METAPACKAGES.get(label)
    if meta is None:
        known = ", ".join(KERNEL_METAPACKAGES)
        raise RunnerError(f"--kernel {label}: unknown kernel; use one of {known} or a linux-image-* package name")
    for attempt in range(2):
        depends = subprocess.run(["apt-cache", "depends", meta], capture_output=True, text=True).stdout
        match = re.search(r"Depends: (linux-image-\S+)", depends)
        if match:
            return match.group(1)
        if attempt == 0:
            subprocess.run(["apt-get", "update", "-qq"], capture_output=True)
    raise RunnerError(f"--kernel {label}: apt-cache knows no package {meta}; check the apt sources (Debian 12)")


def kernel_version(package: str) -> str:
    """linux-image-6.1.0-56-amd64 -> 6.1.0-56-amd64."""
    return package.removeprefix("linux-image-")


def fetch_kernel(package: str, cache: Path) -> Path:
    """Downloads and unpacks a kernel package once; returns its vmlinuz."""
    version = kernel_version(package)
    tree = cache / version
    vmlinuz = tree / "boot" / f"vmlinuz-{version}"
    if not vmlinuz.exists():
        cache.mkdir(parents=True, exist_ok=True)
        print(f"vm-lab: downloading {package}", flush=True)
        for stale in cache.glob(f"{package}_*.deb"):
            stale.unlink()
        run_quiet(["apt-get", "download", package], cwd=cache)
        debs = sorted(cache.glob(f"{package}_*.deb"))
        if not debs:
            raise RunnerError(f"apt-get download {package} left no .deb in {cache}")
        partial = cache / f"{version}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        run_quiet(["dpkg-deb", "-x", str(debs[-1]), str(partial)])
        shutil.rmtree(tree, ignore_errors=True)
        partial.rename(tree)
        debs[-1].unlink()
    if not vmlinuz.exists():
        raise RunnerError(f"{package}: no boot/vmlinuz-{version} in the package")
    install_modules(tree, version)
    return vmlinuz


def install_modules(tree: Path, version: str) -> None:
    """Copies the kernel's modules to /lib/modules/<version> and runs depmod."""
    source = tree / "lib" / "modules" / version
    target = Path("/lib/modules") / version
    if not (target / "modules.dep").exists():
        print(f"vm-lab: installing modules to {target}", flush=True)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(source, target, symlinks=True, dirs_exist_ok=True)
        run_quiet(["depmod", version])


def qemu_problem() -> str:
    """Why qemu cannot run here at all, or "" when it can."""
    for tool in ("qemu-system-x86_64", "vng", "busybox", "depmod"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (make vm-deps installs it)"
    try:
        # An empty machine, started and told to quit: does qemu run at all?
        probe = subprocess.run(
            ["qemu-system-x86_64", "-machine", "none", "-accel", "tcg", "-nodefaults",
             "-no-user-config", "-display", "none", "-monitor", "stdio"],
            input="quit\n", capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        return "qemu-system-x86_64 did not start and quit within 30 s"
    if probe.returncode != 0:
        return f"qemu-system-x86_64 does not start: {probe.stderr.strip()[:200]}"
    return ""


def kvm_usable() -> bool:
    """True when /dev/kvm opens and the CPU has hardware virtualisation."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
        fd = os.open("/dev/kvm", os.O_RDWR)
        os.close(fd)
    except OSError:
        return False
    return re.search(r"\b(vmx|svm)\b", flags) is not None


class Vm:
    """One qemu (through vng) in its own process group; stop() kills that group."""

    def __init__(self, command: list[str], log: Path):
        self.log = log.open("w")
        # A new session makes the vng process the leader of a group that
        # holds qemu too, so one killpg by its id ends exactly what we started.
        self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=self.log,
                                        stderr=subprocess.STDOUT, start_new_session=True)

    def wait(self, timeout: float) -> bool:
        """Waits for the VM to power off; False on timeout."""
        try:
            self.process.wait(timeout=timeout)
            return True
        except subprocess.TimeoutExpired:
            return False

    def stop(self) -> None:
        """Kills the VM's process group (SIGTERM, then SIGKILL) if it still runs."""
        group = self.process.pid
        for sig, grace in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(group, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + grace
            while time.monotonic() < deadline and group_alive(group):
                time.sleep(0.1)
            if not group_alive(group):
                break
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        self.log.close()


def group_alive(group: int) -> bool:
    """True while any process of process group `group` exists."""
    try:
        os.killpg(group, 0)
        return True
    except ProcessLookupError:
        return False


def parse_results(path: Path, run: KernelRun) -> None:
    """Reads the ROW/FEATURE/DONE lines guest.sh and the checks wrote."""
    if not path.exists():
        return
    for line in path.read_text(errors="replace").splitlines():
        parts = line.split("\t")
        if parts[0] == "ROW" and len(parts) >= 6:
            seconds = float(parts[4]) if re.fullmatch(r"[0-9.]+", parts[4]) else 0.0
            run.rows.append(Row(parts[1], parts[2], parts[3], seconds, "\t".join(parts[5:])))
        elif parts[0] == "FEATURE" and len(parts) >= 3:
            run.features[parts[1]] = "\t".join(parts[2:])
        elif parts[0] == "BOOTED" and len(parts) >= 2:
            run.version = parts[1]
        elif parts[0] == "DONE":
            run.finished = True


def guest_command(rwdir: Path, checks: list[str], env: dict[str, str]) -> str:
    """The shell command the VM runs: guest.sh with the checks, then power-off."""
    # VM_GUEST=1 tells the checks they are inside a VM (some refuse the host).
    assignments = " ".join(f"{key}={shlex.quote(value)}" for key, value in {"VM_GUEST": "1", **env}.items())
    arguments = " ".join(shlex.quote(check) for check in checks)
    return f"{assignments} bash {shlex.quote(str(VM_DIR / 'guest.sh'))} {shlex.quote(str(rwdir))} {arguments}"


def boot(label: str, vmlinuz: Path, version: str, args: argparse.Namespace, checks: list[str]) -> KernelRun:
    """Boots one kernel, runs the checks inside, returns what they reported."""
    run = KernelRun(label=label, version=version)
    rwdir = Path(args.out).resolve() / version
    shutil.rmtree(rwdir, ignore_errors=True)
    rwdir.mkdir(parents=True)
    env = dict(item.split("=", 1) for item in args.env)
    command = ["vng", "--run", str(vmlinuz), "--force-9p", "-m", args.memory, "-p", str(args.cpus),
               "--rwdir", str(rwdir), "-v", "--exec", guest_command(rwdir, checks, env)]
    if not kvm_usable():
        command.insert(3, "--disable-kvm")
    print(f"vm-lab: booting {version} ({'KVM' if '--disable-kvm' not in command else 'TCG, no KVM'}), "
          f"checks: {' '.join(checks)}", flush=True)
    started = time.monotonic()
    vm = Vm(command, rwdir / "console.log")
    try:
        if not vm.wait(args.timeout):
            run.problem = f"the VM did not power off within {args.timeout:.0f} s; killed"
    finally:
        vm.stop()
    run.wall_seconds = time.monotonic() - started
    parse_results(rwdir / "results.txt", run)
    if not run.finished and not run.problem:
        run.problem = f"the VM stopped before the checks finished (see {rwdir / 'console.log'})"
    return run


def host_features(args: argparse.Namespace) -> KernelRun:
    """Runs the features check on the host itself, for the table's host column."""
    run = KernelRun(label="host", version=os.uname().release)
    outdir = Path(args.out).resolve() / "host"
    shutil.rmtree(outdir, ignore_errors=True)
    outdir.mkdir(parents=True)
    started = time.monotonic()
    env = dict(os.environ, **dict(item.split("=", 1) for item in args.env))
    with (outdir / "console.log").open("w") as log:
        subprocess.run(["bash", str(VM_DIR / "guest.sh"), str(outdir), "features"], env=env,
                       stdout=log, stderr=subprocess.STDOUT, timeout=args.timeout)
    run.wall_seconds = time.monotonic() - started
    parse_results(outdir / "results.txt", run)
    return run


def results_table(run: KernelRun) -> str:
    """A kernel's pass/fail table in markdown, one row per check."""
    lines = [f"### {run.version} ({run.label}): {run.wall_seconds:.0f} s wall",
             "", "| check | result | seconds | detail |", "| --- | --- | --- | --- |"]
    for row in run.rows:
        detail = row.detail.replace("|", "\\|")
        lines.append(f"| {row.check}: {row.name} | {row.status.upper()} | {row.seconds:.1f} | {detail} |")
    if run.problem:
        lines.append(f"| VM | FAIL | {run.wall_seconds:.0f} | {run.problem} |")
    return "\n".join(lines) + "\n"


def missing_cell(run: KernelRun) -> str:
    """A feature cell with no measurement: the host runs only the features check."""
    return "(VM only)" if run.label == "host" else "not measured"


def feature_table(runs: list[KernelRun]) -> str:
    """The kernel feature table: one row per feature, one column per kernel."""
    names: list[str] = []
    for run in runs:
        names.extend(name for name in run.features if name not in names)
    if not names:
        return ""
    header = "| feature | " + " | ".join(f"{run.version}" for run in runs) + " |"
    lines = [header, "| --- |" + " --- |" * len(runs)]
    for name in names:
        cells = [run.features.get(name, missing_cell(run)).replace("|", "\\|") for run in runs]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kernel", action="append", help="6.1, 6.12 or a linux-image-* package (repeatable; default both)")
    parser.add_argument("--check", action="append", help="a check under tests/vm/checks/ (repeatable; default: those in checks/default.list)")
    parser.add_argument("--env", action="append", default=[], help="KEY=VALUE given to the checks (repeatable)")
    parser.add_argument("--host-features", action="store_true", help="also measure the features check on the host kernel")
    parser.add_argument("--smoke", action="store_true",
                        help="one short boot: the quickstart check only, 2 s, on 6.12 (unless --kernel), results in OUT/smoke")
    parser.add_argument("--skip-without-qemu", action="store_true", help="exit 0 with the reason when qemu cannot run at all")
    parser.add_argument("--cache", default=str(REPO / "target" / "vm-kernels"), help="where kernel packages are unpacked")
    parser.add_argument("--out", default=str(REPO / "target" / "vm"), help="results directory (the VMs' --rwdir lives here)")
    parser.add_argument("--timeout", type=float, default=1200.0, help="longest a VM may run, seconds")
    parser.add_argument("--memory", default="2G")
    parser.add_argument("--cpus", type=int, default=2)
    args = parser.parse_args(argv)
    for item in args.env:
        if "=" not in item:
            parser.error(f"--env {item}: give KEY=VALUE")
    if args.smoke:
        args.kernel = args.kernel or ["6.12"]
        args.check = args.check or ["quickstart"]
        args.env = ["QUICKSTART_SECONDS=2"] + args.env
        args.out = str(Path(args.out) / "smoke")
        args.timeout = min(args.timeout, 300.0)
    return args


def default_checks() -> list[str]:
    """The checks named in checks/default.list, one a line (# comments)."""
    listing = (CHECKS_DIR / "default.list").read_text().splitlines()
    return [line.split("#")[0].strip() for line in listing if line.split("#")[0].strip()]


def run_all(args: argparse.Namespace) -> int:
    checks = args.check or default_checks()
    for check in checks:
        if not (CHECKS_DIR / f"{check}.sh").exists():
            known = ", ".join(sorted(path.stem for path in CHECKS_DIR.glob("*.sh") if path.stem != "lib"))
            raise RunnerError(f"--check {check}: no tests/vm/checks/{check}.sh; checks: {known}")
    if os.geteuid() != 0:
        raise RunnerError("run as root: modules go to /lib/modules and the checks build network namespaces")
    problem = qemu_problem()
    if problem:
        if args.skip_without_qemu:
            print(f"vm-lab: SKIPPED: qemu cannot run here: {problem}")
            return 0
        raise RunnerError(problem)
    runs = []
    for label in args.kernel or list(KERNEL_METAPACKAGES):
        package = resolve_package(label)
        vmlinuz = fetch_kernel(package, Path(args.cache).resolve())
        run = boot(label, vmlinuz, kernel_version(package), args, checks)
        print(results_table(run), flush=True)
        runs.append(run)
    if args.host_features:
        runs.append(host_features(args))
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    report = "\n".join(results_table(run) for run in runs if run.label != "host")
    (out / "results.md").write_text(report)
    table = feature_table(runs)
    if table:
        (out / "kernel-table.md").write_text(table)
        print(table)
    print(f"vm-lab: wrote {out / 'results.md'}" + (f" and {out / 'kernel-table.md'}" if table else ""))
    failed = [f"{run.version}: {row.check}: {row.name}" for run in runs for row in run.rows if row.status == "fail"]
    failed += [f"{run.version}: {run.problem}" for run in runs if run.problem]
    for line in failed:
        print(f"vm-lab: FAILED {line}")
    return 1 if failed else 0


def main(argv: list[str]) -> int:
    args = parse_arguments(argv)
    # SIGTERM/SIGHUP unwind like Ctrl-C, so every Vm.stop() in a finally runs.
    def interrupted(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGHUP, interrupted)
    try:
        return run_all(args)
    except RunnerError as error:
        print(f"vm-lab: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("vm-lab: interrupted; the VM was stopped", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
