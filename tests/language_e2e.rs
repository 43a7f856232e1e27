//! Indonesian and English by Discord locale, end to end: replies follow the
//! user's `locale`, the registration carries `id` localizations that pass
//! the OpenAPI check, announcements follow the server's `guild_locale`.

mod support;

use std::time::Duration;

use serde_json::json;
use support::bot::TestBot;
use support::discord::{Invoker, CHANNEL_ID, GUILD_ID};
use support::fake_providers::Reply;
use support::world::World;

const T: Duration = Duration::from_secs(20);

fn fritzy() -> serde_json::Value {
    json!([{
        "name": "Fritzy", "url_key": "jkt48_fritzy", "slug": "s", "room_id": 510011,
        "started_at": "2025-04-06T12:03:58.000Z", "type": "idn", "img": "https://cdn.test/f.jpg",
        "streaming_url_list": [{"label": "original", "quality": 1, "url": "https://cdn.test/f.m3u8"}]
    }])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_registration_and_announcements_speak_the_locale() {
    let w = World::builder()
        .jkt()
        .var("DEV_GUILD_ID", GUILD_ID)
        .var("OPERATOR_GUILD_IDS", GUILD_ID)
        .channels(&[CHANNEL_ID, 91, 92])
        .start()
        .await;
    let (discord, jkt) = (&w.discord, &w.jkt);
    let bot = TestBot::start(discord, &w.vars).await;

    // Registration: Indonesian names and descriptions, English defaults.
    let reg = discord
        .wait_request(T, "registration", |r| {
            r.method == "PUT" && r.path.ends_with("/commands")
        })
        .await
        .body
        .unwrap();
    let cmds = reg.as_array().unwrap();
    let help = cmds
        .iter()
        .find(|c| c["name"] == "help")
        .expect("help registered");
    assert_eq!(help["name_localizations"]["id"], "bantuan");
    assert_eq!(
        help["description"],
        "What onair does and how fresh its data is"
    );
    assert!(help["description_localizations"]["id"]
        .as_str()
        .unwrap()
        .contains("onair"));
    let live = cmds.iter().find(|c| c["name"] == "live").unwrap();
    let platform = live["options"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == "platform")
        .unwrap();
    assert_eq!(
        platform["description_localizations"]["id"],
        "Hanya platform ini"
    );
    let stream = cmds.iter().find(|c| c["name"] == "stream").unwrap();
    let stop = stream["options"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == "stop")
        .unwrap();
    assert_eq!(stop["name_localizations"]["id"], "hentikan");
    discord.assert_spec_clean();

    // Replies by the user's locale.
    let id_user = Invoker {
        locale: "id".into(),
        ..Invoker::default()
    };
    let p = discord.slash("live", json!([]), None, &id_user);
    let a = discord.answer(&p, T).await;
    assert_eq!(
        a["content"],
        "Tidak ada yang live sekarang. Cek lagi nanti ya!"
    );
    let p = discord.slash("live", json!([]), None, &Invoker::default());
    let a = discord.answer(&p, T).await;
    assert_eq!(a["content"], "Nobody is live right now. Check back later!");

    // Subscriptions in an Indonesian server (default language) and one
    // forced to English.
    let id_admin = Invoker {
        guild_locale: "id".into(),
        ..Invoker::default()
    };
    let p = discord.slash(
        "subscribe",
        json!([{"name": "channel", "type": 7, "value": "91"}]),
        Some(discord.resolved_channel_for(&id_admin, 91)),
        &id_admin,
    );
    discord.answer(&p, T).await;
    let p = discord.slash(
        "subscribe",
        json!([{"name": "channel", "type": 7, "value": "92"}, {"name": "language", "type": 4, "value": 0}]),
        Some(discord.resolved_channel_for(&id_admin, 92)),
        &id_admin,
    );
    discord.answer(&p, T).await;

    jkt.set("GET /api/jkt48/live", Reply::json(fritzy()));
    discord
        .wait_for(T, "two announcements", |d| {
            d.messages(91).len() == 1 && d.messages(92).len() == 1
        })
        .await;
    let id_msg = &discord.messages(91)[0].body;
    assert_eq!(id_msg["content"], "**Fritzy** sedang live di IDN Live");
    assert!(
        id_msg["embeds"][0]["fields"].to_string().contains("Mulai"),
        "{id_msg}"
    );
    assert_eq!(id_msg["components"][0]["components"][0]["label"], "Tonton");
    let en_msg = &discord.messages(92)[0].body;
    assert_eq!(en_msg["content"], "**Fritzy** is live on IDN Live");

    // The end edit speaks the same language.
    jkt.set("GET /api/jkt48/live", Reply::json(json!([])));
    discord
        .wait_for(T, "end edits", |d| {
            d.messages(91).first().is_some_and(|m| m.edits == 1)
        })
        .await;
    let edited = discord.messages(91)[0].body.to_string();
    assert!(
        edited.contains("Selesai") && edited.contains("tadi live"),
        "{edited}"
    );
    discord.assert_spec_clean();
    bot.stop().await;
}
