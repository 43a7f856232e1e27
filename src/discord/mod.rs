//! Talking to Discord outside the gateway: the REST client the announcer
//! paces itself with, and the embeds every message is built from.

pub mod embeds;
pub mod rest;
