//! Comparing two snapshots (values, counts, expiries, streams, encodings).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use super::model::{Bytes, Consumer, Group, Snapshot, StreamVal, Val};
use super::report::show;

pub(super) struct CmpOpts {
    pub(super) exp: &'static str,
    pub(super) got: &'static str,
    /// Allowed difference of expiry times (ms).
    pub(super) ttl_tol: i64,
    /// Compare consumer seen/active times (not reproducible through RESP).
    pub(super) times: bool,
}

pub(super) fn same_f64(a: f64, b: f64) -> bool {
    if a.is_nan() || b.is_nan() {
        return a.is_nan() && b.is_nan();
    }
    // Exact, or within 2 ulps (JSON float parsing need not be correctly rounded).
    a == b
        || (a.is_finite()
            && b.is_finite()
            && (a - b).abs() <= 2.0 * f64::EPSILON * a.abs().max(b.abs()))
}

pub(super) fn same_ttl(a: Option<i64>, b: Option<i64>, tol: i64) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(x), Some(y)) => (x - y).abs() <= tol,
        _ => false,
    }
}

pub(super) fn diff_snapshots(
    exp: &Snapshot,
    got: &Snapshot,
    o: &CmpOpts,
    rdb_enc: Option<&BTreeMap<(u32, Bytes), String>>,
) -> Vec<String> {
    let mut out = Vec::new();
    let only_exp: Vec<_> = exp.keys().filter(|k| !got.contains_key(*k)).collect();
    let only_got: Vec<_> = got.keys().filter(|k| !exp.contains_key(*k)).collect();
    if !only_exp.is_empty() {
        out.push(format!(
            "{} keys only in {}: {}",
            only_exp.len(),
            o.exp,
            only_exp
                .iter()
                .take(15)
                .map(|(db, k)| format!("db{db} {}", show(k)))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if !only_got.is_empty() {
        out.push(format!(
            "{} keys only in {}: {}",
            only_got.len(),
            o.got,
            only_got
                .iter()
                .take(15)
                .map(|(db, k)| format!("db{db} {}", show(k)))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    for (id, a) in exp {
        let Some(b) = got.get(id) else { continue };
        let mut encs = format!(
            "{} enc {}, {} enc {}",
            o.exp,
            a.encoding.as_deref().unwrap_or("?"),
            o.got,
            b.encoding.as_deref().unwrap_or("?")
        );
        if let Some(e) = rdb_enc.and_then(|m| m.get(id)) {
            let _ = write!(encs, ", rdb enc {e}");
        }
        let p = format!("db{} {} [{}; {encs}]", id.0, show(&id.1), a.ty);
        if a.ty != b.ty {
            out.push(format!(
                "{p}: type {} {:?} vs {} {:?}",
                o.exp, a.ty, o.got, b.ty
            ));
            continue;
        }
        if !same_ttl(a.expire, b.expire, o.ttl_tol) {
            out.push(format!(
                "{p}: expire_at_ms {} {:?} vs {} {:?}",
                o.exp, a.expire, o.got, b.expire
            ));
        }
        if a.val.count() != b.val.count() {
            out.push(format!(
                "{p}: count {} {} vs {} {}",
                o.exp,
                a.val.count(),
                o.got,
                b.val.count()
            ));
        }
        diff_val(&p, &a.val, &b.val, o, &mut out);
    }
    out
}

pub(super) fn first_diff<T: PartialEq>(a: &[T], b: &[T]) -> Option<usize> {
    (0..a.len().max(b.len())).find(|&i| a.get(i) != b.get(i))
}

pub(super) fn diff_val(p: &str, a: &Val, b: &Val, o: &CmpOpts, out: &mut Vec<String>) {
    let (e, g) = (o.exp, o.got);
    match (a, b) {
        (Val::Str(x), Val::Str(y)) => {
            if x != y {
                let i = first_diff(x, y).unwrap_or(0);
                out.push(format!(
                    "{p}: string differs at byte {i} (lengths {} / {}): {e} {} vs {g} {}",
                    x.len(),
                    y.len(),
                    show(&x[i.min(x.len())..]),
                    show(&y[i.min(y.len())..])
                ));
            }
        }
        (Val::List(x), Val::List(y)) => {
            if let Some(i) = first_diff(x, y) {
                out.push(format!(
                    "{p}: list differs at index {i} (lengths {} / {}): {e} {} vs {g} {}",
                    x.len(),
                    y.len(),
                    x.get(i).map_or("<none>".into(), |v| show(v)),
                    y.get(i).map_or("<none>".into(), |v| show(v))
                ));
            }
        }
        (Val::Set(x), Val::Set(y)) => {
            let miss: Vec<String> = x.difference(y).take(5).map(|m| show(m)).collect();
            let extra: Vec<String> = y.difference(x).take(5).map(|m| show(m)).collect();
            if !miss.is_empty() || !extra.is_empty() {
                out.push(format!(
                    "{p}: set members only in {e}: {miss:?}; only in {g}: {extra:?}"
                ));
            }
        }
        (Val::ZSet(x), Val::ZSet(y)) => {
            let mut bad = Vec::new();
            for (m, s) in x {
                match y.get(m) {
                    None => bad.push(format!("{} missing in {g}", show(m))),
                    Some(t) if !same_f64(*s, *t) => {
                        bad.push(format!("{} score {e} {s:?} vs {g} {t:?}", show(m)))
                    }
                    _ => {}
                }
            }
            bad.extend(
                y.keys()
                    .filter(|m| !x.contains_key(*m))
                    .map(|m| format!("{} only in {g}", show(m))),
            );
            if !bad.is_empty() {
                out.push(format!(
                    "{p}: zset: {} (of {} problems)",
                    bad[..bad.len().min(5)].join("; "),
                    bad.len()
                ));
            }
        }
        (Val::Hash(x), Val::Hash(y)) => {
            let mut bad = Vec::new();
            for (fld, (v, t)) in x {
                match y.get(fld) {
                    None => bad.push(format!("field {} missing in {g}", show(fld))),
                    Some((v2, t2)) => {
                        if v != v2 {
                            bad.push(format!(
                                "field {} value {e} {} vs {g} {}",
                                show(fld),
                                show(v),
                                show(v2)
                            ));
                        }
                        if !same_ttl(*t, *t2, o.ttl_tol) {
                            bad.push(format!(
                                "field {} expire {e} {t:?} vs {g} {t2:?}",
                                show(fld)
                            ));
                        }
                    }
                }
            }
            bad.extend(
                y.keys()
                    .filter(|f| !x.contains_key(*f))
                    .map(|f| format!("field {} only in {g}", show(f))),
            );
            if !bad.is_empty() {
                out.push(format!(
                    "{p}: hash: {} (of {} problems)",
                    bad[..bad.len().min(5)].join("; "),
                    bad.len()
                ));
            }
        }
        (Val::Stream(x), Val::Stream(y)) => diff_stream(p, x, y, o, out),
        (Val::Module { name: n1, dump: d1 }, Val::Module { name: n2, dump: d2 }) => {
            if n1 != n2 {
                out.push(format!("{p}: module {e} {n1} vs {g} {n2}"));
            }
            if let (Some(d1), Some(d2)) = (d1, d2) {
                if d1 != d2 {
                    out.push(format!(
                        "{p}: module DUMP payload differs ({} / {} bytes; first difference at {:?})",
                        d1.len(),
                        d2.len(),
                        first_diff(d1, d2)
                    ));
                }
            }
        }
        _ => out.push(format!("{p}: value kinds differ: {e} {a:?} vs {g} {b:?}")),
    }
}

pub(super) fn cmp_opt<T: PartialEq + std::fmt::Debug>(
    p: &str,
    what: &str,
    a: &Option<T>,
    b: &Option<T>,
    o: &CmpOpts,
    out: &mut Vec<String>,
) {
    if let (Some(x), Some(y)) = (a, b) {
        if x != y {
            out.push(format!("{p}: {what} {} {x:?} vs {} {y:?}", o.exp, o.got));
        }
    }
}

pub(super) fn diff_stream(
    p: &str,
    a: &StreamVal,
    b: &StreamVal,
    o: &CmpOpts,
    out: &mut Vec<String>,
) {
    let (e, g) = (o.exp, o.got);
    if a.length != b.length {
        out.push(format!(
            "{p}: stream length {e} {} vs {g} {}",
            a.length, b.length
        ));
    }
    if a.last_id != b.last_id {
        out.push(format!(
            "{p}: last_id {e} {} vs {g} {}",
            a.last_id, b.last_id
        ));
    }
    cmp_opt(p, "first_id", &a.first_id, &b.first_id, o, out);
    cmp_opt(
        p,
        "max_deleted_id",
        &a.max_deleted_id,
        &b.max_deleted_id,
        o,
        out,
    );
    cmp_opt(
        p,
        "entries_added",
        &a.entries_added,
        &b.entries_added,
        o,
        out,
    );
    if let Some(i) = first_diff(&a.entries, &b.entries) {
        let sh = |x: Option<&(String, Vec<(Bytes, Bytes)>)>| {
            x.map_or("<none>".to_string(), |(id, f)| {
                format!(
                    "{id} {:?}",
                    f.iter()
                        .take(4)
                        .map(|(k, v)| (show(k), show(v)))
                        .collect::<Vec<_>>()
                )
            })
        };
        out.push(format!(
            "{p}: entries differ at index {i} ({} / {} entries): {e} {} vs {g} {}",
            a.entries.len(),
            b.entries.len(),
            sh(a.entries.get(i)),
            sh(b.entries.get(i))
        ));
    }
    let names = |m: &BTreeMap<Bytes, Group>| m.keys().map(|k| show(k)).collect::<Vec<_>>();
    if a.groups.keys().ne(b.groups.keys()) {
        out.push(format!(
            "{p}: groups {e} {:?} vs {g} {:?}",
            names(&a.groups),
            names(&b.groups)
        ));
    }
    for (name, ga) in &a.groups {
        let Some(gb) = b.groups.get(name) else {
            continue;
        };
        let gp = format!("{p} group {}", show(name));
        if ga.last_id != gb.last_id {
            out.push(format!(
                "{gp}: last_id {e} {} vs {g} {}",
                ga.last_id, gb.last_id
            ));
        }
        cmp_opt(
            &gp,
            "entries_read",
            &ga.entries_read,
            &gb.entries_read,
            o,
            out,
        );
        if let Some(i) = first_diff(&ga.pending, &gb.pending) {
            out.push(format!(
                "{gp}: pending differs at {i} ({} / {} entries; (id, delivery ms, count)): {e} {:?} vs {g} {:?}",
                ga.pending.len(),
                gb.pending.len(),
                ga.pending.get(i),
                gb.pending.get(i)
            ));
        }
        let cn = |m: &BTreeMap<Bytes, Consumer>| m.keys().map(|k| show(k)).collect::<Vec<_>>();
        if ga.consumers.keys().ne(gb.consumers.keys()) {
            out.push(format!(
                "{gp}: consumers {e} {:?} vs {g} {:?}",
                cn(&ga.consumers),
                cn(&gb.consumers)
            ));
        }
        for (cname, ca) in &ga.consumers {
            let Some(cb) = gb.consumers.get(cname) else {
                continue;
            };
            let cp = format!("{gp} consumer {}", show(cname));
            if ca.pending != cb.pending {
                out.push(format!(
                    "{cp}: pending ids {e} {:?} vs {g} {:?}",
                    ca.pending, cb.pending
                ));
            }
            if o.times {
                if ca.seen_time != cb.seen_time {
                    out.push(format!(
                        "{cp}: seen_time_ms {e} {} vs {g} {}",
                        ca.seen_time, cb.seen_time
                    ));
                }
                cmp_opt(
                    &cp,
                    "active_time_ms",
                    &ca.active_time,
                    &cb.active_time,
                    o,
                    out,
                );
            }
        }
    }
}

/// For set, zset and hash: the dump must tell apart at least as many encodings as the server.
pub(super) fn encoding_problems(server: &Snapshot, dump: &Snapshot) -> Vec<String> {
    let mut out = Vec::new();
    for ty in ["set", "zset", "hash"] {
        let distinct = |s: &Snapshot| -> BTreeSet<String> {
            s.values()
                .filter(|kv| kv.ty == ty)
                .filter_map(|kv| kv.encoding.clone())
                .collect()
        };
        let (a, b) = (distinct(server), distinct(dump));
        if b.len() < a.len() {
            out.push(format!("{ty}: server has encodings {a:?}, dump only {b:?}"));
        }
    }
    out
}

pub(super) fn encoding_table(s: &Snapshot) -> String {
    let mut m: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for kv in s.values() {
        *m.entry((kv.ty.as_str(), kv.encoding.as_deref().unwrap_or("?")))
            .or_default() += 1;
    }
    m.iter()
        .map(|((t, e), n)| format!("{t}/{e}={n}"))
        .collect::<Vec<_>>()
        .join(" ")
}
