//! The on-disk cache of compiled modules: native code, so what is loaded is checked first.
//!
//! Invariants: a cache file is used only from a directory owned by the agent's user and not
//! writable by group or others, only if the file is too, and only if its content matches the
//! SHA-256 digest written after it (a damaged or swapped file is recompiled, never run);
//! `wasmtime` then checks that it was compiled by this engine version with these settings.
//! Files are written whole (temporary file, then rename), readable by the agent's user only.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::{Engine, Module};

/// Prepares `dir` for the cache (created with mode 0700); `Err` says why it cannot be used.
pub fn open_dir(dir: &Path) -> Result<PathBuf, String> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| e.to_string())?;
    private(dir)?;
    Ok(dir.to_path_buf())
}

/// Checks that `path` belongs to this process's user and no one else may write it.
fn private(path: &Path) -> Result<(), String> {
    let meta = fs::metadata(path).map_err(|e| e.to_string())?;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    if meta.uid() != me {
        return Err(format!(
            "owned by uid {}, not the agent's uid {me}",
            meta.uid()
        ));
    }
    if meta.permissions().mode() & 0o022 != 0 {
        return Err(format!(
            "writable by group or others (mode {:o})",
            meta.permissions().mode() & 0o777
        ));
    }
    Ok(())
}

/// Loads a cached module, or `None` (with the reason logged) when there is none or it fails a
/// check.
pub fn load(engine: &Engine, dir: &Path, file: &Path) -> Option<Module> {
    if !file.exists() {
        return None;
    }
    let checked = private(dir).and_then(|()| private(file)).and_then(|()| {
        let bytes = fs::read(file).map_err(|e| e.to_string())?;
        let split = bytes
            .len()
            .checked_sub(32)
            .ok_or("shorter than its digest")?;
        let (code, digest) = bytes.split_at(split);
        if Sha256::digest(code).as_slice() != digest {
            return Err("its content does not match its digest".to_string());
        }
        Ok(bytes[..split].to_vec())
    });
    let code = match checked {
        Ok(code) => code,
        Err(why) => {
            tracing::warn!(file = %file.display(), %why, "compiled module cache entry not used; recompiling");
            return None;
        }
    };
    // SAFETY: `code` was written by `Module::serialize` of this agent (the digest and the
    // directory's ownership say so); wasmtime checks its engine version and settings.
    match unsafe { Module::deserialize(engine, &code) } {
        Ok(m) => Some(m),
        Err(e) => {
            tracing::debug!(file = %file.display(), error = %e, "stale module cache entry; recompiling");
            None
        }
    }
}

/// Writes a compiled module with its digest; a failure only means no cache entry.
pub fn store(file: &Path, module: &Module) {
    let Ok(code) = module.serialize() else {
        return;
    };
    let tmp = file.with_extension("tmp");
    let _ = fs::remove_file(&tmp);
    let written = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .and_then(|mut f| {
            f.write_all(&code)?;
            f.write_all(&Sha256::digest(&code))?;
            f.sync_all()
        })
        .and_then(|()| fs::rename(&tmp, file));
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
}
