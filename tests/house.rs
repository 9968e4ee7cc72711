//! The house rules, checked on the sources themselves: no import circle
//! between the files of a crate, no source file over 800 lines before its
//! unit tests, a `//!` line opening every module, a README that is a front
//! door, and one word the project never uses.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// The source folders of the library crates and the CLI.
const CRATES: [&str; 5] = [
    "rdb-parser/src",
    "analyzer/src",
    "jobsvc/src",
    "src",
    "testkit/src",
];

/// Lines a source file may have before its `#[cfg(test)]` module.
const MAX_LINES: usize = 800;

/// Lines the README may have.
const MAX_README_LINES: usize = 300;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The code of a file before its unit tests: the first `#[cfg(test)]` at the
/// start of a line ends it (the project keeps tests at the end of a file).
fn before_tests(text: &str) -> &str {
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        if line.starts_with("#[cfg(test)]") {
            return &text[..at];
        }
        at += line.len();
    }
    text
}

// ---- a small Rust tokenizer: enough for paths and `use` trees -------------

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Ident(String),
    PathSep,
    Punct(char),
}

/// Tokens of `src`, with comments, strings and chars left out.
fn tokens(src: &str) -> Vec<Tok> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'/' && b.get(i + 1) == Some(&b'/') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if c == b'/' && b.get(i + 1) == Some(&b'*') {
            let mut depth = 1;
            i += 2;
            while i < b.len() && depth > 0 {
                if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                    depth += 1;
                    i += 2;
                } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                    depth -= 1;
                    i += 2;
                } else {
                    i += 1;
                }
            }
        } else if c == b'r' && (b.get(i + 1) == Some(&b'"') || b.get(i + 1) == Some(&b'#')) {
            // A raw string r"..." or r#"..."#.
            let mut j = i + 1;
            let mut hashes = 0;
            while b.get(j) == Some(&b'#') {
                hashes += 1;
                j += 1;
            }
            if b.get(j) == Some(&b'"') {
                j += 1;
                'raw: while j < b.len() {
                    if b[j] == b'"' && (0..hashes).all(|k| b.get(j + 1 + k) == Some(&b'#')) {
                        j += 1 + hashes;
                        break 'raw;
                    }
                    j += 1;
                }
                i = j;
            } else {
                out.push(Tok::Ident("r".into()));
                i += 1;
            }
        } else if c == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
        } else if c == b'\'' {
            // A char literal ('a', '\n', '\'') or a lifetime ('a).
            if b.get(i + 1) == Some(&b'\\') {
                i += 2;
                while i < b.len() && b[i] != b'\'' {
                    i += 1;
                }
                i += 1;
            } else if b.get(i + 2) == Some(&b'\'') {
                i += 3;
            } else {
                i += 1;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
            }
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let s = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            out.push(Tok::Ident(src[s..i].to_string()));
        } else if c.is_ascii_digit() {
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'.') {
                if b[i] == b'.' && b.get(i + 1) == Some(&b'.') {
                    break;
                }
                i += 1;
            }
        } else if c == b':' && b.get(i + 1) == Some(&b':') {
            out.push(Tok::PathSep);
            i += 2;
        } else {
            if !c.is_ascii_whitespace() {
                out.push(Tok::Punct(c as char));
            }
            i += 1;
        }
    }
    out
}

/// A `use` tree flattened to paths; the last segment may be `*` or `self`.
fn use_tree(t: &[Tok], i: &mut usize, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    let depth = prefix.len();
    loop {
        match t.get(*i) {
            Some(Tok::Ident(s)) => {
                prefix.push(s.clone());
                *i += 1;
            }
            Some(Tok::Punct('*')) => {
                prefix.push("*".into());
                *i += 1;
            }
            Some(Tok::Punct('{')) => {
                *i += 1;
                loop {
                    match t.get(*i) {
                        Some(Tok::Punct('}')) => {
                            *i += 1;
                            break;
                        }
                        Some(Tok::Punct(',')) => *i += 1,
                        None => break,
                        _ => use_tree(t, i, prefix, out),
                    }
                }
                prefix.truncate(depth);
                return;
            }
            _ => {}
        }
        match t.get(*i) {
            Some(Tok::PathSep) => *i += 1,
            Some(Tok::Ident(s)) if s == "as" => {
                *i += 2;
                break;
            }
            _ => break,
        }
    }
    out.push(prefix.clone());
    prefix.truncate(depth);
}

/// One source file: its module path, the modules it declares, the items it
/// defines, its re-exports (name → path) and the paths it refers to.
#[derive(Debug, Default)]
struct Module {
    children: BTreeSet<String>,
    items: BTreeSet<String>,
    /// `pub use` entries: the name they bind → the path.
    reexports: BTreeMap<String, Vec<String>>,
    /// `pub use a::*` globs.
    globs: Vec<Vec<String>>,
    /// Plain `use` entries: the name they bind → the path.
    aliases: BTreeMap<String, Vec<String>>,
    /// Paths used by the code (not re-exports), as written.
    uses: Vec<Vec<String>>,
}

const ITEM_KEYWORDS: [&str; 9] = [
    "fn",
    "struct",
    "enum",
    "trait",
    "type",
    "const",
    "static",
    "union",
    "macro_rules",
];

fn parse_module(file: &Path, src: &str) -> Module {
    let t = tokens(before_tests(src));
    let _ = file;
    let mut m = Module::default();
    let ident = |k: usize| match t.get(k) {
        Some(Tok::Ident(s)) => Some(s.as_str()),
        _ => None,
    };
    let mut i = 0;
    while i < t.len() {
        match ident(i) {
            Some("mod")
                if matches!(t.get(i + 2), Some(Tok::Punct(';')) | Some(Tok::Punct('{'))) =>
            {
                if let Some(name) = ident(i + 1) {
                    m.children.insert(name.to_string());
                }
                i += 2;
            }
            Some("use") => {
                // `pub use` / `pub(crate) use` re-export; a plain `use` is a use.
                let public = (i >= 1 && ident(i - 1) == Some("pub"))
                    || (i >= 4
                        && ident(i - 4) == Some("pub")
                        && t.get(i - 1) == Some(&Tok::Punct(')')));
                i += 1;
                if t.get(i) == Some(&Tok::PathSep) {
                    i += 1;
                }
                let mut paths = Vec::new();
                use_tree(&t, &mut i, &mut Vec::new(), &mut paths);
                for p in paths {
                    if !public {
                        let mut q = p.clone();
                        if q.last().map(String::as_str) == Some("self") {
                            q.pop();
                        }
                        if let Some(name) = q.last().cloned().filter(|n| n != "*") {
                            m.aliases.insert(name, q);
                        }
                        m.uses.push(p);
                    } else if p.last().map(String::as_str) == Some("*") {
                        m.globs.push(p[..p.len() - 1].to_vec());
                    } else {
                        let mut p = p;
                        if p.last().map(String::as_str) == Some("self") {
                            p.pop();
                        }
                        if let Some(name) = p.last().cloned() {
                            m.reexports.insert(name, p);
                        }
                    }
                }
            }
            Some(kw) if ITEM_KEYWORDS.contains(&kw) => {
                let k = if kw == "macro_rules" { i + 2 } else { i + 1 };
                if let Some(name) = ident(k) {
                    m.items.insert(name.to_string());
                }
                i += 1;
            }
            Some(_) => {
                // A path in code: `crate::a::b`, `super::x`, `self::x`, or `child::x`.
                let after_sep = i >= 1 && t[i - 1] == Tok::PathSep;
                if !after_sep && t.get(i + 1) == Some(&Tok::PathSep) {
                    let mut p = vec![ident(i).unwrap().to_string()];
                    let mut k = i + 1;
                    while t.get(k) == Some(&Tok::PathSep) {
                        match ident(k + 1) {
                            Some(s) => p.push(s.to_string()),
                            None => break,
                        }
                        k += 2;
                    }
                    m.uses.push(p);
                    i = k;
                } else {
                    i += 1;
                }
            }
            None => i += 1,
        }
    }
    m
}

/// The files of one crate and the edges between them.
struct Crate {
    modules: BTreeMap<Vec<String>, Module>,
}

impl Crate {
    fn load(src: &Path) -> Crate {
        let mut files = Vec::new();
        rust_files(src, &mut files);
        let mut modules = BTreeMap::new();
        for f in files {
            let rel = f.strip_prefix(src).unwrap();
            let mut path: Vec<String> = rel
                .iter()
                .map(|s| s.to_string_lossy().trim_end_matches(".rs").to_string())
                .collect();
            match path.last().map(String::as_str) {
                Some("mod") => {
                    path.pop();
                }
                Some("lib") | Some("main") if path.len() == 1 => path.clear(),
                _ => {}
            }
            // Binaries beside the crate's root (src/bin/…) are separate crates.
            if path.first().map(String::as_str) == Some("bin") {
                continue;
            }
            let text = fs::read_to_string(&f).unwrap();
            modules.insert(path, parse_module(&f, &text));
        }
        Crate { modules }
    }

    /// The module path `p` (written in module `at`) starts from, and the rest.
    fn anchor(&self, at: &[String], p: &[String], depth: usize) -> Option<(Vec<String>, usize)> {
        if depth > 16 {
            return None;
        }
        let mut base = at.to_vec();
        let mut k = 0;
        match p.first()?.as_str() {
            "crate" => {
                base.clear();
                k = 1;
            }
            "self" => k = 1,
            "super" => {
                while p.get(k).map(String::as_str) == Some("super") {
                    base.pop()?;
                    k += 1;
                }
            }
            first => {
                // A child module of this one, or a name a plain `use` brought
                // in (followed there); anything else is another crate.
                let m = &self.modules[at];
                if !m.children.contains(first) {
                    let alias = m.aliases.get(first)?;
                    if alias.len() == 1 && alias[0] == first {
                        return None;
                    }
                    let mut p2 = alias.clone();
                    p2.extend_from_slice(&p[1..]);
                    let (b, k2) = self.anchor(at, &p2, depth + 1)?;
                    // Re-anchor the joined path: the caller walks `p`, so
                    // hand back the alias's module and skip its first segment.
                    let target = self.resolve_from(b, &p2[k2..], depth + 1)?;
                    return Some((target, p.len()));
                }
            }
        }
        Some((base, k))
    }

    /// The module that defines what `p` names, following re-exports.
    fn resolve(&self, at: &[String], p: &[String], depth: usize) -> Option<Vec<String>> {
        if depth > 16 {
            return None;
        }
        let (module, k) = self.anchor(at, p, depth)?;
        self.resolve_from(module, &p[k..], depth)
    }

    /// The module that defines what `rest` names, walking from `module`.
    fn resolve_from(
        &self,
        mut module: Vec<String>,
        rest: &[String],
        depth: usize,
    ) -> Option<Vec<String>> {
        if depth > 16 {
            return None;
        }
        for seg in rest {
            if seg == "*" || seg == "self" {
                break;
            }
            let m = self.modules.get(&module)?;
            if m.children.contains(seg) {
                module.push(seg.clone());
                continue;
            }
            // An item: defined here, or re-exported from elsewhere.
            if m.items.contains(seg) {
                return Some(module);
            }
            if let Some(target) = m.reexports.get(seg) {
                return self.resolve(&module, target, depth + 1).or(Some(module));
            }
            for g in &m.globs {
                let mut q = g.clone();
                q.push(seg.clone());
                if let Some(found) = self.resolve(&module, &q, depth + 1) {
                    if self.modules[&found].items.contains(seg)
                        || self.modules[&found].reexports.contains_key(seg)
                    {
                        return Some(found);
                    }
                }
            }
            // A private `use` of something elsewhere in the crate.
            if let Some(target) = m.aliases.get(seg) {
                return self.resolve(&module, target, depth + 1);
            }
            return Some(module);
        }
        Some(module)
    }

    /// File-level edges: module → the modules whose items it uses.
    fn edges(&self) -> BTreeMap<Vec<String>, BTreeSet<Vec<String>>> {
        let mut edges: BTreeMap<_, BTreeSet<_>> = BTreeMap::new();
        for (path, m) in &self.modules {
            let e = edges.entry(path.clone()).or_default();
            for u in &m.uses {
                if let Some(target) = self.resolve(path, u, 0) {
                    // A module using its own descendants is structure, not a
                    // dependency that can close a circle from below.
                    if &target != path {
                        e.insert(target);
                    }
                }
            }
        }
        edges
    }
}

/// Every circle among the modules (one per strongly connected component).
fn circles(edges: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>) -> Vec<Vec<Vec<String>>> {
    // Tarjan's algorithm, iterative enough for a crate's handful of files.
    struct St<'a> {
        edges: &'a BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        index: BTreeMap<&'a Vec<String>, usize>,
        low: BTreeMap<&'a Vec<String>, usize>,
        stack: Vec<&'a Vec<String>>,
        on: BTreeSet<&'a Vec<String>>,
        out: Vec<Vec<Vec<String>>>,
    }
    fn visit<'a>(s: &mut St<'a>, v: &'a Vec<String>) {
        let n = s.index.len();
        s.index.insert(v, n);
        s.low.insert(v, n);
        s.stack.push(v);
        s.on.insert(v);
        if let Some(ws) = s.edges.get(v) {
            for w in ws {
                let Some((w, _)) = s.edges.get_key_value(w) else {
                    continue;
                };
                if !s.index.contains_key(w) {
                    visit(s, w);
                    let l = s.low[w].min(s.low[v]);
                    s.low.insert(v, l);
                } else if s.on.contains(w) {
                    let l = s.index[w].min(s.low[v]);
                    s.low.insert(v, l);
                }
            }
        }
        if s.low[v] == s.index[v] {
            let mut comp = Vec::new();
            loop {
                let w = s.stack.pop().unwrap();
                s.on.remove(w);
                comp.push(w.clone());
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                comp.sort();
                s.out.push(comp);
            }
        }
    }
    let mut s = St {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in edges.keys() {
        if !s.index.contains_key(v) {
            visit(&mut s, v);
        }
    }
    s.out
}

fn name(p: &[String]) -> String {
    if p.is_empty() {
        "crate".into()
    } else {
        p.join("::")
    }
}

#[test]
fn no_import_circle_between_the_files_of_a_crate() {
    let mut found = Vec::new();
    for dir in CRATES {
        let krate = Crate::load(&root().join(dir));
        for c in circles(&krate.edges()) {
            let edges = krate.edges();
            let detail: Vec<String> = c
                .iter()
                .map(|m| {
                    let into: Vec<String> = edges[m]
                        .iter()
                        .filter(|t| c.contains(t))
                        .map(|t| name(t))
                        .collect();
                    format!("{} -> {}", name(m), into.join(", "))
                })
                .collect();
            found.push(format!("{dir}: {}", detail.join("; ")));
        }
    }
    assert!(found.is_empty(), "import circles:\n{}", found.join("\n"));
}

#[test]
fn the_circle_check_sees_a_circle_and_its_absence() {
    // Two files that use each other, through a re-export and a `super::` path.
    let dir = std::env::temp_dir().join(format!("rdbscope-house-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(dir.join("a")).unwrap();
    fs::write(
        dir.join("lib.rs"),
        "//! x\nmod a;\nmod b;\npub use a::Thing;\n",
    )
    .unwrap();
    fs::write(
        dir.join("a/mod.rs"),
        "//! x\nmod inner;\npub use inner::Thing;\n",
    )
    .unwrap();
    fs::write(
        dir.join("a/inner.rs"),
        "//! x\npub struct Thing;\nfn f() { crate::b::helper(); }\n",
    )
    .unwrap();
    fs::write(
        dir.join("b.rs"),
        "//! x\nuse crate::Thing;\npub fn helper() {}\n",
    )
    .unwrap();
    let krate = Crate::load(&dir);
    let c = circles(&krate.edges());
    assert_eq!(c.len(), 1, "{c:?}");
    assert_eq!(
        c[0].iter().map(|p| name(p)).collect::<Vec<_>>(),
        ["a::inner", "b"]
    );
    // Moving the helper below both ends the circle.
    fs::write(
        dir.join("a/inner.rs"),
        "//! x\npub struct Thing;\nfn f() {}\n",
    )
    .unwrap();
    assert!(circles(&Crate::load(&dir).edges()).is_empty());
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn no_source_file_is_a_room_of_many_jobs() {
    let mut long = Vec::new();
    let mut undocumented = Vec::new();
    for dir in CRATES {
        let mut files = Vec::new();
        rust_files(&root().join(dir), &mut files);
        for f in files {
            let text = fs::read_to_string(&f).unwrap();
            let n = before_tests(&text).lines().count();
            let rel = f.strip_prefix(root()).unwrap().display().to_string();
            if n > MAX_LINES {
                long.push(format!("{rel}: {n} lines before its tests"));
            }
            if !text.starts_with("//!") {
                undocumented.push(rel);
            }
        }
    }
    assert!(
        long.is_empty(),
        "over {MAX_LINES} lines:\n{}",
        long.join("\n")
    );
    assert!(
        undocumented.is_empty(),
        "modules whose first line is not a `//!` line saying their job:\n{}",
        undocumented.join("\n")
    );
}

#[test]
fn the_readme_is_a_front_door_whose_test_command_ci_runs() {
    let readme = fs::read_to_string(root().join("README.md")).unwrap();
    let lines = readme.lines().count();
    assert!(lines <= MAX_README_LINES, "README.md has {lines} lines");
    let ci = fs::read_to_string(root().join(".ci/run")).unwrap();
    let test_command = ci
        .lines()
        .find_map(|l| l.strip_prefix("phase \"tests\" "))
        .expect(".ci/run has a `phase \"tests\"` line");
    // The two commands come first: both within the README's first code block.
    let first_block = readme
        .split("```")
        .nth(1)
        .expect("README.md has a code block");
    assert!(
        first_block.contains(test_command),
        "README's first code block lacks CI's test command `{test_command}`"
    );
    assert!(first_block.contains("rdbscope analyze") || first_block.contains("-- analyze"));
}

/// Every file git tracks (or, without git, every file of the tree but build
/// output and caches).
fn tracked_files() -> Vec<PathBuf> {
    let root = root();
    if let Ok(out) = std::process::Command::new("git")
        .args(["ls-files", "-z"])
        .current_dir(&root)
        .output()
    {
        if out.status.success() && !out.stdout.is_empty() {
            return out
                .stdout
                .split(|&b| b == 0)
                .filter(|s| !s.is_empty())
                .map(|s| root.join(String::from_utf8_lossy(s).as_ref()))
                .filter(|p| p.is_file())
                .collect();
        }
    }
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let n = p.file_name().unwrap().to_string_lossy();
            if n == ".git" || n == "target" || n == "cache" || n == "artifacts" || n == "corpus" {
                continue;
            }
            if p.is_dir() {
                walk(&p, out);
            } else {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    walk(&root, &mut out);
    out
}

#[test]
fn figures_carry_a_date_and_a_commit_not_a_work_period() {
    // The word is spelled in two halves so that this file passes its own test.
    let word = ["ses", "sion"].concat();
    let mut hits = Vec::new();
    for f in tracked_files() {
        let bytes = fs::read(&f).unwrap();
        let lower: Vec<u8> = bytes.iter().map(u8::to_ascii_lowercase).collect();
        if lower.windows(word.len()).any(|w| w == word.as_bytes()) {
            hits.push(f.strip_prefix(root()).unwrap().display().to_string());
        }
    }
    assert!(
        hits.is_empty(),
        "files that say `{word}`:\n{}",
        hits.join("\n")
    );
}
