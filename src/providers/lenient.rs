//! Lenient readers for provider JSON: numbers that arrive as strings, ids
//! that are numbers or strings or 0, booleans as `"true"`, times as ISO text
//! or epoch seconds/milliseconds. Each returns `None` for what it cannot
//! read, never an error: one odd field must not sink a whole object.

use chrono::{DateTime, Utc};
use serde_json::Value;

/// A non-empty, trimmed string. Numbers are written out (ids often arrive
/// as either); anything else is `None`.
pub fn string(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => {
            let s = s.trim();
            (!s.is_empty()).then(|| s.to_string())
        }
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Only a real JSON string (trimmed, non-empty); numbers are not names.
pub fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => {
            let s = s.trim();
            (!s.is_empty()).then(|| s.to_string())
        }
        _ => None,
    }
}

/// An id: a non-zero number or a non-empty string other than `"0"`.
/// `0`, `""`, `"0"` and `null` mean "absent".
pub fn id(v: Option<&Value>) -> Option<String> {
    let s = string(v)?;
    (s != "0").then_some(s)
}

/// A non-negative whole number: `12`, `12.0`, `"12"`, `" 12 "`, `"12.7"` (truncated).
pub fn u64(v: Option<&Value>) -> Option<u64> {
    let f = f64(v)?;
    (0.0..1.8e19).contains(&f).then_some(f as u64)
}

/// A finite number: JSON number or numeric string.
pub fn f64(v: Option<&Value>) -> Option<f64> {
    let f = match v? {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    f.is_finite().then_some(f)
}

/// `true`/`false`, `"true"`/`"false"` (any case), `1`/`0`, `"1"`/`"0"`;
/// anything else (`"disabled"`) is `None`.
pub fn bool(v: Option<&Value>) -> Option<bool> {
    match v? {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => match n.as_i64() {
            Some(0) => Some(false),
            Some(1) => Some(true),
            _ => None,
        },
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => Some(true),
            "false" | "0" | "no" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// A point in time: RFC 3339 text, epoch seconds (number or numeric
/// string), or epoch milliseconds when the number is above 1e12.
pub fn time(v: Option<&Value>) -> Option<DateTime<Utc>> {
    match v? {
        Value::String(s) => {
            let s = s.trim();
            if let Ok(t) = DateTime::parse_from_rfc3339(s) {
                return Some(t.with_timezone(&Utc));
            }
            // "2025-04-06 12:03:58" (no zone): read as UTC.
            if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S") {
                return Some(t.and_utc());
            }
            if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f") {
                return Some(t.and_utc());
            }
            epoch(s.parse::<f64>().ok()?)
        }
        Value::Number(n) => epoch(n.as_f64()?),
        _ => None,
    }
}

fn epoch(n: f64) -> Option<DateTime<Utc>> {
    if !n.is_finite() || n <= 0.0 {
        return None;
    }
    let secs = if n > 1e12 { n / 1000.0 } else { n };
    DateTime::from_timestamp(secs.trunc() as i64, 0)
}

/// `a.b.c` without panicking on any shape.
pub fn path<'a>(v: &'a Value, keys: &[&str]) -> Option<&'a Value> {
    keys.iter().try_fold(v, |cur, k| cur.get(*k))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_as_strings() {
        assert_eq!(u64(Some(&json!("1200"))), Some(1200));
        assert_eq!(u64(Some(&json!(" 7 "))), Some(7));
        assert_eq!(u64(Some(&json!(-3))), None);
        assert_eq!(f64(Some(&json!("12.5"))), Some(12.5));
        assert_eq!(f64(Some(&json!("ingest_seconds"))), None);
        assert_eq!(f64(Some(&json!(null))), None);
        assert_eq!(f64(None), None);
    }

    #[test]
    fn ids() {
        assert_eq!(id(Some(&json!(510011))).as_deref(), Some("510011"));
        assert_eq!(id(Some(&json!("510011"))).as_deref(), Some("510011"));
        assert_eq!(id(Some(&json!(0))), None);
        assert_eq!(id(Some(&json!("0"))), None);
        assert_eq!(id(Some(&json!(""))), None);
        assert_eq!(id(Some(&json!(null))), None);
        assert_eq!(id(Some(&json!(true))), None);
    }

    #[test]
    fn bools() {
        assert_eq!(bool(Some(&json!("TRUE"))), Some(true));
        assert_eq!(bool(Some(&json!("false"))), Some(false));
        assert_eq!(bool(Some(&json!(false))), Some(false));
        assert_eq!(bool(Some(&json!("disabled"))), None);
    }

    #[test]
    fn times() {
        let want = DateTime::from_timestamp(1_743_941_038, 0);
        assert_eq!(time(Some(&json!("2025-04-06T12:03:58.000Z"))), want);
        assert_eq!(time(Some(&json!("2025-04-06T19:03:58+07:00"))), want);
        assert_eq!(time(Some(&json!(1_743_941_038))), want);
        assert_eq!(time(Some(&json!(1_743_941_038_000_i64))), want);
        assert_eq!(time(Some(&json!("1743941038"))), want);
        assert_eq!(time(Some(&json!("2025-04-06 12:03:58"))), want);
        assert_eq!(time(Some(&json!("yesterday"))), None);
        assert_eq!(time(Some(&json!(0))), None);
    }
}
