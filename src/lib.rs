//! onair: a Discord bot that tells a server who is live right now and
//! announces new lives in the channels its admins chose.

pub mod config;
pub mod live;
pub mod providers;
pub mod secret;

pub mod announce;
pub mod backoff;
pub mod bot;
pub mod cli;
#[path = "../commands/mod.rs"]
pub mod commands;
pub mod discord_rest;
pub mod embeds;
pub mod logging;
pub mod messages;
pub mod snapshot;
pub mod startup;
pub mod store;
pub mod tiktok_cache;
pub mod tiktok_poll;
pub mod tracker;
pub mod types;
pub mod watch;
