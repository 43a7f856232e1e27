//! Secrets at rest: a webhook token lets anyone post into its channel
//! under any name, so the store never keeps one in the clear. Tokens are
//! sealed with ChaCha20-Poly1305 under a key derived (HKDF-SHA256) from the
//! bot token: a copy of the database alone (a backup, a `.db` file left
//! readable) opens none of them, and the operator has no second secret to
//! keep. Resetting the bot token makes the sealed tokens unreadable: the
//! announcer then adopts each channel's webhook again from Discord
//! (`GET /channels/{id}/webhooks` gives its creator the token) and seals it
//! under the new key.

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305, NONCE_LEN};
use ring::hkdf::{Salt, HKDF_SHA256};
use ring::rand::{SecureRandom, SystemRandom};

use crate::secret::Secret;

/// What a sealed value starts with (and its format version).
const PREFIX: &str = "sealed:v1:";
/// HKDF salt and info: this key is for this purpose only.
const SALT: &[u8] = b"onair store seal";
const INFO: &[u8] = b"webhook tokens v1";

pub struct Sealer {
    key: LessSafeKey,
    rng: SystemRandom,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer")
    }
}

impl Sealer {
    /// The key derived from `secret` (the bot token).
    pub fn from_secret(secret: &Secret) -> Sealer {
        let prk = Salt::new(HKDF_SHA256, SALT).extract(secret.expose().as_bytes());
        let key = prk
            .expand(&[INFO], &CHACHA20_POLY1305)
            .map(UnboundKey::from)
            // Infallible for a 32-byte key; a random one otherwise.
            .unwrap_or_else(|_| random_key());
        Sealer {
            key: LessSafeKey::new(key),
            rng: SystemRandom::new(),
        }
    }

    /// A key that lives as long as the process (a store opened without the
    /// bot token: tools and tests). What it seals no later run can open.
    pub fn ephemeral() -> Sealer {
        Sealer {
            key: LessSafeKey::new(random_key()),
            rng: SystemRandom::new(),
        }
    }

    /// `plain`, sealed: `sealed:v1:<hex nonce + ciphertext + tag>`. A fresh
    /// random nonce every time.
    pub fn seal(&self, plain: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        if self.rng.fill(&mut nonce).is_err() {
            // No randomness: store nothing rather than something weak.
            return String::new();
        }
        let mut data = plain.as_bytes().to_vec();
        if self
            .key
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut data)
            .is_err()
        {
            return String::new();
        }
        let mut out = String::with_capacity(PREFIX.len() + 2 * (NONCE_LEN + data.len()));
        out.push_str(PREFIX);
        out.push_str(&hex(&nonce));
        out.push_str(&hex(&data));
        out
    }

    /// The plain value of a sealed one; `None` when it is not sealed, was
    /// sealed under another key, or was altered.
    pub fn open(&self, sealed: &str) -> Option<String> {
        let bytes = unhex(sealed.strip_prefix(PREFIX)?)?;
        if bytes.len() < NONCE_LEN {
            return None;
        }
        let (nonce, rest) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut data = rest.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::empty(), &mut data)
            .ok()?;
        String::from_utf8(plain.to_vec()).ok()
    }

    /// Whether a stored value is sealed (not a plaintext token left by an
    /// older version).
    pub fn is_sealed(stored: &str) -> bool {
        stored.starts_with(PREFIX)
    }
}

fn random_key() -> UnboundKey {
    let mut bytes = [0u8; 32];
    let _ = SystemRandom::new().fill(&mut bytes);
    UnboundKey::new(&CHACHA20_POLY1305, &bytes).expect("ChaCha20-Poly1305 takes any 32-byte key")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_token_opens_with_the_same_bot_token_only() {
        let a = Sealer::from_secret(&Secret::new("bot-token-a"));
        let sealed = a.seal("webhook-token-123");
        assert!(Sealer::is_sealed(&sealed));
        assert!(!sealed.contains("webhook-token-123"));
        assert_ne!(
            sealed,
            a.seal("webhook-token-123"),
            "a fresh nonce each time"
        );
        let again = Sealer::from_secret(&Secret::new("bot-token-a"));
        assert_eq!(again.open(&sealed).as_deref(), Some("webhook-token-123"));
        let other = Sealer::from_secret(&Secret::new("bot-token-b"));
        assert_eq!(other.open(&sealed), None);
        assert_eq!(Sealer::ephemeral().open(&sealed), None);
    }

    #[test]
    fn altered_or_plain_values_do_not_open() {
        let a = Sealer::from_secret(&Secret::new("k"));
        let mut sealed = a.seal("tok");
        let last = sealed.pop().unwrap();
        sealed.push(if last == '0' { '1' } else { '0' });
        assert_eq!(a.open(&sealed), None);
        assert_eq!(a.open("tok"), None);
        assert_eq!(a.open("sealed:v1:zz"), None);
    }
}
