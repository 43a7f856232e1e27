//! The JKT48 calendar: theater shows, birthdays, news and events from
//! JKT48Connect (`providers/jkt48_calendar.rs`), read from the same paid
//! allowance as live detection, so what the bot reads it keeps
//! ([`copy`]) and reads again only when the copy has aged.

pub mod copy;
