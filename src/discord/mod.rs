//! Talking to Discord outside the gateway: the REST client the announcer
//! paces itself with, the embeds every message is built from, and the
//! invite (the permissions onair asks for).

pub mod embeds;
pub mod invite;
pub mod rest;
