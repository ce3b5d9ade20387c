//! Compiles the XDP programs (the receive counter, the reflector, and the
//! bare drop program the receive-cost benchmark compares the counter with) with clang into
//! OUT_DIR, where lib.rs embeds them. libbpf's own headers come from libbpf-sys (DEP_BPF_INCLUDE);
//! the kernel UAPI headers from the system, with the multiarch include
//! directory that Debian keeps `asm/types.h` in.

use std::env;
use std::path::PathBuf;
use std::process::Command;

/// Each program's source, and the object it becomes in OUT_DIR.
const PROGRAMS: [(&str, &str); 3] = [
    ("src/linerate_rx.bpf.c", "linerate_rx.bpf.o"),
    ("src/linerate_reflect.bpf.c", "linerate_reflect.bpf.o"),
    ("src/xdp_drop.bpf.c", "xdp_drop.bpf.o"),
];
const ABI_HEADER: &str = "src/linerate_abi.h";

fn main() {
    for (source, _) in PROGRAMS {
        println!("cargo:rerun-if-changed={source}");
    }
    println!("cargo:rerun-if-changed={ABI_HEADER}");
    println!("cargo:rerun-if-env-changed=CLANG");

    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let libbpf_include = env::var("DEP_BPF_INCLUDE")
        .expect("libbpf-sys exports its include directory as DEP_BPF_INCLUDE");
    let multiarch = multiarch_include();
    let clang = env::var("CLANG").unwrap_or_else(|_| "clang".to_string());
    for (source, object) in PROGRAMS {
        let mut command = Command::new(&clang);
        command
            .args([
                "-O2", "-g", "-target", "bpf", "-mcpu=v3", "-Wall", "-Werror",
            ])
            .arg(format!("-I{libbpf_include}"))
            .arg("-Isrc");
        if let Some(dir) = &multiarch {
            command.arg(format!("-I{dir}"));
        }
        command.args(["-c", source, "-o"]).arg(out_dir.join(object));
        let status = command.status().unwrap_or_else(|error| {
            panic!(
                "could not run `{clang}` to build the XDP program ({error}); \
                 install clang and llvm (`make deps` does it on Debian)"
            )
        });
        if !status.success() {
            panic!("`{clang}` failed to compile {source}; see the messages above");
        }
    }
}

/// The Debian multiarch include directory for the target, e.g.
/// `/usr/include/x86_64-linux-gnu`, where `asm/types.h` lives.
fn multiarch_include() -> Option<String> {
    let arch = env::var("CARGO_CFG_TARGET_ARCH").ok()?;
    let triple = match arch.as_str() {
        "x86_64" => "x86_64-linux-gnu",
        "aarch64" => "aarch64-linux-gnu",
        "arm" => "arm-linux-gnueabihf",
        "riscv64" => "riscv64-linux-gnu",
        "powerpc64" => "powerpc64le-linux-gnu",
        "s390x" => "s390x-linux-gnu",
        _ => return None,
    };
    let dir = format!("/usr/include/{triple}");
    std::path::Path::new(&dir).is_dir().then_some(dir)
}
