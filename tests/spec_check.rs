//! The fake Discord's body check must be able to fail: bodies Discord
//! refuses are caught, valid ones pass.

mod support;

use serde_json::json;
use support::spec::check;

const MSG: &str = "/api/v10/channels/1300000000000000001/messages";
const CMDS: &str = "/api/v10/applications/1/guilds/2/commands";

#[test]
fn a_valid_message_passes() {
    let body = json!({"content": "hi", "embeds": [{"title": "t", "fields": [{"name": "a", "value": "b"}]}],
        "allowed_mentions": {"parse": [], "roles": []}});
    assert_eq!(check("POST", MSG, &body), Vec::<String>::new());
}

#[test]
fn an_embed_title_over_256_fails() {
    let body = json!({"embeds": [{"title": "x".repeat(300)}]});
    assert!(!check("POST", MSG, &body).is_empty());
}

#[test]
fn eleven_embeds_fail() {
    let body = json!({"embeds": (0..11).map(|_| json!({"title": "t"})).collect::<Vec<_>>()});
    assert!(!check("POST", MSG, &body).is_empty());
}

#[test]
fn more_than_6000_embed_characters_fail() {
    let e = json!({"description": "d".repeat(3001)});
    let body = json!({"embeds": [e.clone(), e]});
    let errors = check("POST", MSG, &body);
    assert!(errors.iter().any(|e| e.contains("6000")), "{errors:?}");
}

#[test]
fn command_registration_rules() {
    let ok = json!([{"name": "live", "description": "Who is live", "type": 1, "default_member_permissions": "32"}]);
    assert_eq!(check("PUT", CMDS, &ok), Vec::<String>::new());
    let upper = json!([{"name": "Live", "description": "Who is live", "type": 1}]);
    assert!(!check("PUT", CMDS, &upper).is_empty());
    let long = json!([{"name": "a".repeat(33), "description": "d", "type": 1}]);
    assert!(!check("PUT", CMDS, &long).is_empty());
}

#[test]
fn an_interaction_callback_is_checked() {
    let path = "/api/v10/interactions/1/tok/callback";
    assert!(check("POST", path, &json!({"type": 4, "data": {"content": "ok"}})).is_empty());
    assert!(!check(
        "POST",
        path,
        &json!({"type": 4, "data": {"content": "x".repeat(2001)}})
    )
    .is_empty());
}

#[test]
fn an_empty_message_fails_as_discord_50006() {
    let errors = check("POST", MSG, &json!({"content": "", "embeds": []}));
    assert!(
        errors.iter().any(|e| e == support::spec::EMPTY_MESSAGE),
        "{errors:?}"
    );
    // An edit may leave fields out: it is not a new message.
    let edit = check("PATCH", &format!("{MSG}/1"), &json!({"embeds": []}));
    assert!(
        !edit.iter().any(|e| e == support::spec::EMPTY_MESSAGE),
        "{edit:?}"
    );
}

#[test]
fn six_action_rows_fail_unless_the_message_uses_components_v2() {
    let row =
        json!({"type": 1, "components": [{"type": 2, "style": 1, "label": "a", "custom_id": "a"}]});
    let rows: Vec<_> = (0..6).map(|_| row.clone()).collect();
    let errors = check("POST", MSG, &json!({"content": "x", "components": rows}));
    assert!(
        errors.iter().any(|e| e.contains("6 action rows")),
        "{errors:?}"
    );
    let five = check(
        "POST",
        MSG,
        &json!({"content": "x", "components": rows[..5]}),
    );
    assert!(!five.iter().any(|e| e.contains("action rows")), "{five:?}");
}

#[test]
fn a_malformed_url_in_an_embed_fails() {
    let body = json!({"embeds": [{"title": "t", "url": "not a url"}]});
    let errors = check("POST", MSG, &body);
    assert!(!errors.is_empty(), "a uri field is checked as a URI");
    let ok = json!({"embeds": [{"title": "t", "url": "https://www.idn.app/x"}]});
    assert_eq!(check("POST", MSG, &ok), Vec::<String>::new());
}

#[test]
fn a_malformed_timestamp_in_an_embed_fails() {
    let body = json!({"embeds": [{"title": "t", "timestamp": "yesterday"}]});
    assert!(!check("POST", MSG, &body).is_empty());
    let ok = json!({"embeds": [{"title": "t", "timestamp": "2026-12-08T02:00:00Z"}]});
    assert_eq!(check("POST", MSG, &ok), Vec::<String>::new());
}
