//! Hostile provider input: arbitrary JSON and arbitrary bytes never make a
//! parser panic, and valid entries next to broken ones survive.

use onair::providers::{jkt48connect, kitkot, konbini, realtimekit};
use proptest::prelude::*;
use serde_json::{json, Value};

/// Arbitrary JSON, biased toward the shapes providers send (objects with
/// their field names, numbers as strings, nulls).
fn arb_json() -> impl Strategy<Value = Value> {
    let keys = prop::sample::select(vec![
        "name",
        "type",
        "room_id",
        "url_key",
        "slug",
        "started_at",
        "streaming_url_list",
        "img",
        "img_alt",
        "url",
        "label",
        "quality",
        "data",
        "live",
        "result",
        "success",
        "status",
        "id",
        "stream_key",
        "playback_url",
        "disabled",
        "ingest_seconds",
        "session",
        "livestream",
        "isLive",
        "attributedTo",
        "attachment",
        "viewerCount",
        "code",
        "msg",
        "stream_url",
        "live_core_sdk_data",
        "pull_data",
        "stream_data",
        "hls_pull_url_map",
        "errors",
        "x",
    ]);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,40}".prop_map(Value::from),
        prop::sample::select(vec![
            "idn",
            "showroom",
            "youtube",
            "LIVE",
            "0",
            "",
            "2025-04-06T12:03:58.000Z",
            "javascript:alert(1)",
            "https://x.test/a.m3u8",
            "{\"data\":{}}"
        ])
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 64, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((keys.clone(), inner), 0..8).prop_map(|kv| Value::Object(
                kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
            )),
        ]
    })
}

fn all_parsers(v: &Value) {
    let _ = jkt48connect::parse_live(v);
    let _ = konbini::parse_user_live(v, "someone");
    let _ = kitkot::parse_join(v);
    let _ = kitkot::parse_stream_urls(v);
    let _ = realtimekit::unwrap_envelope(v);
    let _ = realtimekit::parse_livestream_list(v);
    let _ = realtimekit::parse_detail(v);
    let _ = realtimekit::parse_livestream(v);
    let _ = realtimekit::parse_session(v);
    let _ = realtimekit::parse_analytics(v);
}

fn good_member(i: usize) -> Value {
    json!({"name": format!("M{i}"), "url_key": format!("k{i}"), "slug": "s", "room_id": 1000 + i,
        "started_at": "2025-04-06T12:03:58.000Z", "type": "idn"})
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_json_never_panics(v in arb_json()) {
        all_parsers(&v);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(v) = serde_json::from_slice::<Value>(&bytes) {
            all_parsers(&v);
        }
        // Strings that are JSON documents inside JSON (kitkot's stream_data).
        let text = String::from_utf8_lossy(&bytes).to_string();
        let _ = kitkot::parse_stream_urls(&json!({"live_core_sdk_data": {"pull_data": {"stream_data": text}}}));
    }

    #[test]
    fn good_entries_survive_broken_neighbours(junk in prop::collection::vec(arb_json(), 0..6), good in 1usize..6) {
        let mut list: Vec<Value> = junk;
        for i in 0..good {
            list.insert(i * 2 % (list.len() + 1), good_member(i));
        }
        let parsed = jkt48connect::parse_live(&Value::Array(list)).expect("a list parses");
        for i in 0..good {
            prop_assert!(parsed.iter().any(|s| s.name == format!("M{i}")), "M{} lost", i);
        }
    }

    #[test]
    fn realtimekit_lists_keep_good_entries(junk in prop::collection::vec(arb_json(), 0..6)) {
        let mut list = junk;
        list.push(json!({"id": "ls-good", "status": "LIVE", "name": "ok"}));
        let parsed = realtimekit::parse_livestream_list(&Value::Array(list)).expect("a list parses");
        prop_assert!(parsed.iter().any(|l| l.id == "ls-good"));
    }
}
