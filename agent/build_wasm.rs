// Shared by the build scripts of `agent/` (built-in formats, embedded) and `tests/` (example
// modules, run by tests): compiles workspace packages to `wasm32-unknown-unknown` with a nested
// cargo and tells the crate where each `.wasm` file is through an environment variable.
//
// The nested cargo uses its own target directory beside the outer one, so it never waits on the
// outer build's lock, and a clean environment, so host-only flags do not leak into the guest build.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Builds `(package, artifact file, env var)` modules, exports `env var = path` and returns the
/// paths in the same order.
fn build_wasm_modules(modules: &[(&str, &str, &str)]) -> Vec<PathBuf> {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let workspace = manifest_dir.parent().expect("the crate lives in the workspace root").to_path_buf();
    for dir in ["wasm-formats", "examples", "sdk/src", "sdk/macros/src", "sdk/Cargo.toml", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", workspace.join(dir).display());
    }
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let target_dir = wasm_target_dir(&out_dir);
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());

    let mut cmd = Command::new(cargo);
    cmd.current_dir(&workspace)
        .arg("build")
        .arg("--quiet")
        .arg("--profile")
        .arg("wasm")
        .arg("--target")
        .arg("wasm32-unknown-unknown")
        .arg("--target-dir")
        .arg(&target_dir)
        // One instruction for 64×64→128-bit multiplies (the engine enables the proposal).
        .arg("--config")
        .arg("target.wasm32-unknown-unknown.rustflags=[\"-Ctarget-feature=+wide-arithmetic\"]");
    for (package, _, _) in modules {
        cmd.arg("-p").arg(package);
    }
    for (key, _) in env::vars() {
        if key.starts_with("CARGO_") && key != "CARGO_HOME" && key != "CARGO_NET_OFFLINE"
            || key == "RUSTFLAGS"
            || key == "RUSTC_WRAPPER"
            || key == "RUSTC_WORKSPACE_WRAPPER"
            || key == "RUSTC"
            // The modules build with the project's pinned toolchain (rust-toolchain.toml), also
            // when the host crate builds with another (`cargo +nightly fuzz`).
            || key == "RUSTUP_TOOLCHAIN"
        {
            cmd.env_remove(key);
        }
    }
    let status = cmd.status().expect("failed to run cargo for the wasm modules");
    assert!(status.success(), "building the wasm modules failed");

    let mut paths = Vec::with_capacity(modules.len());
    for (_, file, var) in modules {
        let path = target_dir.join("wasm32-unknown-unknown").join("wasm").join(file);
        assert!(path.exists(), "missing built module {}", path.display());
        println!("cargo:rustc-env={var}={}", path.display());
        // A module removed or rebuilt elsewhere (another checkout sharing the target directory)
        // runs this script again instead of embedding a stale or missing file.
        println!("cargo:rerun-if-changed={}", path.display());
        paths.push(path);
    }
    paths
}

/// Returns `<target>/wasm-modules`, where `<target>` is the outer target directory found from
/// `OUT_DIR` (`<target>/[<triple>/]<profile>/build/<pkg>-<hash>/out`).
fn wasm_target_dir(out_dir: &Path) -> PathBuf {
    let profile_dir = out_dir
        .ancestors()
        .find(|p| p.file_name().is_some_and(|n| n == "build"))
        .and_then(Path::parent)
        .unwrap_or(out_dir);
    profile_dir.parent().unwrap_or(profile_dir).join("wasm-modules")
}
