//! Fuzz target: `rdb_parser::writer::RdbWriter` (the cleanup's backup
//! writer) on arbitrary keys and values, read back by the parser.
//!
//! From the input: an RDB version, aux fields, and up to 64 keys, each with
//! a db, a name, maybe an absolute expire time, and a value (a string, raw
//! or integer-encoded; a list, set, hash, or sorted set with text or binary
//! scores) made into a `DUMP` payload, sometimes of a newer RDB version
//! than the file's or with a bad or zero checksum; and maybe a point where
//! the writer "restarts": one more entry is written, cut off, and the
//! writer resumed from its recorded state.
//!
//! Checks: a payload is refused exactly when it must be (a bad trailer, a
//! newer version, an expire time past `i64::MAX`) and a refusal changes
//! nothing; the writer's byte count is the file's length; the file parses,
//! its checksum verifies, nothing follows it, and every aux field, db, key,
//! expire time and value (every element and score) comes back equal, in
//! order.

#![no_main]

use std::cell::Cell;

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use rdb_parser::restore::restore_payload;
use rdb_parser::writer::{push_length, push_string, RdbWriter};
use rdb_parser::{ChecksumStatus, Element, Kind, Rdb, Record, Scratch};

/// A value as the test knows it.
#[derive(Clone, Debug)]
enum Val {
    Str(Vec<u8>),
    /// Stored as an integer-encoded string.
    Int(i64),
    List(Vec<Vec<u8>>),
    Set(Vec<Vec<u8>>),
    Hash(Vec<(Vec<u8>, Vec<u8>)>),
    /// `true`: binary scores (type 5); `false`: text scores (type 3).
    Zset(Vec<(Vec<u8>, f64)>, bool),
}

#[derive(Debug)]
struct Key {
    db: u32,
    name: Vec<u8>,
    expire: Option<u64>,
    val: Val,
    /// 0: a good payload; 1: one RDB version newer than the file's; 2: a
    /// zero checksum (accepted); 3: a corrupt checksum.
    payload: u8,
}

thread_local! {
    /// Bytes of long strings one input may still make (keeps an input's
    /// file to a few MB).
    static LONG_BUDGET: Cell<usize> = const { Cell::new(0) };
}

fuzz_target!(|data: &[u8]| {
    LONG_BUDGET.with(|b| b.set(2 << 20));
    let mut u = Unstructured::new(data);
    let Ok((version, aux, keys, restart)) = draw(&mut u) else {
        return;
    };
    check(version, &aux, &keys, restart);
});

fn bytes(u: &mut Unstructured<'_>) -> Result<Vec<u8>> {
    let tag: u8 = u.arbitrary()?;
    let long = 60 + usize::from(tag) * 70;
    Ok(match tag % 16 {
        // Past the 6- and 14-bit lengths now and then.
        0 if LONG_BUDGET.with(|b| b.replace(b.get().saturating_sub(long))) >= long => {
            vec![tag; long]
        }
        _ => {
            let n = usize::from(tag % 24).min(u.len());
            u.bytes(n)?.to_vec()
        }
    })
}

fn list<T>(
    u: &mut Unstructured<'_>,
    max: usize,
    mut f: impl FnMut(&mut Unstructured<'_>) -> Result<T>,
) -> Result<Vec<T>> {
    let n = u.int_in_range(0..=max)?;
    (0..n).map(|_| f(u)).collect()
}

fn draw(u: &mut Unstructured<'_>) -> Result<(u32, Vec<(String, String)>, Vec<Key>, Option<usize>)> {
    const VERSIONS: [u32; 10] = [6, 7, 8, 9, 10, 11, 12, 13, 14, 80];
    let pick: u8 = u.arbitrary()?;
    let version = match VERSIONS.get(usize::from(pick % 16)) {
        Some(&v) => v,
        None => u.int_in_range(5..=999)?,
    };
    let aux = list(u, 4, |u| {
        Ok((u.arbitrary::<String>()?, u.arbitrary::<String>()?))
    })?;
    let keys = list(u, 64, |u| {
        let db = match u.arbitrary::<u8>()? % 4 {
            0 => u.arbitrary()?,
            _ => u32::from(u.arbitrary::<u8>()? % 16),
        };
        let name = bytes(u)?;
        let expire = match u.arbitrary::<u8>()? % 4 {
            0 | 1 => None,
            2 => Some(u.int_in_range(1_600_000_000_000..=2_100_000_000_000)?),
            _ => Some(u.arbitrary()?),
        };
        let val = match u.arbitrary::<u8>()? % 8 {
            0 | 1 => Val::Str(bytes(u)?),
            2 => Val::Int(match u.arbitrary::<u8>()? % 3 {
                0 => i64::from(u.arbitrary::<i8>()?),
                1 => i64::from(u.arbitrary::<i16>()?),
                _ => i64::from(u.arbitrary::<i32>()?),
            }),
            3 => Val::List(list(u, 40, bytes)?),
            4 => Val::Set(list(u, 40, bytes)?),
            5 => Val::Hash(list(u, 40, |u| Ok((bytes(u)?, bytes(u)?)))?),
            b => Val::Zset(
                list(u, 40, |u| Ok((bytes(u)?, u.arbitrary::<f64>()?)))?,
                b == 6,
            ),
        };
        let payload = match u.arbitrary::<u8>()? % 16 {
            0 => 1,
            1 => 2,
            2 => 3,
            _ => 0,
        };
        Ok(Key {
            db,
            name,
            expire,
            val,
            payload,
        })
    })?;
    let restart = u.arbitrary::<Option<u8>>()?.map(usize::from);
    Ok((version, aux, keys, restart))
}

/// The value's type byte and serialized bytes.
fn encode(v: &Val) -> (u8, Vec<u8>) {
    let mut out = Vec::new();
    let t = match v {
        Val::Str(b) => {
            push_string(&mut out, b);
            0
        }
        Val::Int(i) => {
            if let Ok(x) = i8::try_from(*i) {
                out.extend_from_slice(&[0xc0, x as u8]);
            } else if let Ok(x) = i16::try_from(*i) {
                out.push(0xc1);
                out.extend_from_slice(&x.to_le_bytes());
            } else {
                out.push(0xc2);
                out.extend_from_slice(&(*i as i32).to_le_bytes());
            }
            0
        }
        Val::List(m) | Val::Set(m) => {
            push_length(&mut out, m.len() as u64);
            for x in m {
                push_string(&mut out, x);
            }
            if matches!(v, Val::List(_)) {
                1
            } else {
                2
            }
        }
        Val::Hash(p) => {
            push_length(&mut out, p.len() as u64);
            for (f, x) in p {
                push_string(&mut out, f);
                push_string(&mut out, x);
            }
            4
        }
        Val::Zset(p, binary) => {
            push_length(&mut out, p.len() as u64);
            for (m, s) in p {
                push_string(&mut out, m);
                if *binary {
                    out.extend_from_slice(&s.to_le_bytes());
                } else if s.is_nan() {
                    out.push(253);
                } else if s.is_infinite() {
                    out.push(if *s > 0.0 { 254 } else { 255 });
                } else {
                    let text = format!("{s:?}");
                    out.push(text.len() as u8);
                    out.extend_from_slice(text.as_bytes());
                }
            }
            if *binary {
                5
            } else {
                3
            }
        }
    };
    (t, out)
}

/// What a value reads back as: its kind and its elements' bytes (scores
/// as their bits, every NaN as one).
fn model(v: &Val) -> (Kind, Vec<Vec<u8>>) {
    let score = |s: f64| {
        let bits = if s.is_nan() {
            f64::NAN.to_bits()
        } else {
            s.to_bits()
        };
        bits.to_le_bytes().to_vec()
    };
    match v {
        Val::Str(b) => (Kind::String, vec![b.clone()]),
        Val::Int(i) => (Kind::String, vec![i.to_string().into_bytes()]),
        Val::List(m) => (Kind::List, m.clone()),
        Val::Set(m) => (Kind::Set, m.clone()),
        Val::Hash(p) => (
            Kind::Hash,
            p.iter().flat_map(|(f, x)| [f.clone(), x.clone()]).collect(),
        ),
        Val::Zset(p, _) => (
            Kind::Zset,
            p.iter().flat_map(|(m, s)| [m.clone(), score(*s)]).collect(),
        ),
    }
}

fn check(version: u32, aux: &[(String, String)], keys: &[Key], restart: Option<usize>) {
    let aux_refs: Vec<(&str, &str)> = aux.iter().map(|(k, v)| (&k[..], &v[..])).collect();
    let (mut w, mut file) = RdbWriter::start(version, &aux_refs);
    assert_eq!(w.state().bytes, file.len() as u64, "bytes of the header");
    let mut written = Vec::new();
    for (i, k) in keys.iter().enumerate() {
        let (t, body) = encode(&k.val);
        let pv = if k.payload == 1 { version + 1 } else { version };
        let mut payload = restore_payload(t, &body, pv);
        let n = payload.len();
        match k.payload {
            2 => payload[n - 8..].fill(0),
            3 => payload[n - 1] ^= 0x55,
            _ => {}
        }
        if restart == Some(i) {
            // A restart after this key was written but before it counted:
            // the file is cut back to the state and the key written again.
            let st = w.state();
            let mut ahead = w.clone();
            if let Ok(b) = ahead.entry(k.db, &k.name, k.expire, &payload) {
                file.extend(b);
            }
            file.truncate(st.bytes as usize);
            w = RdbWriter::resume(version, st);
        }
        let before = w.state();
        let refuse =
            k.payload == 3 || k.payload == 1 || k.expire.is_some_and(|t| t > i64::MAX as u64);
        match w.entry(k.db, &k.name, k.expire, &payload) {
            Ok(b) => {
                assert!(!refuse, "an entry that must be refused was written: {k:?}");
                file.extend(b);
                written.push(k);
            }
            Err(_) => {
                assert!(refuse, "a good entry was refused: {k:?}");
                assert_eq!(w.state(), before, "a refused entry changed the writer");
            }
        }
        assert_eq!(
            w.state().bytes,
            file.len() as u64,
            "the writer's byte count"
        );
    }
    file.extend(w.finish());
    assert_eq!(
        w.state().bytes,
        file.len() as u64,
        "the writer's byte count at the end"
    );
    assert_eq!(w.state().keys, written.len() as u64, "keys counted");

    let rdb = Rdb::new(&file).expect("the writer's header");
    assert_eq!(rdb.version(), version, "the file's version");
    let mut scratch = Scratch::new();
    let (mut buf, mut buf2) = (Vec::new(), Vec::new());
    let (mut aux_read, mut keys_read, mut eof) = (0, 0, false);
    for r in rdb.records() {
        let r = r.unwrap_or_else(|e| panic!("the writer's file does not parse: {e}"));
        assert!(!eof, "a record after EOF");
        match r {
            Record::Aux { name, value } => {
                let (k, v) = &aux[aux_read];
                assert_eq!(name.bytes(&mut buf).unwrap(), k.as_bytes(), "aux name");
                assert_eq!(value.bytes(&mut buf).unwrap(), v.as_bytes(), "aux value");
                aux_read += 1;
            }
            Record::SelectDb(_) => {}
            Record::Entry(e) => {
                let k = written[keys_read];
                keys_read += 1;
                assert_eq!(e.db, u64::from(k.db), "db of key {keys_read}");
                assert_eq!(e.key.bytes(&mut buf).unwrap(), &k.name[..], "key name");
                assert_eq!(e.expire_at_ms, k.expire.map(|t| t as i64), "expire time");
                let (kind, want) = model(&k.val);
                assert_eq!(e.kind(), kind, "kind of {k:?}");
                let mut got = Vec::new();
                if kind == Kind::String {
                    let s = e.value.as_string().expect("a string written");
                    got.push(s.bytes(&mut buf2).expect("its bytes").to_vec());
                } else {
                    let counted = e.value.element_count(&mut scratch).expect("a count");
                    let mut n = 0;
                    e.value
                        .for_each_element(&mut scratch, |el| {
                            n += 1;
                            match el {
                                Element::Member(m) => {
                                    let mut b = Vec::new();
                                    m.push_to(&mut b);
                                    got.push(b);
                                }
                                Element::Field { field, value, .. } => {
                                    for s in [field, value] {
                                        let mut b = Vec::new();
                                        s.push_to(&mut b);
                                        got.push(b);
                                    }
                                }
                                Element::Scored { member, score } => {
                                    let mut b = Vec::new();
                                    member.push_to(&mut b);
                                    got.push(b);
                                    let bits = if score.is_nan() {
                                        f64::NAN.to_bits()
                                    } else {
                                        score.to_bits()
                                    };
                                    got.push(bits.to_le_bytes().to_vec());
                                }
                            }
                        })
                        .expect("the elements written");
                    assert_eq!(counted, n, "element_count of {k:?}");
                }
                assert_eq!(got, want, "value of {k:?}");
            }
            Record::Eof {
                offset,
                stored_checksum,
                trailing_bytes,
            } => {
                eof = true;
                assert_eq!(trailing_bytes, 0, "bytes after the checksum");
                assert!(
                    matches!(
                        rdb.checksum_status(offset, stored_checksum),
                        ChecksumStatus::Verified(_)
                    ),
                    "the checksum verifies"
                );
            }
            other => panic!("a record the writer never writes: {other:?}"),
        }
    }
    assert!(eof, "an EOF record");
    assert_eq!(aux_read, aux.len(), "aux fields read back");
    assert_eq!(keys_read, written.len(), "keys read back");
}
