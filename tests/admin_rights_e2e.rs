//! Admins act within their own rights, end to end: `/subscribe` refuses a
//! channel the invoking member cannot see or write in, and a ping of a
//! role they could not ping themselves; `/subscription test` pings no one
//! and is cooled down per server. The real bot and the fake Discord.

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::discord::{
    FakeDiscord, GuildSpec, Invoker, RoleSpec, CHANNEL_ID, GUILD_ID, MANAGE_GUILD,
    MENTION_EVERYONE, SEND_MESSAGES, VIEW_CHANNEL,
};
use support::world::World;

const T: Duration = Duration::from_secs(20);
const ROLE: u64 = 1900000000000000301;

/// The dev guild set; a server where the bot may ping any role, with a
/// role ROLE that is not mentionable; the bot started.
async fn start() -> World {
    let mut g = GuildSpec::new(GUILD_ID, &[CHANNEL_ID]);
    // The bot may ping any role; the point is what the admin may do.
    g.everyone_permissions |= MENTION_EVERYONE;
    g.roles.push(RoleSpec::new(ROLE, "Fans"));
    World::builder()
        .var("DEV_GUILD_ID", GUILD_ID)
        .guild(g)
        .bot()
        .start()
        .await
}

fn admin(permissions: u64) -> Invoker {
    Invoker {
        permissions,
        ..Invoker::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribe_refuses_what_the_invoking_admin_may_not_do_themselves() {
    let mut w = start().await;
    let (discord, vars) = (&w.discord, &w.vars);
    // A Manage Server user who cannot see the channel.
    let p = discord.subscribe_command(CHANNEL_ID, &[], None, &admin(MANAGE_GUILD | SEND_MESSAGES));
    let text = discord.private_text(&p, T).await;
    assert!(text.contains("you lack **View Channel**"), "{text}");
    // Sees and writes, but may not ping a role that is not mentionable.
    let sees = admin(MANAGE_GUILD | VIEW_CHANNEL | SEND_MESSAGES);
    let p = discord.subscribe_command(CHANNEL_ID, &[], Some((ROLE, false)), &sees);
    let text = discord.private_text(&p, T).await;
    assert!(text.contains("Mention @everyone"), "{text}");
    let store = onair::store::connect(&vars["DATABASE_URL"])
        .await
        .expect("store");
    assert_eq!(
        store.count_subscriptions().await.unwrap(),
        0,
        "nothing saved"
    );
    // A mentionable role is theirs to ping.
    let p = discord.subscribe_command(CHANNEL_ID, &[], Some((ROLE, true)), &sees);
    let text = discord.answer_text(&p, T).await;
    assert!(text.contains("Saved"), "{text}");
    assert_eq!(store.count_subscriptions().await.unwrap(), 1);
    discord.assert_spec_clean();
    w.stop_bot().await;
}

fn test_post(discord: &FakeDiscord, id: i64) -> support::discord::Pushed {
    discord.subcommand(
        "subscription",
        "test",
        json!([{"name": "id", "type": 4, "value": id}]),
        &Invoker::default(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscription_test_pings_no_one_and_is_cooled_down_per_server() {
    let mut w = start().await;
    let discord = &w.discord;
    let p = discord.subscribe_command(CHANNEL_ID, &[], Some((ROLE, false)), &Invoker::default());
    let saved = discord.answer_text(&p, T).await;
    assert!(saved.contains("Saved subscription `#1`"), "{saved}");

    let answer = discord.answer_text(&test_post(discord, 1), T).await;
    assert!(answer.contains("Sent a test announcement"), "{answer}");
    discord
        .wait_for(T, "the test post", |d| d.messages(CHANNEL_ID).len() == 1)
        .await;
    let post: Value = discord.messages(CHANNEL_ID)[0].body.clone();
    assert_eq!(
        post["allowed_mentions"],
        json!({"parse": [], "roles": [], "users": []}),
        "{post}"
    );
    assert!(
        post["content"]
            .as_str()
            .unwrap()
            .contains(&format!("<@&{ROLE}>")),
        "the ping it would make is shown: {post}"
    );
    assert!(post.get("nonce").is_none());

    // Again at once: cooled down, no second post.
    let again = test_post(discord, 1);
    let text = discord.private_text(&again, T).await;
    assert!(text.contains("try again in"), "{text}");
    assert_eq!(discord.messages(CHANNEL_ID).len(), 1);
    discord.assert_spec_clean();
    w.stop_bot().await;
}
