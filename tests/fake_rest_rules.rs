//! The fake Discord's REST rules, each shown able to fail: a request that
//! breaks one gets Discord's answer, not the kind one an earlier fake gave.
//! (The bot's own survival of each is tested where the feature is.)

mod support;

use serde_json::{json, Value};
use support::discord::{
    FakeDiscord, Fault, GuildSpec, CHANNEL_ID, EMBED_LINKS, GUILD_ID, MANAGE_WEBHOOKS,
    READ_MESSAGE_HISTORY, VIEW_CHANNEL,
};

/// A bot request to the fake, with Discord's required headers.
async fn call(
    discord: &FakeDiscord,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let (status, _, body) = send(discord, method, path, body, true).await;
    (status, body)
}

/// A request to the fake, as the bot (with its token) or as a webhook
/// (without); the status, headers and JSON body of the answer.
async fn send(
    discord: &FakeDiscord,
    method: &str,
    path: &str,
    body: Option<Value>,
    as_bot: bool,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let client = reqwest::Client::new();
    let url = format!("{}/api/v10{path}", discord.api_url());
    let mut req = client
        .request(method.parse().expect("method"), url)
        .header("user-agent", "DiscordBot (test, 1)");
    if as_bot {
        req = req.header("authorization", "Bot x");
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("the fake answers");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.json::<Value>().await.unwrap_or(Value::Null);
    (status, headers, body)
}

fn header(h: &reqwest::header::HeaderMap, name: &str) -> String {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
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
    let page = |query: String| {
        let (discord, path) = (&discord, &path);
        async move {
            ids(&call(discord, "GET", &format!("{path}?{query}"), None)
                .await
                .1)
        }
    };
    assert_eq!(page("limit=3".into()).await, vec![all[9], all[8], all[7]]);
    let before = page(format!("limit=3&before={}", all[5])).await;
    assert_eq!(before, vec![all[4], all[3], all[2]]);
    // `after`: the messages right after it (not the newest), newest first.
    let after = page(format!("limit=3&after={}", all[1])).await;
    assert_eq!(after, vec![all[4], all[3], all[2]]);
    let around = page(format!("limit=4&around={}", all[5])).await;
    assert_eq!(around, vec![all[6], all[5], all[4], all[3]]);
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

#[tokio::test]
async fn edits_have_a_bucket_per_channel_named_in_every_answer_and_429_past_it() {
    let discord = FakeDiscord::start().await;
    let path = format!("/channels/{CHANNEL_ID}/messages");
    let (_, posted) = call(&discord, "POST", &path, Some(json!({"content": "hi"}))).await;
    let edit = format!("{path}/{}", posted["id"].as_str().expect("id"));
    let mut last = None;
    for _ in 0..5 {
        let (status, h, _) = send(
            &discord,
            "PATCH",
            &edit,
            Some(json!({"content": "e"})),
            true,
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(header(&h, "x-ratelimit-bucket"), "message-edits");
        last = Some(header(&h, "x-ratelimit-remaining"));
    }
    assert_eq!(
        last.as_deref(),
        Some("0"),
        "the fifth edit spent the bucket"
    );
    let (status, h, body) = send(
        &discord,
        "PATCH",
        &edit,
        Some(json!({"content": "e"})),
        true,
    )
    .await;
    assert_eq!(status, 429);
    assert_eq!(header(&h, "x-ratelimit-scope"), "user");
    assert_eq!(header(&h, "x-ratelimit-bucket"), "message-edits");
    assert!(
        body["retry_after"].as_f64().is_some_and(|s| s > 0.0),
        "{body}"
    );
}

#[tokio::test]
async fn each_webhook_has_its_own_bucket_for_posts_and_edits() {
    let discord = FakeDiscord::start().await;
    let mut g = GuildSpec::new(GUILD_ID, &[CHANNEL_ID]);
    g.everyone_permissions |= MANAGE_WEBHOOKS;
    discord.add_guild(g);
    let hooks = format!("/channels/{CHANNEL_ID}/webhooks");
    let (_, a) = call(&discord, "POST", &hooks, Some(json!({"name": "a"}))).await;
    let (_, b) = call(&discord, "POST", &hooks, Some(json!({"name": "b"}))).await;
    let exec = |w: &Value| {
        format!(
            "/webhooks/{}/{}?wait=true",
            w["id"].as_str().expect("id"),
            w["token"].as_str().expect("token")
        )
    };
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let (status, h, _) = send(
            &discord,
            "POST",
            &exec(&a),
            Some(json!({"content": "x"})),
            false,
        )
        .await;
        if status == 200 {
            assert_eq!(header(&h, "x-ratelimit-bucket"), "webhook");
        }
        statuses.push(status);
    }
    assert_eq!(
        statuses,
        vec![200, 200, 200, 200, 200, 429],
        "5 per 2 s per webhook"
    );
    let (status, _, _) = send(
        &discord,
        "POST",
        &exec(&b),
        Some(json!({"content": "x"})),
        false,
    )
    .await;
    assert_eq!(status, 200, "another webhook's bucket is its own");
}

#[tokio::test]
async fn the_bot_token_gets_fifty_requests_a_second_and_interactions_are_exempt() {
    let discord = FakeDiscord::start().await;
    let mut global = 0;
    for _ in 0..60 {
        let (status, h, _) = send(&discord, "GET", "/users/@me", None, true).await;
        if status == 429 {
            assert_eq!(header(&h, "x-ratelimit-scope"), "global");
            global += 1;
        }
    }
    assert!(global >= 1, "60 requests at once meet the 50/s limit");
    // Still limited: an interaction answer goes through all the same.
    let (status, _, _) = send(&discord, "GET", "/users/@me", None, true).await;
    assert_eq!(status, 429);
    let (status, _, _) = send(
        &discord,
        "POST",
        "/interactions/1/INTERACTION-TOKEN-SECRET-1/callback",
        Some(json!({"type": 5})),
        false,
    )
    .await;
    assert_ne!(status, 429, "interactions are not under the global limit");
}

#[tokio::test]
async fn invalid_requests_ban_the_ip_past_the_limit_and_a_shared_429_is_not_one() {
    let discord = FakeDiscord::start().await;
    discord.set_invalid_request_ban(5);
    discord.fail_next(
        "GET",
        "/api/v10/users/@me",
        Fault::SharedRateLimit { retry_after: 0.1 },
        1,
    );
    let (status, h, _) = send(&discord, "GET", "/users/@me", None, true).await;
    assert_eq!(
        (status, header(&h, "x-ratelimit-scope")),
        (429, "shared".to_string())
    );
    assert_eq!(discord.invalid_requests(), 0, "a shared 429 is not invalid");
    discord.deny_in_channel(CHANNEL_ID, VIEW_CHANNEL);
    let path = format!("/channels/{CHANNEL_ID}/messages");
    for _ in 0..5 {
        let (status, _) = call(&discord, "POST", &path, Some(json!({"content": "x"}))).await;
        assert_eq!(status, 403);
    }
    assert_eq!(discord.invalid_requests(), 5);
    assert!(discord.banned());
    let (status, h, _) = send(&discord, "GET", "/users/@me", None, true).await;
    assert_eq!(status, 429, "blocked: even a good request is refused");
    assert_eq!(header(&h, "retry-after"), "3600");
}

#[tokio::test]
async fn a_guild_the_bot_was_removed_from_is_missing_access_to_it() {
    let discord = FakeDiscord::start().await;
    let (status, _) = call(&discord, "GET", &format!("/guilds/{GUILD_ID}"), None).await;
    assert_eq!(status, 200, "a member reads its guild");
    discord.remove_bot_from(GUILD_ID);
    for path in [
        format!("/guilds/{GUILD_ID}"),
        format!("/guilds/{GUILD_ID}/members/{}", support::discord::BOT_ID),
    ] {
        let (status, body) = call(&discord, "GET", &path, None).await;
        assert_eq!(
            (status, body["code"].as_u64()),
            (403, Some(50001)),
            "{path}"
        );
    }
}
