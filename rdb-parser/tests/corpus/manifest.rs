//! What the parser finds agrees with the MANIFEST's structural facts (per
//! file, or per folder described as a group) and a few facts stated in prose
//! or in the source projects' own tests.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use rdb_parser::{ChecksumStatus, Magic, ValueType};

use super::files::{load_corpus, summary_of, CorpusFile, BAD_ON_PURPOSE};
use super::walk::{walk_all, Summary};

#[test]
fn key_counts_stated_in_the_manifest() {
    let cases: &[(&str, u64, &[u64])] = &[
        ("redis-replicator/dumpV6.rdb", 132, &[0, 1]),
        ("redis-replicator/listpack-bug.rdb", 237, &[0, 1, 2]),
        ("dragonfly/small.rdb", 201, &[0, 2]),
        ("redis-rdb-cli/rct/all.rdb", 270, &[0, 1, 2]),
        ("redisshake/appendonly.aof.2.base.rdb", 9990 + 1 + 25, &[0]),
        ("rdb-rs/multidb-skipping.rdb", 2, &[0, 1]),
        ("redis-rdb-tools/multiple_databases.rdb", 2, &[0, 2]),
        ("dragonfly/redis6_stream.rdb", 11, &[0]),
        ("dragonfly/empty.rdb", 0, &[]),
        ("redis-redis/scriptbackup.rdb", 0, &[]),
    ];
    for &(rel, keys, dbs) in cases {
        let Some(s) = summary_of(rel) else { return };
        assert_eq!(s.keys, keys, "{rel}");
        let with_keys: Vec<u64> = s.keys_per_db.keys().copied().collect();
        assert_eq!(with_keys, dbs, "{rel}: databases holding keys");
    }

    // dumpV8.rdb: 92 478 ZSET_ZIPLIST keys plus a big ZSET_2, quicklists,
    // strings and a hash; expiries.
    let Some(s) = summary_of("redis-replicator/dumpV8.rdb") else {
        return;
    };
    assert_eq!(s.types.get(&ValueType::ZsetZiplist), Some(&92_478));
    assert!(s.keys > 92_478, "{}", s.keys);
    assert_eq!(s.keys, 92_478 + 1 + 3 + 16 + 1);
    assert!(s.with_expire > 0);
    assert!(matches!(s.checksum, ChecksumStatus::Verified(_)));

    // Streams with groups, consumers and pending entries.
    let s = summary_of("redis-rdb-tools/redis_50_with_streams.rdb").unwrap();
    assert_eq!(s.types.get(&ValueType::StreamListpacks), Some(&1));
    assert!(
        s.stream.entries > 0 && s.stream.groups > 0 && s.stream.consumers > 0,
        "{:?}",
        s.stream
    );
    assert!(
        s.stream.group_pending > 0 && s.stream.consumer_pending > 0,
        "{:?}",
        s.stream
    );
    // Five streams; "trim" stores length 120 but holds 118 live entries of
    // 150 (HDT3213's expected JSON agrees), so 290 live entries, lengths 292.
    let s = summary_of("hdt3213-rdb/stream_listpacks_1.rdb").unwrap();
    assert_eq!((s.keys, s.stream.entries, s.stream_lengths), (5, 290, 292));
    let s = summary_of("redis-replicator/dumpV11.rdb").unwrap();
    assert!(
        s.stream.groups > 0 && s.stream.consumers > 0 && s.stream.group_pending > 0,
        "{:?}",
        s.stream
    );

    // Hash field expiry: 8 fields, 3 of them with a TTL.
    let s = summary_of("hdt3213-rdb/hash_with_hfe.rdb").unwrap();
    assert_eq!((s.keys, s.elements, s.field_expires), (1, 8, 3));

    // Functions, slot info, module aux, LRU/LFU.
    assert_eq!(summary_of("hdt3213-rdb/function.rdb").unwrap().functions, 1);
    assert_eq!(
        summary_of("redis-replicator/function.rdb")
            .unwrap()
            .functions_pre_ga,
        2
    );
    assert_eq!(
        summary_of("redis-replicator/dump-slot.rdb")
            .unwrap()
            .slot_info,
        4
    );
    assert_eq!(
        summary_of("redis-rdb-tools/redis_60_with_module_aux.rdb")
            .unwrap()
            .module_aux,
        1
    );
    let s = summary_of("redis-replicator/dump-lfu.rdb").unwrap();
    assert_eq!((s.keys, s.with_lfu, s.with_expire), (2, 2, 1));
    let s = summary_of("redis-replicator/dump-lru.rdb").unwrap();
    assert_eq!((s.keys, s.with_idle, s.with_expire), (2, 2, 1));
}

/// redis-librdb files against the expected JSON of librdb's own tests
/// (`test/dumps/*_data.json`, compared by `test/test_rdb_to_json.c`).
#[test]
fn librdb_dumps_hold_what_librdb_expects() {
    // multiple_dbs_data.json: x = "0", y = "1", z = "2", one per database.
    let Some(s) = summary_of("redis-librdb/multiple_dbs.rdb") else {
        return;
    };
    assert_eq!(s.keys_per_db, BTreeMap::from([(0, 1), (1, 1), (2, 1)]));
    assert_eq!(s.types, BTreeMap::from([(ValueType::String, 3)]));
    assert_eq!((s.key_bytes, s.string_value_bytes), (3, 3));

    // multiple_lists_strings_data.json: 5 aux fields; strings "Hi there!",
    // "blaa" and 118 LZF-compressed 'c's; lists of 1, 3 and 2 elements.
    let s = summary_of("redis-librdb/multiple_lists_strings.rdb").unwrap();
    assert_eq!(s.aux_fields, 5);
    assert_eq!(s.keys_per_db, BTreeMap::from([(0, 6)]));
    assert_eq!(s.types.get(&ValueType::String), Some(&3), "{:?}", s.types);
    assert_eq!(
        s.types.get(&ValueType::ListQuicklist2),
        Some(&3),
        "{:?}",
        s.types
    );
    assert_eq!(s.keys, 6);
    assert_eq!(s.elements, 1 + 3 + 2);
    assert_eq!(s.string_value_bytes, 9 + 4 + 118);
    assert!(s.lzf_seen);
}

/// Structural facts of one MANIFEST row.
#[derive(Debug, Default, Clone)]
pub(super) struct Facts {
    pub(super) bytes: u64,
    pub(super) version: String,
    /// From the bracketed scan; `None` for "Identical bytes to …" rows.
    pub(super) scan: Option<Scan>,
    pub(super) identical_to: Option<String>,
}

#[derive(Debug, Default, Clone)]
pub(super) struct Scan {
    pub(super) types: BTreeMap<String, u64>,
    pub(super) opcodes: BTreeSet<String>,
    pub(super) modules: BTreeSet<String>,
    pub(super) lzf: bool,
    pub(super) dbs: Option<BTreeSet<u64>>,
    pub(super) crc: Option<String>,
}

/// The bracketed `[types: …; opcodes: …; …]` part of a row, if any.
pub(super) fn scan_part(what: &str) -> Option<&str> {
    let starts = ["[types:", "[opcodes:", "[modules:", "[LZF", "[dbs", "[crc"];
    let start = starts.iter().filter_map(|s| what.find(s)).min()?;
    let mut depth = 0;
    for (i, c) in what[start..].char_indices() {
        match c {
            '[' => depth += 1,
            ']' => {
                depth -= 1;
                if depth == 0 {
                    return Some(&what[start + 1..start + i]);
                }
            }
            _ => {}
        }
    }
    None
}

pub(super) fn parse_scan(s: &str) -> Scan {
    let mut scan = Scan::default();
    for part in s.split("; ").map(str::trim) {
        if let Some(list) = part.strip_prefix("types: ") {
            for t in list.split(", ") {
                let (name, n) = match t.rfind('x') {
                    Some(i)
                        if i + 1 < t.len() && t[i + 1..].bytes().all(|b| b.is_ascii_digit()) =>
                    {
                        (&t[..i], t[i + 1..].parse().unwrap())
                    }
                    _ => (t, 1),
                };
                *scan.types.entry(name.to_string()).or_default() += n;
            }
        } else if let Some(list) = part.strip_prefix("opcodes: ") {
            scan.opcodes = list.split(", ").map(String::from).collect();
        } else if let Some(list) = part.strip_prefix("modules: ") {
            scan.modules = list.split(", ").map(String::from).collect();
        } else if part == "LZF" {
            scan.lzf = true;
        } else if let Some(list) = part.strip_prefix("dbs [") {
            let list = list.trim_end_matches(']');
            scan.dbs = Some(list.split(", ").map(|d| d.parse().unwrap()).collect());
        } else if let Some(crc) = part.strip_prefix("crc ") {
            scan.crc = Some(crc.to_string());
        } else if part.starts_with("scan stops:") {
            // The skimmer gave up there (module.rdb); the facts are partial.
        } else {
            panic!("MANIFEST scan item not understood: {part:?} (in {s:?})");
        }
    }
    scan
}

pub(super) fn parse_manifest(text: &str) -> HashMap<String, Facts> {
    let mut out = HashMap::new();
    let mut in_files = false;
    for line in text.lines() {
        if line.starts_with("## ") {
            in_files = line.trim() == "## Files";
            continue;
        }
        if !in_files
            || !line.starts_with("| ")
            || line.starts_with("| path")
            || line.starts_with("|---")
        {
            continue;
        }
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        // "", path, bytes, version, repo, source path, license, what, expected, ""
        assert!(
            cells.len() >= 10,
            "MANIFEST row with {} cells: {line}",
            cells.len()
        );
        let what = cells[7];
        let identical_to = what
            .strip_prefix("Identical bytes to ")
            .map(|r| r.trim_end_matches('.').to_string());
        out.insert(
            cells[1].to_string(),
            Facts {
                bytes: cells[2]
                    .parse()
                    .unwrap_or_else(|_| panic!("bytes of {line}")),
                version: cells[3].to_string(),
                scan: scan_part(what).map(parse_scan),
                identical_to,
            },
        );
    }
    out
}

/// Folders the MANIFEST describes as a group instead of row by row: a
/// `## <folder> …` section whose text has a paragraph starting with
/// "<N> `.rdb` files". Returns each folder with its stated file count.
pub(super) fn parse_groups(text: &str) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    let mut folder: Option<&str> = None;
    for line in text.lines() {
        if let Some(heading) = line.strip_prefix("## ") {
            folder = heading.split_whitespace().next().filter(|w| {
                w.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            });
            continue;
        }
        let Some(f) = folder else { continue };
        let Some((n, rest)) = line.split_once(' ') else {
            continue;
        };
        if rest.starts_with("`.rdb` files") && n.bytes().all(|b| b.is_ascii_digit()) {
            let n: u64 = n.parse().unwrap();
            let old = out.insert(f.to_string(), n);
            assert!(old.is_none(), "MANIFEST states the count of {f} twice");
        }
    }
    out
}

/// The folder part of a corpus path (`a/b.rdb` → `a`).
fn folder_of(rel: &str) -> &str {
    rel.split_once('/').map_or("", |(f, _)| f)
}

#[test]
fn group_sections_are_read_with_their_counts() {
    let text = "## Files\n\n| path | … |\n\n## Gaps\n\n- 3 `.rdb` files in a list are not a group.\n\n\
                ## some-repo (added later)\n\n7 `.rdb` files from some repo.\nMore: 8 `.rdb` files.\n\n\
                ## other-repo\n\nNo count here.\n";
    let groups = parse_groups(text);
    assert_eq!(groups, BTreeMap::from([("some-repo".to_string(), 7)]));
    assert_eq!(folder_of("some-repo/x.rdb"), "some-repo");
    assert_eq!(folder_of("x.rdb"), "");
}

pub(super) fn type_name(vt: ValueType) -> &'static str {
    match vt {
        ValueType::String => "STRING",
        ValueType::List => "LIST",
        ValueType::Set => "SET",
        ValueType::Zset => "ZSET",
        ValueType::Hash => "HASH",
        ValueType::Zset2 => "ZSET_2",
        ValueType::ModulePreGa => "MODULE_PRE_GA",
        ValueType::Module2 => "MODULE_2",
        ValueType::HashZipmap => "HASH_ZIPMAP",
        ValueType::ListZiplist => "LIST_ZIPLIST",
        ValueType::SetIntset => "SET_INTSET",
        ValueType::ZsetZiplist => "ZSET_ZIPLIST",
        ValueType::HashZiplist => "HASH_ZIPLIST",
        ValueType::ListQuicklist => "LIST_QUICKLIST",
        ValueType::StreamListpacks => "STREAM_LISTPACKS",
        ValueType::HashListpack => "HASH_LISTPACK",
        ValueType::ZsetListpack => "ZSET_LISTPACK",
        ValueType::ListQuicklist2 => "LIST_QUICKLIST_2",
        ValueType::StreamListpacks2 => "STREAM_LISTPACKS_2",
        ValueType::SetListpack => "SET_LISTPACK",
        ValueType::StreamListpacks3 => "STREAM_LISTPACKS_3",
        ValueType::HashMetadataPreGa => "HASH_METADATA_PRE_GA",
        ValueType::HashListpackExPreGa => "HASH_LISTPACK_EX_PRE_GA",
        ValueType::HashMetadata => "HASH_METADATA",
        ValueType::HashListpackEx => "HASH_LISTPACK_EX",
        ValueType::ValkeyHash2 => "(valkey HASH_2)",
        _ => "(unnamed)",
    }
}

pub(super) fn opcodes_seen(s: &Summary) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut add = |n: u64, name: &str| {
        if n > 0 {
            out.insert(name.to_string());
        }
    };
    add(s.with_expire, "EXPIRETIME_MS");
    add(s.with_idle, "IDLE(LRU)");
    add(s.with_lfu, "FREQ(LFU)");
    add(s.functions, "FUNCTION2");
    add(s.functions_pre_ga, "FUNCTION_PRE_GA");
    add(s.slot_info, "SLOT_INFO");
    add(s.slot_import, "SLOT_IMPORT(valkey)");
    add(s.module_aux, "MODULE_AUX");
    out
}

pub(super) fn check_against_manifest(
    f: &CorpusFile,
    facts: &Facts,
    scan: &Scan,
    s: &Summary,
) -> Vec<String> {
    let mut bad = Vec::new();
    let types: BTreeMap<String, u64> = s
        .types
        .iter()
        .map(|(t, n)| (type_name(*t).to_string(), *n))
        .collect();
    if types != scan.types {
        bad.push(format!("types {types:?}, MANIFEST {:?}", scan.types));
    }
    let opcodes = opcodes_seen(s);
    if opcodes != scan.opcodes {
        bad.push(format!("opcodes {opcodes:?}, MANIFEST {:?}", scan.opcodes));
    }
    if s.modules != scan.modules {
        bad.push(format!(
            "modules {:?}, MANIFEST {:?}",
            s.modules, scan.modules
        ));
    }
    if s.lzf_seen && !scan.lzf {
        bad.push("LZF strings, the MANIFEST says none".into());
    }
    let dbs = scan.dbs.clone().unwrap_or_else(|| BTreeSet::from([0]));
    let seen: BTreeSet<u64> = s
        .selected_dbs
        .union(&s.keys_per_db.keys().copied().collect())
        .copied()
        .collect();
    if !seen.is_subset(&dbs) || (scan.dbs.is_some() && seen != dbs) {
        bad.push(format!("databases {seen:?}, MANIFEST {:?}", scan.dbs));
    }
    let crc_ok = match (scan.crc.as_deref(), s.checksum) {
        (Some("ok"), ChecksumStatus::Verified(_)) => true,
        (Some("zero(disabled)"), ChecksumStatus::Disabled) => true,
        (Some(n), ChecksumStatus::Absent) if n.starts_with("n/a") => true,
        _ => false,
    };
    if !crc_ok {
        bad.push(format!(
            "checksum {:?}, MANIFEST {:?}",
            s.checksum, scan.crc
        ));
    }
    let magic = match s.magic {
        Magic::Redis => format!("REDIS{:04}", s.version),
        Magic::Valkey => format!("VALKEY{:03}", s.version),
    };
    if !facts
        .version
        .starts_with(&format!("{} (`{magic}`)", s.version))
    {
        bad.push(format!("version {magic}, MANIFEST {}", facts.version));
    }
    if f.data.len() as u64 != facts.bytes {
        bad.push(format!("{} bytes, MANIFEST {}", f.data.len(), facts.bytes));
    }
    bad
}

#[test]
fn corpus_agrees_with_the_manifest() {
    let Some((dir, files)) = load_corpus() else {
        return;
    };
    let Ok(text) = std::fs::read_to_string(dir.join("MANIFEST.md")) else {
        eprintln!("SKIP: no MANIFEST.md in {}", dir.display());
        return;
    };
    let manifest = parse_manifest(&text);
    let groups = parse_groups(&text);
    let mut in_groups: BTreeMap<&str, u64> = groups.keys().map(|g| (g.as_str(), 0)).collect();
    let by_name: HashMap<&str, &CorpusFile> = files.iter().map(|f| (f.rel.as_str(), f)).collect();
    let mut failures = Vec::new();
    let mut compared = 0;
    for f in &files {
        let Some(facts) = manifest.get(&f.rel) else {
            // Described with its folder: counted here, walked by
            // every_corpus_file_parses_to_the_end.
            match in_groups.get_mut(folder_of(&f.rel)) {
                Some(n) => *n += 1,
                None => failures.push(format!("{}: not in the MANIFEST", f.rel)),
            }
            continue;
        };
        // Duplicates: same bytes as the file named, whose facts apply.
        let mut facts_of = facts;
        if let Some(orig) = &facts.identical_to {
            match (by_name.get(orig.as_str()), manifest.get(orig)) {
                (Some(o), Some(of)) if o.data == f.data => facts_of = of,
                (Some(_), Some(_)) => failures.push(format!("{}: bytes differ from {orig}", f.rel)),
                _ => failures.push(format!(
                    "{}: names {orig}, which is not in the corpus/MANIFEST",
                    f.rel
                )),
            }
        }
        if f.data.len() as u64 != facts.bytes {
            failures.push(format!(
                "{}: {} bytes, MANIFEST {}",
                f.rel,
                f.data.len(),
                facts.bytes
            ));
        }
        let Some(scan) = &facts_of.scan else {
            failures.push(format!("{}: MANIFEST row has no structural scan", f.rel));
            continue;
        };
        if BAD_ON_PURPOSE.contains(&f.rel.as_str())
            || facts
                .identical_to
                .as_deref()
                .is_some_and(|o| BAD_ON_PURPOSE.contains(&o))
        {
            continue;
        }
        match walk_all(&f.data) {
            Ok(s) => {
                compared += 1;
                for b in check_against_manifest(f, facts, scan, &s) {
                    failures.push(format!("{}: {b}", f.rel));
                }
                let type_total: u64 = scan.types.values().sum();
                if type_total != s.keys {
                    failures.push(format!(
                        "{}: {} keys, MANIFEST types add up to {type_total}",
                        f.rel, s.keys
                    ));
                }
            }
            Err(e) => failures.push(format!("{}: {e}", f.rel)),
        }
    }
    // Every MANIFEST row names a file that exists.
    for name in manifest.keys() {
        if !by_name.contains_key(name.as_str()) {
            failures.push(format!("MANIFEST lists {name}, which is not in the corpus"));
        }
    }
    // Every folder described as a group holds as many files as stated.
    for (folder, n) in &in_groups {
        let stated = groups[*folder];
        if *n != stated {
            failures.push(format!(
                "{folder}/: {n} .rdb files without a row, MANIFEST says {stated}"
            ));
        }
    }
    eprintln!(
        "compared {compared} files with their MANIFEST facts; counted {:?} in folders described as a group",
        in_groups
    );
    assert!(
        failures.is_empty(),
        "{} disagreements:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
