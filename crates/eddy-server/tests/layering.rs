//! Crate dependencies point one way (docs/ARCHITECTURE.md): checked with `cargo metadata`.

use std::collections::{BTreeMap, BTreeSet};

#[test]
fn eddy_crates_depend_only_downward() {
    let allowed: BTreeMap<&str, &[&str]> = BTreeMap::from([
        ("eddy-common", &[][..]),
        ("eddy-storage", &["eddy-common"][..]),
        ("eddy-catalog", &["eddy-common", "eddy-storage"][..]),
        (
            "eddy-dataflow",
            &["eddy-common", "eddy-storage", "eddy-catalog"][..],
        ),
        (
            "eddy-sql",
            &["eddy-common", "eddy-catalog", "eddy-dataflow"][..],
        ),
        ("eddy-pgwire", &["eddy-common"][..]),
        (
            "eddy-server",
            &[
                "eddy-common",
                "eddy-storage",
                "eddy-catalog",
                "eddy-dataflow",
                "eddy-sql",
                "eddy-pgwire",
            ][..],
        ),
        // benchmarks drive servers over the wire only
        ("eddy-benchmarks", &[][..]),
    ]);
    let out = std::process::Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut seen = BTreeSet::new();
    for pkg in meta["packages"].as_array().unwrap() {
        let name = pkg["name"].as_str().unwrap();
        let Some(ok) = allowed.get(name) else {
            panic!("crate {name} is not in the layering table: add it here and to ARCHITECTURE.md");
        };
        seen.insert(name);
        for dep in pkg["dependencies"].as_array().unwrap() {
            let d = dep["name"].as_str().unwrap();
            if d.starts_with("eddy-") && dep["kind"].is_null() {
                assert!(ok.contains(&d), "{name} must not depend on {d}");
            }
        }
        // storage is the only crate allowed to link RocksDB
        if name != "eddy-storage" {
            let links_rocks = pkg["dependencies"]
                .as_array()
                .unwrap()
                .iter()
                .any(|d| d["name"].as_str() == Some("rocksdb"));
            assert!(!links_rocks, "{name} must not depend on rocksdb");
        }
    }
    assert_eq!(seen.len(), allowed.len());
}
