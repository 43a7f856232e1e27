//! Slash commands, one file per command group (design §3).
