//! onair: a Discord bot that tells a server who is live right now and
//! announces new lives in the channels its admins chose.

pub mod config;
pub mod discord;
pub mod live;
pub mod providers;
pub mod secret;

pub mod announce;
pub mod backoff;
pub mod bot;
pub mod budget;
pub mod calendar;
pub mod cli;
#[path = "../commands/mod.rs"]
pub mod commands;
pub mod gateway;
pub mod http;
pub mod leader;
pub mod limits;
pub mod logging;
pub mod messages;
pub mod ops;
pub mod outbox;
pub mod redact;
pub mod startup;
pub mod store;
pub mod text;
pub mod types;
pub mod watch;
pub mod work;
