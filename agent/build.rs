//! Builds the built-in format modules in `wasm-formats/` for `wasm32-unknown-unknown` and hands
//! their paths to the crate, which embeds them with `include_bytes!`.
//!
//! The nested cargo uses its own target directory (beside the outer one) so it never waits on the
//! outer build's lock, and a clean environment so host-only flags do not leak into the guest build.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The built-in modules: (package name, artifact file name, env var passed to the crate).
const MODULES: &[(&str, &str, &str)] = &[(
    "obsync-format-default",
    "obsync_format_default.wasm",
    "OBSYNC_WASM_FORMAT_DEFAULT",
)];

fn main() {
    let manifest_dir =
        PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let workspace = manifest_dir
        .parent()
        .expect("agent/ lives in the workspace root")
        .to_path_buf();
    for dir in ["wasm-formats", "sdk/src", "sdk/Cargo.toml", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", workspace.join(dir).display());
    }
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let target_dir = wasm_target_dir(&out_dir);
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());

    let mut cmd = Command::new(cargo);
    cmd.current_dir(&workspace)
        .arg("build")
        .arg("--profile")
        .arg("wasm")
        .arg("--target")
        .arg("wasm32-unknown-unknown")
        .arg("--target-dir")
        .arg(&target_dir);
    for (package, _, _) in MODULES {
        cmd.arg("-p").arg(package);
    }
    for (key, _) in env::vars() {
        if key.starts_with("CARGO_") && key != "CARGO_HOME" && key != "CARGO_NET_OFFLINE"
            || key == "RUSTFLAGS"
            || key == "RUSTC_WRAPPER"
            || key == "RUSTC_WORKSPACE_WRAPPER"
            || key == "RUSTC"
        {
            cmd.env_remove(key);
        }
    }
    let status = cmd
        .status()
        .expect("failed to run cargo for the wasm modules");
    assert!(
        status.success(),
        "building the built-in wasm modules failed"
    );

    for (_, file, var) in MODULES {
        let path = target_dir
            .join("wasm32-unknown-unknown")
            .join("wasm")
            .join(file);
        assert!(path.exists(), "missing built module {}", path.display());
        println!("cargo:rustc-env={var}={}", path.display());
    }
}

/// Returns `<target>/wasm-modules`, where `<target>` is the outer target directory found from
/// `OUT_DIR` (`<target>/[<triple>/]<profile>/build/<pkg>-<hash>/out`).
fn wasm_target_dir(out_dir: &Path) -> PathBuf {
    let profile_dir = out_dir
        .ancestors()
        .find(|p| p.file_name().is_some_and(|n| n == "build"))
        .and_then(Path::parent)
        .unwrap_or(out_dir);
    profile_dir
        .parent()
        .unwrap_or(profile_dir)
        .join("wasm-modules")
}
