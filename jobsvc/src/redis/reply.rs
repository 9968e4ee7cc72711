//! Reading RESP replies of the `redis` client: integers, text, bytes,
//! arrays and server errors.

use ::redis::Value as RV;

/// An integer reply (or a number sent as text).
pub fn int(v: &RV) -> Option<i64> {
    match v {
        RV::Int(i) => Some(*i),
        RV::BulkString(b) => std::str::from_utf8(b).ok()?.trim().parse().ok(),
        RV::SimpleString(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A status or bulk reply as text (empty for anything else).
pub fn text(v: &RV) -> String {
    match v {
        RV::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        RV::SimpleString(s) => s.clone(),
        RV::Okay => "OK".into(),
        _ => String::new(),
    }
}

/// A reply's bytes, as the server would send them for a value.
pub fn bytes(v: &RV) -> Option<Vec<u8>> {
    match v {
        RV::BulkString(b) => Some(b.clone()),
        RV::SimpleString(s) => Some(s.clone().into_bytes()),
        RV::Okay => Some(b"OK".to_vec()),
        RV::Int(i) => Some(i.to_string().into_bytes()),
        RV::Double(d) => Some(rdb_parser::restore::format_score(*d).into_bytes()),
        _ => None,
    }
}

/// The elements of an array, set or map reply (a map flattened to key,
/// value, key, value…).
pub fn items(v: &RV) -> Vec<RV> {
    match v {
        RV::Array(a) | RV::Set(a) => a.clone(),
        RV::Map(m) => m.iter().flat_map(|(k, v)| [k.clone(), v.clone()]).collect(),
        _ => Vec::new(),
    }
}

/// The code (`MOVED`, `BUSYKEY`…) and details of an error reply.
pub fn server_error(v: &RV) -> Option<(String, String)> {
    match v {
        RV::ServerError(e) => Some((
            e.code().to_string(),
            e.details().unwrap_or_default().to_string(),
        )),
        _ => None,
    }
}
