//! The fake Discord's REST rules, each shown able to fail: a request that
//! breaks one gets Discord's answer, not the kind one an earlier fake gave.
//! (The bot's own survival of each is tested where the feature is.)

mod support;

use serde_json::{json, Value};
use support::discord::{FakeDiscord, CHANNEL_ID, EMBED_LINKS, READ_MESSAGE_HISTORY, VIEW_CHANNEL};

/// A bot request to the fake, with Discord's required headers.
async fn call(
    discord: &FakeDiscord,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let client = reqwest::Client::new();
    let url = format!("{}/api/v10{path}", discord.api_url());
    let mut req = client
        .request(method.parse().expect("method"), url)
        .header("authorization", "Bot x")
        .header("user-agent", "DiscordBot (test, 1)");
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("the fake answers");
    let status = resp.status().as_u16();
    let body = resp.json::<Value>().await.unwrap_or(Value::Null);
    (status, body)
}

fn ids(page: &Value) -> Vec<u64> {
    page.as_array()
        .expect("a list")
        .iter()
        .map(|m| {
            m["id"]
                .as_str()
                .and_then(|s| s.parse().ok())
                .expect("an id")
        })
        .collect()
}

#[tokio::test]
async fn history_pages_come_newest_first_by_before_after_and_around() {
    let discord = FakeDiscord::start().await;
    for i in 0..10 {
        discord.inject_message(CHANNEL_ID, 7, &format!("m{i}"));
    }
    let all: Vec<u64> = discord.messages(CHANNEL_ID).iter().map(|m| m.id).collect();
    let path = format!("/channels/{CHANNEL_ID}/messages");
    let (_, newest) = call(&discord, "GET", &format!("{path}?limit=3"), None).await;
    assert_eq!(ids(&newest), vec![all[9], all[8], all[7]]);
    let (_, before) = call(
        &discord,
        "GET",
        &format!("{path}?limit=3&before={}", all[5]),
        None,
    )
    .await;
    assert_eq!(ids(&before), vec![all[4], all[3], all[2]]);
    // `after`: the messages right after it (not the newest), newest first.
    let (_, after) = call(
        &discord,
        "GET",
        &format!("{path}?limit=3&after={}", all[1]),
        None,
    )
    .await;
    assert_eq!(ids(&after), vec![all[4], all[3], all[2]]);
    let (_, around) = call(
        &discord,
        "GET",
        &format!("{path}?limit=4&around={}", all[5]),
        None,
    )
    .await;
    assert_eq!(ids(&around), vec![all[6], all[5], all[4], all[3]]);
    let (status, body) = call(
        &discord,
        "GET",
        &format!("{path}?before={}&after={}", all[5], all[1]),
        None,
    )
    .await;
    assert_eq!(
        (status, body["code"].as_u64()),
        (400, Some(50035)),
        "mutually exclusive"
    );
}

#[tokio::test]
async fn history_is_empty_without_read_message_history_and_refused_without_view_channel() {
    let discord = FakeDiscord::start().await;
    discord.inject_message(CHANNEL_ID, 7, "hello");
    let path = format!("/channels/{CHANNEL_ID}/messages");
    discord.deny_in_channel(CHANNEL_ID, READ_MESSAGE_HISTORY);
    let (status, page) = call(&discord, "GET", &path, None).await;
    assert_eq!((status, page), (200, json!([])));
    // The channel still says it has a newest message.
    let (_, channel) = call(&discord, "GET", &format!("/channels/{CHANNEL_ID}"), None).await;
    let last = discord.messages(CHANNEL_ID)[0].id.to_string();
    assert_eq!(channel["last_message_id"], json!(last));
    discord.deny_in_channel(CHANNEL_ID, VIEW_CHANNEL);
    let (status, body) = call(&discord, "GET", &path, None).await;
    assert_eq!((status, body["code"].as_u64()), (403, Some(50001)));
}

#[tokio::test]
async fn embeds_are_dropped_without_embed_links_on_post_and_edit() {
    let discord = FakeDiscord::start().await;
    discord.deny_in_channel(CHANNEL_ID, EMBED_LINKS);
    let path = format!("/channels/{CHANNEL_ID}/messages");
    let body = json!({"content": "hi", "embeds": [{"title": "t"}]});
    let (status, posted) = call(&discord, "POST", &path, Some(body.clone())).await;
    assert_eq!(status, 200);
    assert_eq!(posted["embeds"], json!([]));
    assert_eq!(discord.messages(CHANNEL_ID)[0].body["embeds"], json!([]));
    let id = posted["id"].as_str().expect("id").to_string();
    let (_, edited) = call(&discord, "PATCH", &format!("{path}/{id}"), Some(body)).await;
    assert_eq!(edited["embeds"], json!([]));
}

#[tokio::test]
async fn an_invalid_body_is_answered_400_and_nothing_is_stored() {
    let discord = FakeDiscord::start().await;
    let path = format!("/channels/{CHANNEL_ID}/messages");
    let (status, body) = call(&discord, "POST", &path, Some(json!({"content": ""}))).await;
    assert_eq!((status, body["code"].as_u64()), (400, Some(50006)));
    let too_long = json!({"embeds": [{"title": "x".repeat(300)}]});
    let (status, body) = call(&discord, "POST", &path, Some(too_long)).await;
    assert_eq!((status, body["code"].as_u64()), (400, Some(50035)));
    assert!(body["errors"].is_object(), "{body}");
    assert!(discord.messages(CHANNEL_ID).is_empty());
    // The refusals stay on record (the fake would fail the test on drop).
    assert_eq!(discord.violations().len(), 2, "{:?}", discord.violations());
    discord.clear_violations();
}
