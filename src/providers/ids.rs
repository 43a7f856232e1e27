//! Ids that go into a provider's URL (a RealtimeKit livestream or meeting
//! id, a kitkot room): checked before any request, so user input can add no
//! path segment, parameter or key.

use super::error::ProviderError;
use super::name::ProviderName;
use crate::text::truncate_chars;

/// An id safe to put in a URL path or query: 1..=`max` ASCII letters,
/// digits, `-` or `_` (user input can add no segment, parameter or key).
pub fn plain_id(id: &str, max: usize) -> bool {
    (1..=max).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// The trimmed id, or an `InvalidInput` error naming `what`.
pub fn check_id<'a>(
    provider: ProviderName,
    what: &str,
    id: &'a str,
    max: usize,
) -> Result<&'a str, ProviderError> {
    let id = id.trim();
    if plain_id(id, max) {
        Ok(id)
    } else {
        Err(ProviderError::InvalidInput {
            provider,
            what: format!("`{}` is not a valid {what}", truncate_chars(id, max)),
        })
    }
}
