//! The README's Layout section against `cargo metadata`: every crate is listed, and each one's
//! arrows name exactly its `leaklab-*` dependencies (normal ones; dev-dependencies are the
//! tests' business).

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

mod common;
use common::repo;

/// `dir` (as `crates/<dir>/` or `src/`) → the names after `→` in its block of the Layout.
fn readme_arrows() -> BTreeMap<String, BTreeSet<String>> {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let layout = readme
        .split("## Layout")
        .nth(1)
        .expect("README has a Layout section");
    let block = layout
        .split("```text")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("the Layout section has a text block");
    // Each entry starts at column 0; its arrow list runs from `→` to the end of the entry.
    let mut arrows: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut current: Option<(String, Option<String>)> = None;
    let mut finish = |entry: Option<(String, Option<String>)>| {
        if let Some((dir, list)) = entry {
            let names = list
                .unwrap_or_default()
                .split(',')
                .map(str::trim)
                .filter(|n| !n.is_empty() && *n != "none")
                .map(str::to_string)
                .collect();
            arrows.insert(dir, names);
        }
    };
    for line in block.lines() {
        if !line.starts_with(' ') {
            finish(current.take());
            let entry = line.split_whitespace().next().unwrap_or("");
            if entry.starts_with("crates/") || entry == "src/" {
                current = Some((entry.trim_end_matches('/').to_string(), None));
            }
        }
        if let Some((_, list)) = &mut current {
            match (list.as_mut(), line.split_once('→')) {
                (None, Some((_, names))) => *list = Some(names.to_string()),
                (Some(list), _) => {
                    list.push(',');
                    list.push_str(line);
                }
                (None, None) => {}
            }
        }
    }
    finish(current.take());
    arrows
}

/// Package directory (relative to the repository, `src` for the root package) → its normal
/// `leaklab-*` dependencies without the prefix.
fn metadata_arrows() -> BTreeMap<String, BTreeSet<String>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--offline",
        ])
        .current_dir(repo())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let root = repo().canonicalize().unwrap();
    let mut arrows = BTreeMap::new();
    for package in meta["packages"].as_array().unwrap() {
        let manifest = std::path::Path::new(package["manifest_path"].as_str().unwrap());
        let dir = manifest.parent().unwrap().canonicalize().unwrap();
        let rel = dir
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .to_string();
        let dir = if rel.is_empty() {
            "src".to_string()
        } else {
            rel
        };
        let deps = package["dependencies"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["kind"].is_null())
            .filter_map(|d| d["name"].as_str()?.strip_prefix("leaklab-"))
            .map(str::to_string)
            .collect();
        arrows.insert(dir, deps);
    }
    arrows
}

#[test]
fn readme_layout_lists_every_crate_with_its_real_dependencies() {
    let readme = readme_arrows();
    let metadata = metadata_arrows();
    assert_eq!(
        readme.keys().collect::<Vec<_>>(),
        metadata.keys().collect::<Vec<_>>(),
        "the README's Layout must list exactly the workspace's packages"
    );
    for (dir, deps) in &metadata {
        assert_eq!(&readme[dir], deps, "README Layout arrows of {dir}");
    }
}
