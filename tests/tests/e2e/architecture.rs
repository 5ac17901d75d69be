//! The shape of the code, read from its `use` lines and manifests: imports
//! run one way (server -> admin and the portal pages -> the web toolkit ->
//! the domain -> plugins), the top-level modules of each crate form no
//! circle, and only the door opens a clinic's storage or asks the role
//! model. A change that breaks one of these fails here, with the place.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate sits in the workspace")
        .to_owned()
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Source without `//` comments, so prose never counts as an import.
fn code_of(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Top-level module of `file` within `src`, and the crate's top-level
/// modules it names through `crate::…` (paths and `use crate::{a, b}`).
fn module_graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in rust_files(src) {
        let rel = file.strip_prefix(src).unwrap();
        let top = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_owned();
        if top == "lib" || top == "main" {
            continue;
        }
        let code = code_of(&file);
        let mut named = BTreeSet::new();
        for (i, _) in code.match_indices("crate::") {
            let rest = &code[i + "crate::".len()..];
            if let Some(group) = rest.strip_prefix('{') {
                let group = &group[..group.find('}').unwrap_or(group.len())];
                for item in group.split(',') {
                    let name: String = item
                        .trim()
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    named.insert(name);
                }
            } else {
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                named.insert(name);
            }
        }
        named.retain(|n| !n.is_empty() && *n != top);
        graph.entry(top).or_default().extend(named);
    }
    graph
}

/// A circle in `graph`, if there is one, as the modules along it.
fn circle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|p| p == node) {
            let mut found = path[at..].to_vec();
            found.push(node.to_owned());
            return Some(found);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if graph.contains_key(next)
                && let Some(found) = visit(next, graph, path, done)
            {
                return Some(found);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|start| visit(start, graph, &mut Vec::new(), &mut done))
}

#[test]
fn the_modules_of_every_crate_import_one_way() {
    for krate in ["tenants", "server", "server/web", "admin", "plugins"] {
        let graph = module_graph(&root().join(krate).join("src"));
        assert!(graph.len() >= 2, "{krate}: the reader found its modules");
        if let Some(found) = circle(&graph) {
            panic!(
                "{krate}: modules import each other in a circle: {}",
                found.join(" -> ")
            );
        }
    }
}

#[test]
fn the_circle_reader_finds_a_circle() {
    let mut graph = BTreeMap::new();
    graph.insert("a".to_owned(), BTreeSet::from(["b".to_owned()]));
    graph.insert("b".to_owned(), BTreeSet::from(["c".to_owned()]));
    graph.insert("c".to_owned(), BTreeSet::from(["a".to_owned()]));
    assert_eq!(circle(&graph).unwrap(), ["a", "b", "c", "a"]);
    graph.get_mut("c").unwrap().clear();
    assert!(circle(&graph).is_none());
}

/// The workspace crates a crate's manifest depends on.
fn portico_dependencies(krate: &str) -> BTreeSet<String> {
    let manifest = std::fs::read_to_string(root().join(krate).join("Cargo.toml")).unwrap();
    let deps = manifest
        .split("\n[dependencies]")
        .nth(1)
        .map(|d| d.split("\n[").next().unwrap_or(""))
        .unwrap_or("");
    deps.lines()
        .filter_map(|l| l.split(['.', ' ', '=']).next())
        .filter(|name| name.starts_with("portico-"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn crates_depend_downwards_only() {
    let layers = [
        ("server", "portico-server"),
        ("admin", "portico-admin"),
        ("server/web", "portico-web"),
        ("tenants", "portico-tenants"),
        ("plugins", "portico-plugins"),
    ];
    for (i, (dir, name)) in layers.iter().enumerate() {
        let above: BTreeSet<_> = layers[..i].iter().map(|(_, n)| (*n).to_owned()).collect();
        let deps = portico_dependencies(dir);
        let upward: Vec<_> = deps.intersection(&above).collect();
        assert!(upward.is_empty(), "{name} depends on {upward:?}, above it");
    }
    assert!(portico_dependencies("admin").contains("portico-web"));
    assert!(!portico_dependencies("server/web").contains("portico-admin"));
}

/// Files under `dirs` whose code contains `needle`, relative to the root.
fn files_naming(dirs: &[&str], needle: &str) -> Vec<String> {
    dirs.iter()
        .flat_map(|d| rust_files(&root().join(d)))
        .filter(|f| code_of(f).contains(needle))
        .map(|f| f.strip_prefix(root()).unwrap().display().to_string())
        .collect()
}

#[test]
fn only_the_door_opens_a_clinics_storage() {
    for needle in [".tenant_read(", ".tenant_write("] {
        let mut found = files_naming(&["tenants/src", "server", "admin/src"], needle);
        found.retain(|f| {
            !f.starts_with("tenants/src/door.rs")
                && !f.starts_with("tenants/src/storage/")
                && !f.starts_with("tenants/src/rbac/")
        });
        assert!(found.is_empty(), "{needle} outside the door: {found:?}");
    }
}

#[test]
fn no_handler_or_page_checks_a_permission_itself() {
    let mut found = files_naming(
        &["server/src", "server/web/src", "admin/src"],
        "is_allowed(",
    );
    found.extend(files_naming(
        &["server/src", "server/web/src", "admin/src"],
        "Permission::new(",
    ));
    found.extend(files_naming(&["tenants/src/acts"], "is_allowed("));
    assert!(
        found.is_empty(),
        "a permission checked outside the door: {found:?}"
    );
}
