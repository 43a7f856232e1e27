//! Check request bodies against Discord's official OpenAPI document
//! (`tests/data/openapi.json`, vendored): the request schema of the matched
//! operation, plus the docs' rules the spec cannot express (6000 embed
//! characters per message).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::Value;

const OPENAPI: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/openapi.json");

fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| {
        let text = std::fs::read_to_string(OPENAPI)
            .unwrap_or_else(|e| panic!("read {OPENAPI}: {e} (vendored test data)"));
        serde_json::from_str(&text).expect("openapi.json is JSON")
    })
}

type Cache = Mutex<HashMap<String, Arc<jsonschema::Validator>>>;

fn cache() -> &'static Cache {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// The OpenAPI path template matching a concrete `/api/v10/...` path.
pub fn match_path(path: &str) -> Option<String> {
    let path = path.strip_prefix("/api/v10").unwrap_or(path);
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let paths = document().get("paths")?.as_object()?;
    let mut best: Option<(usize, &String)> = None;
    for template in paths.keys() {
        let tsegs: Vec<&str> = template.trim_matches('/').split('/').collect();
        if tsegs.len() != segs.len() {
            continue;
        }
        let mut literal = 0;
        let ok = tsegs.iter().zip(&segs).all(|(t, s)| {
            if t.starts_with('{') {
                true
            } else if t == s {
                literal += 1;
                true
            } else {
                false
            }
        });
        if ok && best.is_none_or(|(n, _)| literal > n) {
            best = Some((literal, template));
        }
    }
    best.map(|(_, t)| t.clone())
}

fn pointer_escape(s: &str) -> String {
    // JSON pointer escaping, then URI-fragment escaping of the braces.
    s.replace('~', "~0")
        .replace('/', "~1")
        .replace('{', "%7B")
        .replace('}', "%7D")
}

fn validator(template: &str, method: &str) -> Result<Option<Arc<jsonschema::Validator>>, String> {
    let key = format!("{method} {template}");
    if let Some(v) = cache().lock().unwrap().get(&key) {
        return Ok(Some(Arc::clone(v)));
    }
    let op = &document()["paths"][template][method.to_lowercase()];
    if op.get("requestBody").is_none() {
        return Ok(None);
    }
    let pointer = format!(
        "#/paths/{}/{}/requestBody/content/application~1json/schema",
        pointer_escape(template),
        method.to_lowercase()
    );
    // The whole document as the root resource, with a $ref to the body
    // schema: `#/components/...` references then resolve as in the spec.
    let mut root = document().clone();
    root.as_object_mut()
        .ok_or("document is not an object")?
        .insert("$ref".into(), Value::String(pointer));
    let v = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        // Discord refuses a malformed URL or timestamp too.
        .should_validate_formats(true)
        .build(&root)
        .map_err(|e| format!("compile schema for {key}: {e}"))?;
    let v = Arc::new(v);
    cache().lock().unwrap().insert(key, Arc::clone(&v));
    Ok(Some(v))
}

/// Discord sends permission bitsets as decimal strings; the spec types them
/// as integers. Convert such strings so the check judges the rest.
fn normalize(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if k == "default_member_permissions" || k == "permissions" {
                    if let Value::String(s) = v {
                        if let Ok(n) = s.parse::<u64>() {
                            *v = Value::from(n);
                        }
                    }
                }
                normalize(v);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(normalize),
        _ => {}
    }
}

fn text_len(v: &Value) -> usize {
    v.as_str().map_or(0, |s| s.chars().count())
}

/// The docs' per-message embed rules: at most 10 embeds, at most 6000
/// characters over titles, descriptions, field names and values, footers
/// and author names.
pub fn embed_rules(body: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    let embeds = body
        .get("embeds")
        .or_else(|| body.get("data").and_then(|d| d.get("embeds")));
    let Some(embeds) = embeds.and_then(Value::as_array) else {
        return errors;
    };
    if embeds.len() > 10 {
        errors.push(format!("{} embeds (max 10)", embeds.len()));
    }
    let total: usize = embeds
        .iter()
        .map(|e| {
            text_len(&e["title"])
                + text_len(&e["description"])
                + text_len(&e["footer"]["text"])
                + text_len(&e["author"]["name"])
                + e["fields"].as_array().map_or(0, |fs| {
                    fs.iter()
                        .map(|f| text_len(&f["name"]) + text_len(&f["value"]))
                        .sum()
                })
        })
        .sum();
    if total > 6000 {
        errors.push(format!(
            "{total} embed characters in one message (max 6000)"
        ));
    }
    errors
}

/// The docs' naming rule for slash commands and their options (the spec
/// only has the length): 1–32 of letters, digits, `-`, `_`, `'`, lowercase.
pub fn command_name_rules(body: &Value) -> Vec<String> {
    fn walk(v: &Value, errors: &mut Vec<String>) {
        if let Some(name) = v.get("name").and_then(Value::as_str) {
            let chat_input = v
                .get("type")
                .and_then(Value::as_u64)
                .is_none_or(|t| t == 1 || t > 2);
            let ok = (1..=32).contains(&name.chars().count())
                && name
                    .chars()
                    .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '\''))
                && name.to_lowercase() == name;
            if chat_input && !ok {
                errors.push(format!(
                    "command or option name `{name}` breaks Discord's naming rule"
                ));
            }
        }
        if let Some(opts) = v.get("options").and_then(Value::as_array) {
            for o in opts {
                walk(o, errors);
            }
        }
    }
    let mut errors = Vec::new();
    match body {
        Value::Array(cmds) => cmds.iter().for_each(|c| walk(c, &mut errors)),
        other => walk(other, &mut errors),
    }
    errors
}

/// The reason [`check`] gives for a message with nothing in it (Discord's
/// 50006 "Cannot send an empty message").
pub const EMPTY_MESSAGE: &str =
    "an empty message: no content, embeds, components, stickers, files or poll";

/// Action rows allowed in one message unless it uses components v2.
const MAX_ACTION_ROWS: usize = 5;
/// `IS_COMPONENTS_V2`: the message's layout is all components.
const COMPONENTS_V2: u64 = 1 << 15;

/// The routes that post a new message (as the bot, a webhook, or an
/// interaction's follow-up) and the callback that answers with one.
fn posts_a_message(method: &str, template: &str) -> bool {
    method == "POST"
        && matches!(
            template,
            "/channels/{channel_id}/messages" | "/webhooks/{webhook_id}/{webhook_token}"
        )
}

/// The docs' message rules the spec cannot say: a new message needs
/// something in it, and at most 5 top-level action rows (unless the
/// message uses components v2). For an interaction callback, the message
/// is its `data` (types 4 and 7).
pub fn message_rules(method: &str, template: &str, body: &Value) -> Vec<String> {
    let callback = template.ends_with("/callback");
    let message = if callback { &body["data"] } else { body };
    let mut errors = Vec::new();
    let filled = |k: &str| match message.get(k) {
        None | Some(Value::Null) => false,
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(_) => true,
    };
    let empty = ![
        "content",
        "embeds",
        "components",
        "sticker_ids",
        "attachments",
        "files",
        "poll",
    ]
    .iter()
    .any(|k| filled(k));
    let new_message =
        posts_a_message(method, template) || (callback && body["type"].as_u64() == Some(4));
    if new_message && empty {
        errors.push(EMPTY_MESSAGE.to_string());
    }
    let v2 = message["flags"]
        .as_u64()
        .is_some_and(|f| f & COMPONENTS_V2 != 0);
    let rows = message["components"].as_array().map_or(0, Vec::len);
    if rows > MAX_ACTION_ROWS && !v2 {
        errors.push(format!(
            "{rows} action rows (max {MAX_ACTION_ROWS} without components v2)"
        ));
    }
    errors
}

/// Every reason Discord would refuse this body (empty: valid).
pub fn check(method: &str, path: &str, body: &Value) -> Vec<String> {
    let Some(template) = match_path(path) else {
        return vec![format!("{method} {path}: no such route in Discord's API")];
    };
    let mut errors = embed_rules(body);
    errors.extend(message_rules(method, &template, body));
    // Discord's documented content limit (the spec has none).
    if let Some(c) = body.get("content").and_then(Value::as_str) {
        let n = c.chars().count();
        if n > 2000 {
            errors.push(format!("content is {n} characters, over Discord's 2000"));
        }
    }
    if template.ends_with("/commands") || template.contains("/commands/") {
        errors.extend(command_name_rules(body));
    }
    match validator(&template, method) {
        Ok(Some(v)) => {
            let mut b = body.clone();
            normalize(&mut b);
            errors.extend(
                v.iter_errors(&b)
                    .map(|e| format!("{} at {}", e, e.instance_path))
                    .take(5),
            );
        }
        Ok(None) => {}
        Err(e) => errors.push(e),
    }
    errors
}
