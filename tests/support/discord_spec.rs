//! Judge request bodies the way Discord would.
//!
//! Every JSON body is checked against the request-body schema of the matching
//! operation in Discord's official OpenAPI 3.1 document
//! (`../shared/discord/openapi.json`, paths relative to `/api/v10`), plus the
//! documented rules the schema cannot express:
//!
//! * messages: at most 10 embeds and 6000 characters over all embed titles,
//!   descriptions, field names and values, footer texts and author names;
//!   non-empty embed field names and values; `content` of at most 2000
//!   characters (the schema of `POST /channels/{id}/messages` says 4000, which
//!   only applies to Nitro users); a new message must not be empty; at most 5
//!   action rows (without the components-v2 flag); buttons carry a
//!   `custom_id` or (link buttons) a `url`, custom ids are unique;
//!   `allowed_mentions.parse` excludes explicit `users` / `roles` lists;
//! * application commands: chat-input names (and option names, and their
//!   localizations) match `^[-_'\p{L}\p{N}\p{sc=Deva}\p{sc=Thai}]{1,32}$` and
//!   use lowercase letters where a lowercase form exists; descriptions of
//!   1–100 characters; required options before optional ones; unique names;
//!   at most 4000 characters per command (longest localization counted).
//!
//! Known spec quirk: permission bitsets (`default_member_permissions`,
//! `permissions`, `allow`, `deny`) are typed as integers in the spec while
//! Discord documents, and serenity sends, decimal strings; the schema is
//! patched once at load to accept a decimal string there too.
//!
//! Validators are compiled lazily per operation and cached for the process.

#![allow(dead_code)]

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::{json, Value};

const OPENAPI: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/discord/openapi.json"
);

/// Properties holding permission bitsets (integers in the spec, decimal
/// strings on the wire).
const PERMISSION_KEYS: [&str; 4] = ["default_member_permissions", "permissions", "allow", "deny"];

/// Message flag: the message uses components v2 (layout components).
const IS_COMPONENTS_V2: u64 = 1 << 15;

struct Spec {
    doc: Value,
    /// (template, segments)
    templates: Vec<(String, Vec<String>)>,
}

fn spec() -> &'static Spec {
    static SPEC: OnceLock<Spec> = OnceLock::new();
    SPEC.get_or_init(|| {
        let text = std::fs::read_to_string(OPENAPI).unwrap_or_else(|e| {
            panic!("read {OPENAPI}: {e} (../shared must sit beside the checkout)")
        });
        let mut doc: Value = serde_json::from_str(&text).expect("openapi.json is JSON");
        patch_permission_strings(&mut doc);
        let templates = doc["paths"]
            .as_object()
            .expect("openapi.json has paths")
            .keys()
            .map(|t| (t.clone(), segments(t)))
            .collect();
        Spec { doc, templates }
    })
}

/// The whole (patched) OpenAPI document.
pub fn document() -> &'static Value {
    &spec().doc
}

fn segments(path: &str) -> Vec<String> {
    path.trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn has_integer_type(schema: &Value) -> bool {
    match &schema["type"] {
        Value::String(t) => t == "integer",
        Value::Array(ts) => ts.iter().any(|t| t == "integer"),
        _ => false,
    }
}

fn patch_permission_strings(v: &mut Value) {
    match v {
        Value::Object(map) => {
            if let Some(Value::Object(props)) = map.get_mut("properties") {
                for key in PERMISSION_KEYS {
                    if let Some(p) = props.get_mut(key) {
                        if has_integer_type(p) {
                            let original = p.take();
                            *p = json!({"anyOf": [
                                original,
                                {"type": "string", "pattern": "^(0|[1-9][0-9]{0,16})$"}
                            ]});
                        }
                    }
                }
            }
            for (_, child) in map.iter_mut() {
                patch_permission_strings(child);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(patch_permission_strings),
        _ => {}
    }
}

/// The concrete path without `/api/v10`, query or trailing slash.
pub fn api_path(path: &str) -> &str {
    let path = path.split('?').next().unwrap_or(path);
    path.strip_prefix("/api/v10").unwrap_or(path)
}

/// The OpenAPI path template (e.g. `/channels/{channel_id}/messages`) of a
/// concrete request path (with or without `/api/v10` and a query) that has an
/// operation for `method`. The template with the most literal segments wins
/// (`.../messages/@original` over `.../messages/{message_id}`).
pub fn route_template(method: &str, path: &str) -> Option<&'static str> {
    let segs = segments(api_path(path));
    let method = method.to_ascii_lowercase();
    let mut best: Option<(usize, &'static str)> = None;
    for (template, tsegs) in &spec().templates {
        if tsegs.len() != segs.len() {
            continue;
        }
        let mut literal = 0;
        let fits = tsegs.iter().zip(&segs).all(|(t, s)| {
            if t.starts_with('{') {
                !s.is_empty()
            } else if t == s {
                literal += 1;
                true
            } else {
                false
            }
        });
        if !fits || spec().doc["paths"][template.as_str()].get(&method).is_none() {
            continue;
        }
        if best.is_none_or(|(n, _)| literal > n) {
            best = Some((literal, template.as_str()));
        }
    }
    best.map(|(_, t)| t)
}

type Cache = Mutex<HashMap<String, Arc<jsonschema::Validator>>>;

fn cache() -> &'static Cache {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// A validator for `schema`, whose `#/components/...` references resolve
/// against the document (the components are carried along in the root).
fn compiled(key: &str, schema: &Value) -> Result<Arc<jsonschema::Validator>, String> {
    if let Some(v) = cache().lock().unwrap_or_else(|e| e.into_inner()).get(key) {
        return Ok(Arc::clone(v));
    }
    let mut root = match schema {
        Value::Object(m) => Value::Object(m.clone()),
        other => json!({"allOf": [other]}),
    };
    root["components"] = spec().doc["components"].clone();
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .should_validate_formats(true)
        .should_ignore_unknown_formats(true)
        .build(&root)
        .map_err(|e| format!("cannot compile the schema for {key}: {e}"))?;
    let validator = Arc::new(validator);
    cache()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(key.to_string(), Arc::clone(&validator));
    Ok(validator)
}

/// The JSON request-body schema of an operation (None: it takes no JSON body).
pub fn body_schema(method: &str, template: &str) -> Option<&'static Value> {
    spec().doc["paths"][template][method.to_ascii_lowercase()]["requestBody"]["content"]
        .get("application/json")
        .map(|c| &c["schema"])
}

fn resolve(schema: &Value) -> &Value {
    match schema["$ref"].as_str() {
        Some(r) => r
            .strip_prefix('#')
            .and_then(|p| spec().doc.pointer(p))
            .unwrap_or(schema),
        None => schema,
    }
}

fn shorten(s: String) -> String {
    if s.chars().count() <= 300 {
        s
    } else {
        let cut: String = s.chars().take(300).collect();
        format!("{cut}…")
    }
}

fn errors_of(v: &jsonschema::Validator, body: &Value, limit: usize) -> Vec<String> {
    v.iter_errors(body)
        .take(limit)
        .map(|e| {
            let at = e.instance_path.to_string();
            let at = if at.is_empty() { "/".to_string() } else { at };
            shorten(format!("{at}: {e}"))
        })
        .collect()
}

/// Schema errors of `body` for `method template` (empty: valid).
pub fn schema_errors(method: &str, template: &str, body: &Value) -> Vec<String> {
    let Some(schema) = body_schema(method, template) else {
        return vec![format!(
            "{method} {template} takes no JSON body in Discord's API"
        )];
    };
    let key = format!("{} {template}", method.to_ascii_uppercase());
    let v = match compiled(&key, schema) {
        Ok(v) => v,
        Err(e) => return vec![e],
    };
    if v.is_valid(body) {
        return Vec::new();
    }
    // A union (anyOf/oneOf of references): explain with the member the body
    // claims to be (by its `type`), or with every member.
    let members = schema
        .get("anyOf")
        .or_else(|| schema.get("oneOf"))
        .and_then(Value::as_array);
    if let Some(members) = members {
        let claimed: Vec<&Value> = members
            .iter()
            .filter(|m| {
                let t = &resolve(m)["properties"]["type"];
                match (&body["type"], t.get("enum").and_then(Value::as_array)) {
                    (Value::Number(n), Some(allowed)) => allowed.iter().any(|a| a.as_u64() == n.as_u64()),
                    _ => false,
                }
            })
            .collect();
        let explain: Vec<&Value> = if claimed.is_empty() {
            members.iter().collect()
        } else {
            claimed
        };
        let mut out = Vec::new();
        for m in explain {
            let name = m["$ref"]
                .as_str()
                .and_then(|r| r.rsplit('/').next())
                .unwrap_or("member");
            match compiled(&format!("{key} [{name}]"), m) {
                Ok(mv) => out.extend(errors_of(&mv, body, 5).into_iter().map(|e| format!("[{name}] {e}"))),
                Err(e) => out.push(e),
            }
        }
        if !out.is_empty() {
            return out;
        }
    }
    let errs = errors_of(&v, body, 8);
    if errs.is_empty() {
        vec!["body does not match the schema".into()]
    } else {
        errs
    }
}

/// Every reason Discord would refuse this JSON body (empty: valid).
/// `path` is the concrete request path (with or without `/api/v10`).
pub fn check(method: &str, path: &str, body: &Value) -> Vec<String> {
    check_with(method, path, body, false)
}

/// As [`check`], for a body that came with files (multipart): an otherwise
/// empty message is fine then.
pub fn check_with(method: &str, path: &str, body: &Value, has_files: bool) -> Vec<String> {
    let method = method.to_ascii_uppercase();
    let Some(template) = route_template(&method, path) else {
        return vec![format!(
            "{method} {}: no such operation in Discord's API",
            api_path(path)
        )];
    };
    let mut errors = schema_errors(&method, template, body);
    errors.extend(rules(&method, template, body, has_files));
    errors
}

/// The documented rules beyond the schema, by operation.
pub fn rules(method: &str, template: &str, body: &Value, has_files: bool) -> Vec<String> {
    let mut errors = Vec::new();
    match (method, template) {
        ("POST", "/channels/{channel_id}/messages")
        | ("POST", "/webhooks/{webhook_id}/{webhook_token}") => {
            errors.extend(message_rules(body, true, has_files));
        }
        ("PATCH", "/channels/{channel_id}/messages/{message_id}")
        | ("PATCH", "/webhooks/{webhook_id}/{webhook_token}/messages/@original")
        | ("PATCH", "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}") => {
            errors.extend(message_rules(body, false, has_files));
        }
        ("POST", "/interactions/{interaction_id}/{interaction_token}/callback") => {
            let data = &body["data"];
            match body["type"].as_u64() {
                Some(4) => errors.extend(message_rules(data, true, has_files)),
                Some(5) | Some(6) | Some(7) if data.is_object() => {
                    errors.extend(message_rules(data, false, has_files))
                }
                _ => {}
            }
        }
        (_, t) if t.contains("/commands") && matches!(method, "POST" | "PUT" | "PATCH") => {
            errors.extend(command_rules(body));
        }
        _ => {}
    }
    errors
}

fn chars(v: &Value) -> usize {
    v.as_str().map_or(0, |s| s.chars().count())
}

/// Characters counted toward the 6000 limit in one embed.
pub fn embed_chars(e: &Value) -> usize {
    chars(&e["title"])
        + chars(&e["description"])
        + chars(&e["footer"]["text"])
        + chars(&e["author"]["name"])
        + e["fields"].as_array().map_or(0, |fs| {
            fs.iter()
                .map(|f| chars(&f["name"]) + chars(&f["value"]))
                .sum()
        })
}

/// The embed rules over one message body: ≤ 10 embeds, ≤ 6000 characters
/// in total, non-empty field names and values.
pub fn embed_rules(body: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    let Some(embeds) = body["embeds"].as_array() else {
        return errors;
    };
    if embeds.len() > 10 {
        errors.push(format!("{} embeds in one message (max 10)", embeds.len()));
    }
    let total: usize = embeds.iter().map(embed_chars).sum();
    if total > 6000 {
        errors.push(format!(
            "{total} embed characters in one message (max 6000 over titles, descriptions, fields, footers and authors)"
        ));
    }
    for (i, e) in embeds.iter().enumerate() {
        for (j, f) in e["fields"].as_array().into_iter().flatten().enumerate() {
            for k in ["name", "value"] {
                if f[k].as_str().is_some_and(|s| s.trim().is_empty()) {
                    errors.push(format!("/embeds/{i}/fields/{j}/{k}: must not be empty"));
                }
            }
        }
    }
    errors
}

/// Rules for a message body (create: a new message, which must not be empty).
pub fn message_rules(body: &Value, create: bool, has_files: bool) -> Vec<String> {
    let mut errors = embed_rules(body);
    if chars(&body["content"]) > 2000 {
        errors.push(format!(
            "/content: {} characters (a bot's message holds at most 2000)",
            chars(&body["content"])
        ));
    }
    let non_empty = |k: &str| match &body[k] {
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(_) => true,
        _ => false,
    };
    if create
        && !has_files
        && !["content", "embeds", "components", "sticker_ids", "poll", "attachments"]
            .iter()
            .any(|k| non_empty(k))
    {
        errors.push("Cannot send an empty message (code 50006)".into());
    }
    let am = &body["allowed_mentions"];
    if let Some(parse) = am["parse"].as_array() {
        for (kind, list) in [("users", "users"), ("roles", "roles")] {
            if parse.iter().any(|p| p == kind) && am[list].as_array().is_some_and(|l| !l.is_empty()) {
                errors.push(format!(
                    "/allowed_mentions: parse:[\"{kind}\"] and a `{list}` list are mutually exclusive"
                ));
            }
        }
    }
    errors.extend(component_rules(body));
    errors
}

fn component_rules(body: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    let Some(rows) = body["components"].as_array() else {
        return errors;
    };
    let v2 = body["flags"].as_u64().unwrap_or(0) & IS_COMPONENTS_V2 != 0;
    if !v2 && rows.len() > 5 {
        errors.push(format!("/components: {} action rows (max 5)", rows.len()));
    }
    let mut ids = HashSet::new();
    fn walk(c: &Value, at: &str, ids: &mut HashSet<String>, errors: &mut Vec<String>) {
        if let Some(id) = c["custom_id"].as_str() {
            if !ids.insert(id.to_string()) {
                errors.push(format!("{at}/custom_id: `{id}` is used twice in one message"));
            }
        }
        if c["type"].as_u64() == Some(2) {
            let link = c["style"].as_u64() == Some(5);
            let premium = c["style"].as_u64() == Some(6);
            if link && (c["url"].as_str().is_none() || c["custom_id"].is_string()) {
                errors.push(format!("{at}: a link button needs a url and no custom_id"));
            }
            if !link && !premium && c["custom_id"].as_str().is_none() {
                errors.push(format!("{at}: a button needs a custom_id"));
            }
            if !premium && c["label"].as_str().is_none_or(str::is_empty) && c["emoji"].is_null() {
                errors.push(format!("{at}: a button needs a label or an emoji"));
            }
        }
        for (i, child) in c["components"].as_array().into_iter().flatten().enumerate() {
            walk(child, &format!("{at}/components/{i}"), ids, errors);
        }
    }
    for (i, row) in rows.iter().enumerate() {
        walk(row, &format!("/components/{i}"), &mut ids, &mut errors);
    }
    errors
}

/// Discord's naming rule for chat-input command and option names.
pub fn valid_chat_input_name(name: &str) -> bool {
    let n = name.chars().count();
    (1..=32).contains(&n)
        && name.chars().all(|c| {
            c.is_alphanumeric()
                || matches!(c, '-' | '_' | '\'')
                || ('\u{0900}'..='\u{097F}').contains(&c) // Devanagari
                || ('\u{0E00}'..='\u{0E7F}').contains(&c) // Thai
        })
        && name.chars().all(|c| {
            let mut lower = c.to_lowercase();
            lower.next() == Some(c) && lower.next().is_none()
        })
}

fn longest(v: &Value, key: &str) -> usize {
    let base = chars(&v[key]);
    let loc = v[format!("{key}_localizations")]
        .as_object()
        .map_or(0, |m| m.values().map(chars).max().unwrap_or(0));
    base.max(loc)
}

/// Rules for a command registration body (one command or a bulk array).
pub fn command_rules(body: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    let commands: Vec<&Value> = match body {
        Value::Array(cmds) => cmds.iter().collect(),
        other => vec![other],
    };
    let mut seen = HashSet::new();
    for (i, cmd) in commands.iter().enumerate() {
        let kind = cmd["type"].as_u64().unwrap_or(1);
        let at = if body.is_array() {
            format!("/{i}")
        } else {
            String::new()
        };
        let Some(name) = cmd["name"].as_str() else {
            continue; // the schema reports a missing name (PATCH may omit it)
        };
        if !seen.insert((kind, name.to_string())) {
            errors.push(format!("{at}/name: two commands of type {kind} named `{name}`"));
        }
        if kind == 1 {
            check_names(cmd, &at, &mut errors);
            if chars(&cmd["description"]) == 0 {
                errors.push(format!("{at}/description: a chat-input command needs a description of 1-100 characters"));
            }
            check_options(cmd, &at, 0, &mut errors);
            let total = command_chars(cmd);
            if total > 4000 {
                errors.push(format!(
                    "{at}: {total} characters over names, descriptions and choices (max 4000)"
                ));
            }
        } else if chars(&cmd["description"]) > 0 {
            errors.push(format!("{at}/description: user and message commands take an empty description"));
        }
    }
    errors
}

fn check_names(v: &Value, at: &str, errors: &mut Vec<String>) {
    if let Some(name) = v["name"].as_str() {
        if !valid_chat_input_name(name) {
            errors.push(format!(
                "{at}/name: `{name}` breaks Discord's naming rule (1-32 lowercase letters, digits, - _ ')"
            ));
        }
    }
    for (locale, name) in v["name_localizations"].as_object().into_iter().flatten() {
        if let Some(name) = name.as_str() {
            if !valid_chat_input_name(name) {
                errors.push(format!(
                    "{at}/name_localizations/{locale}: `{name}` breaks Discord's naming rule"
                ));
            }
        }
    }
}

fn check_options(parent: &Value, at: &str, depth: usize, errors: &mut Vec<String>) {
    let Some(options) = parent["options"].as_array() else {
        return;
    };
    let mut names = HashSet::new();
    let mut optional_seen = false;
    let kinds: Vec<u64> = options.iter().map(|o| o["type"].as_u64().unwrap_or(0)).collect();
    let subs = kinds.iter().filter(|k| **k == 1 || **k == 2).count();
    if subs > 0 && subs != kinds.len() {
        errors.push(format!(
            "{at}/options: subcommands and groups cannot sit beside other options"
        ));
    }
    let parent_is_group = parent["type"].as_u64() == Some(2) && depth > 0;
    for (i, o) in options.iter().enumerate() {
        let oat = format!("{at}/options/{i}");
        let kind = kinds[i];
        check_names(o, &oat, errors);
        if let Some(n) = o["name"].as_str() {
            if !names.insert(n.to_string()) {
                errors.push(format!("{oat}/name: `{n}` is used twice"));
            }
        }
        if chars(&o["description"]) == 0 {
            errors.push(format!("{oat}/description: needs 1-100 characters"));
        }
        if parent_is_group && kind != 1 {
            errors.push(format!("{oat}: a subcommand group holds only subcommands"));
        }
        if kind == 2 && depth > 0 {
            errors.push(format!("{oat}: subcommand groups cannot nest"));
        }
        if kind == 1 && depth > 1 {
            errors.push(format!("{oat}: subcommands nest at most inside a group"));
        }
        if kind != 1 && kind != 2 {
            let required = o["required"].as_bool().unwrap_or(false);
            if required && optional_seen {
                errors.push(format!("{oat}: required options must come before optional ones"));
            }
            if !required {
                optional_seen = true;
            }
            if o["autocomplete"].as_bool() == Some(true)
                && o["choices"].as_array().is_some_and(|c| !c.is_empty())
            {
                errors.push(format!("{oat}: autocomplete and choices are mutually exclusive"));
            }
        }
        if kind == 1 || kind == 2 {
            check_options(o, &oat, depth + 1, errors);
        }
    }
}

/// Characters of a command counted toward the 4000 limit.
pub fn command_chars(cmd: &Value) -> usize {
    let mut total = longest(cmd, "name") + longest(cmd, "description");
    for o in cmd["options"].as_array().into_iter().flatten() {
        total += command_chars(o);
        for c in o["choices"].as_array().into_iter().flatten() {
            total += longest(c, "name");
            total += match &c["value"] {
                Value::String(s) => s.chars().count(),
                other => other.to_string().len(),
            };
        }
    }
    total
}
