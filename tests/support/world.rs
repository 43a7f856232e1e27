//! One world for every end-to-end test: the fake Discord
//! (`tests/support/discord/`), the fake providers
//! (`tests/support/fake_providers.rs`), the bot's variables with its
//! database (SQLite in a temporary directory, or a fresh PostgreSQL
//! database from `tests/support/pg.rs`), the store when a test asks for
//! it, and the real bot started in-process (`tests/support/bot.rs`).
//!
//! ```ignore
//! let mut w = World::builder().jkt().channels(&[CH]).subscribe(&[CH]).start().await;
//! w.jkt.set("GET /api/jkt48/live", Reply::json(fritzy_live("2025-04-06T12:03:58.000Z")));
//! w.start_bot().await;
//! w.discord.wait_for(T, "the announcement", |d| d.messages(CH).len() == 1).await;
//! w.stop_bot().await;
//! ```
//!
//! Every provider fake is started; the bot talks only to the ones the
//! builder wired (`jkt()`, `konbini()`, `kitkot()`, `cloudflare()`).
//! Variables given with `var()` are set last, so they override the
//! defaults (`bot::env`) and the wiring.

use std::collections::HashMap;
use std::sync::Arc;

use onair::store::Store;

use super::bot::{
    captured_logs, env, spawn_binary, subscribe_everything, use_jkt, wait_delivery, TestBot,
};
use super::discord::{FakeDiscord, GuildSpec, GUILD_ID};
use super::fake_providers::FakeProvider;
use super::pg::TestDb;

/// The fake KonbiniAPI's API key.
pub const KONBINI_KEY: &str = "KONBINI-SECRET";
/// The fake Cloudflare API's token.
pub const CF_TOKEN: &str = "CF-TOKEN-SECRET";
/// The Cloudflare account and RealtimeKit app the bot is given.
pub const CF_ACCOUNT: &str = "acc1";
pub const CF_APP: &str = "app1";

pub struct World {
    pub discord: FakeDiscord,
    /// A fake JKT48Connect, nobody live yet; the bot polls it after
    /// [`WorldBuilder::jkt`].
    pub jkt: FakeProvider,
    /// A fake KonbiniAPI (TikTok lives); used after [`WorldBuilder::konbini`].
    pub konbini: FakeProvider,
    /// A fake kitkot (TikTok rooms, under `/api`); used after
    /// [`WorldBuilder::kitkot`].
    pub kitkot: FakeProvider,
    /// A fake Cloudflare API (RealtimeKit livestreams); used after
    /// [`WorldBuilder::cloudflare`].
    pub cf: FakeProvider,
    /// The bot's variables.
    pub vars: HashMap<String, String>,
    /// The bot, once [`World::start_bot`] (or [`WorldBuilder::bot`])
    /// started it.
    pub bot: Option<TestBot>,
    store: Option<Arc<dyn Store>>,
    db: Option<TestDb>,
    /// The bot's directory; its SQLite database is `onair.db` in it.
    pub dir: tempfile::TempDir,
}

/// What a [`World`] is made of; [`WorldBuilder::start`] makes it.
#[derive(Default)]
pub struct WorldBuilder {
    jkt: bool,
    konbini: bool,
    kitkot: bool,
    cloudflare: bool,
    guilds: Vec<GuildSpec>,
    vars: Vec<(String, String)>,
    db: Option<TestDb>,
    store: bool,
    subscribe: Vec<(u64, u64)>,
    calendar: Vec<(u64, onair::store::CalendarChoice)>,
    bot: bool,
}

impl World {
    pub fn builder() -> WorldBuilder {
        WorldBuilder::default()
    }

    /// The store the test set up (after [`WorldBuilder::store`] or
    /// [`WorldBuilder::subscribe`]).
    pub fn store(&self) -> &Arc<dyn Store> {
        self.store
            .as_ref()
            .expect("no store in this world: ask the builder for .store()")
    }

    /// The PostgreSQL database the world runs on (after
    /// [`WorldBuilder::postgres`]).
    pub fn db(&self) -> &TestDb {
        self.db
            .as_ref()
            .expect("this world runs on SQLite: ask the builder for .postgres(db)")
    }

    /// Start the bot with the world's variables and wait until it
    /// identified on the fake gateway.
    pub async fn start_bot(&mut self) {
        assert!(self.bot.is_none(), "the bot is already running");
        self.bot = Some(TestBot::start(&self.discord, &self.vars).await);
    }

    /// Exactly once across a SIGKILL past Discord's nonce window: with
    /// `DISCORD_NONCE_WINDOW_SECS=1` (bot and fake), run the binary, call
    /// `trigger` (what makes delivery 1 due in `channel`), let Discord store
    /// the post but hold its answer for 5 s, kill the bot before it can
    /// record the message, restart it after the window and wait until the
    /// delivery is sent. Asserts the channel still has one message, the one
    /// the delivery adopted.
    pub async fn kill_between_post_and_record(&self, channel: u64, trigger: impl FnOnce(&World)) {
        use onair::store::DeliveryStatus;
        use std::time::Duration;
        const T: Duration = Duration::from_secs(30);
        self.discord
            .lose_answers(channel, 1, Duration::from_secs(5));
        let mut first = spawn_binary(&self.vars, self.dir.path(), "warn");
        self.discord.wait_ready(T).await;
        trigger(self);
        self.discord
            .wait_for(T, "Discord to store the post", |d| {
                d.messages(channel).len() == 1
            })
            .await;
        first.start_kill().expect("kill the bot");
        let _ = tokio::time::timeout(T, first.wait()).await;
        let d = self.store().get_delivery(1).await.unwrap().unwrap();
        assert_eq!(
            d.status,
            DeliveryStatus::Pending,
            "the id was never recorded"
        );
        // Restart after the nonce window has passed.
        let stored_at = self.discord.messages(channel)[0].at;
        while stored_at.elapsed() < Duration::from_millis(1500) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let mut second = spawn_binary(&self.vars, self.dir.path(), "warn");
        self.discord.wait_identified(2, T).await;
        wait_delivery(self.store(), 1, DeliveryStatus::Sent, T).await;
        assert_eq!(self.discord.messages(channel).len(), 1, "still one message");
        let d = self.store().get_delivery(1).await.unwrap().unwrap();
        assert_eq!(
            d.message_id,
            Some(self.discord.messages(channel)[0].id),
            "the post adopted"
        );
        second.start_kill().expect("kill the bot");
        let _ = second.wait().await;
        self.discord.assert_spec_clean();
    }

    /// Stop the bot (as SIGTERM would) and check that it ended cleanly
    /// without logging a secret ([`TestBot::stop`]).
    pub async fn stop_bot(&mut self) {
        self.bot
            .take()
            .expect("the bot is not running")
            .stop()
            .await;
    }
}

impl WorldBuilder {
    /// The bot polls the fake JKT48Connect (nobody live yet).
    pub fn jkt(mut self) -> Self {
        self.jkt = true;
        self
    }

    /// The bot asks the fake KonbiniAPI about TikTok lives.
    pub fn konbini(mut self) -> Self {
        self.konbini = true;
        self
    }

    /// The bot joins TikTok rooms through the fake kitkot.
    pub fn kitkot(mut self) -> Self {
        self.kitkot = true;
        self
    }

    /// The bot runs RealtimeKit livestreams on the fake Cloudflare API.
    pub fn cloudflare(mut self) -> Self {
        self.cloudflare = true;
        self
    }

    /// The test server ([`GUILD_ID`]) has these channels (instead of the
    /// fake's default `CHANNEL_ID` only).
    pub fn channels(self, channels: &[u64]) -> Self {
        self.guild(GuildSpec::new(GUILD_ID, channels))
    }

    /// The fake Discord knows this server (replacing one of the same id).
    pub fn guild(mut self, g: GuildSpec) -> Self {
        self.guilds.push(g);
        self
    }

    /// Set one of the bot's variables (after the defaults and the wiring).
    pub fn var(mut self, key: &str, value: impl ToString) -> Self {
        self.vars.push((key.to_string(), value.to_string()));
        self
    }

    /// Set each of `vars`, as [`WorldBuilder::var`].
    pub fn vars(mut self, vars: &[(&str, &str)]) -> Self {
        for (k, v) in vars {
            self = self.var(k, v);
        }
        self
    }

    /// The bot's database is `db` (a fresh PostgreSQL database from
    /// `pg::fresh_database`), dropped with the world.
    pub fn postgres(mut self, db: TestDb) -> Self {
        self.db = Some(db);
        self
    }

    /// Open the store before the bot starts ([`World::store`]).
    pub fn store(mut self) -> Self {
        self.store = true;
        self
    }

    /// Subscribe each of `channels` of the test server to every live
    /// (opens the store).
    pub fn subscribe(mut self, channels: &[u64]) -> Self {
        self.subscribe
            .extend(channels.iter().map(|ch| (GUILD_ID, *ch)));
        self.store()
    }

    /// Subscribe `channel` of the test server to a calendar feed (opens
    /// the store).
    pub fn calendar(mut self, channel: u64, choice: onair::store::CalendarChoice) -> Self {
        self.calendar.push((channel, choice));
        self.store()
    }

    /// Start the bot once the world is set up.
    pub fn bot(mut self) -> Self {
        self.bot = true;
        self
    }

    /// Make the world. This test binary's logs are captured from here on
    /// (`bot::captured_logs`), the store's and the fakes' included.
    pub async fn start(self) -> World {
        captured_logs();
        let discord = FakeDiscord::start().await;
        let jkt = FakeProvider::start().await;
        let konbini = FakeProvider::start().await;
        let kitkot = FakeProvider::start().await;
        let cf = FakeProvider::start().await;
        let dir = tempfile::tempdir().expect("temp dir");
        let mut vars = env(&discord, dir.path());
        if self.jkt {
            use_jkt(&mut vars, &jkt);
        }
        if self.konbini {
            vars.insert("KONBINI_API_KEY".into(), KONBINI_KEY.into());
            vars.insert("KONBINI_URL".into(), konbini.url());
        }
        if self.kitkot {
            vars.insert("KITKOT_API_KEY".into(), "KITKOT-SECRET".into());
            vars.insert("KITKOT_SESSION_KEY".into(), "KITKOT-SESSION-SECRET".into());
            vars.insert("KITKOT_URL".into(), format!("{}/api", kitkot.url()));
        }
        if self.cloudflare {
            vars.insert("CLOUDFLARE_API_TOKEN".into(), CF_TOKEN.into());
            vars.insert("CLOUDFLARE_ACCOUNT_ID".into(), CF_ACCOUNT.into());
            vars.insert("REALTIMEKIT_APP_ID".into(), CF_APP.into());
            vars.insert("CLOUDFLARE_API_URL".into(), cf.url());
        }
        if let Some(db) = &self.db {
            vars.insert("DATABASE_URL".into(), db.url.clone());
        }
        vars.extend(self.vars);
        for g in self.guilds {
            discord.add_guild(g);
        }
        let store = match self.store {
            true => Some(
                onair::store::connect(&vars["DATABASE_URL"])
                    .await
                    .expect("store"),
            ),
            false => None,
        };
        for (guild, channel) in self.subscribe {
            let store = store.as_ref().expect("subscribe opens the store");
            subscribe_everything(store, guild, channel).await;
        }
        for (channel, choice) in self.calendar {
            let store = store.as_ref().expect("calendar opens the store");
            store
                .add_subscription(onair::store::NewSubscription {
                    guild_id: GUILD_ID,
                    channel_id: channel,
                    created_by: 1,
                    calendar: Some(choice),
                    ..Default::default()
                })
                .await
                .expect("calendar subscription saved");
        }
        let mut world = World {
            discord,
            jkt,
            konbini,
            kitkot,
            cf,
            vars,
            bot: None,
            store,
            db: self.db,
            dir,
        };
        if self.bot {
            world.start_bot().await;
        }
        world
    }
}
