//! What a gateway close code means, as Discord documents it, and when a
//! run of closes deserves an operator's attention. Pure: the relay
//! (`relay.rs`) reports what it saw, [`super::report`] logs and counts.

/// What the bot does after Discord closed its connection with a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Meaning {
    /// Reconnecting cannot help: the process ends naming the cause.
    Fatal(&'static str),
    /// Reconnect and start a new session (IDENTIFY): the old one is gone.
    NewSession,
    /// Reconnect and RESUME the session.
    Resume,
}

/// Discord's close codes (Opcodes and Status Codes, "Gateway Close Event
/// Codes"): 4004 and 4010–4014 may not be reconnected; after 4007 (invalid
/// sequence) and 4009 (session timed out) the session is gone.
pub fn meaning(code: u16) -> Meaning {
    match code {
        4004 => Meaning::Fatal(
            "Discord refused DISCORD_TOKEN (gateway close 4004, authentication failed): \
             copy the bot token again from the Developer Portal (Bot → Reset Token) into DISCORD_TOKEN",
        ),
        4010 => Meaning::Fatal(
            "Discord refused the shard (gateway close 4010, invalid shard): \
             check DISCORD_SHARD_COUNT and DISCORD_SHARD_IDS",
        ),
        4011 => Meaning::Fatal(
            "Discord requires more shards (gateway close 4011, sharding required): \
             unset DISCORD_SHARD_COUNT to let Discord say how many, or raise it",
        ),
        4012 => Meaning::Fatal("Discord refused the gateway version (gateway close 4012)"),
        4013 => Meaning::Fatal(
            "Discord refused the gateway intents as invalid (gateway close 4013): \
             onair asks only for the Guilds intent; this build and Discord disagree",
        ),
        4014 => Meaning::Fatal(
            "Discord refused a privileged gateway intent (gateway close 4014, disallowed intents): \
             onair asks for the Guilds intent only; in the Developer Portal (Bot → Privileged \
             Gateway Intents) nothing needs enabling, so check that the application is the one \
             DISCORD_TOKEN belongs to and that it is not restricted",
        ),
        4007 | 4009 => Meaning::NewSession,
        _ => Meaning::Resume,
    }
}

/// A run of closes in a row with no session established in between, after
/// which each further close is reported at error level.
pub const CLOSES_BEFORE_ERROR: u32 = 3;

/// Consecutive closes of one shard's connections.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Streak {
    closes: u32,
}

/// How loudly to report a close.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loudness {
    /// One close: Discord asks clients to reconnect now and then.
    Warn,
    /// Closes keep coming (or cannot be recovered from).
    Error,
}

impl Streak {
    /// A connection closed (with a close code that `means` this; None:
    /// it broke or could not be opened): how loud to be.
    pub fn closed(&mut self, means: Option<Meaning>) -> Loudness {
        self.closes = self.closes.saturating_add(1);
        let fatal = matches!(means, Some(Meaning::Fatal(_)));
        if fatal || self.closes >= CLOSES_BEFORE_ERROR {
            Loudness::Error
        } else {
            Loudness::Warn
        }
    }

    /// A session was established (READY or RESUMED): the run is over.
    pub fn established(&mut self) {
        self.closes = 0;
    }

    pub fn closes(&self) -> u32 {
        self.closes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_and_intent_closes_are_fatal_and_name_what_to_fix() {
        for (code, names) in [
            (4004, "DISCORD_TOKEN"),
            (4013, "intents"),
            (4014, "Privileged Gateway Intents"),
            (4010, "DISCORD_SHARD_COUNT"),
            (4011, "DISCORD_SHARD_COUNT"),
        ] {
            match meaning(code) {
                Meaning::Fatal(why) => {
                    assert!(why.contains(names), "{code}: {why}");
                    assert!(why.contains(&code.to_string()), "{code}: {why}");
                }
                other => panic!("{code} is fatal, not {other:?}"),
            }
        }
    }

    #[test]
    fn invalid_sequence_and_timeout_start_a_new_session_others_resume() {
        assert_eq!(meaning(4007), Meaning::NewSession);
        assert_eq!(meaning(4009), Meaning::NewSession);
        for code in [1000, 1001, 1006, 4000, 4001, 4002, 4003, 4005, 4008] {
            assert_eq!(meaning(code), Meaning::Resume, "{code}");
        }
    }

    #[test]
    fn the_third_close_in_a_row_is_an_error_and_a_session_ends_the_run() {
        let mut s = Streak::default();
        assert_eq!(s.closed(Some(meaning(4000))), Loudness::Warn);
        assert_eq!(s.closed(None), Loudness::Warn);
        assert_eq!(s.closed(Some(meaning(4000))), Loudness::Error);
        assert_eq!(s.closes(), 3);
        s.established();
        assert_eq!(s.closed(Some(meaning(4000))), Loudness::Warn);
        assert_eq!(
            s.closed(Some(meaning(4004))),
            Loudness::Error,
            "fatal at once"
        );
    }
}
