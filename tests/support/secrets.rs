//! Finding a secret in log text, including where a library printed it as a
//! byte array (`payload: [123, 34, 111, ...]`, `body: Some([...])`).

/// The first place one of `secrets` shows in `text`, plainly or inside a
/// decoded byte array: a short description with the surrounding text.
pub fn find_leak(text: &str, secrets: &[String]) -> Option<String> {
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        if let Some(line) = text.lines().find(|l| l.contains(secret.as_str())) {
            return Some(format!("plain: {}", &line[..line.len().min(400)]));
        }
    }
    for decoded in byte_arrays(text) {
        let s = String::from_utf8_lossy(&decoded);
        for secret in secrets.iter().filter(|s| !s.is_empty()) {
            if s.contains(secret.as_str()) {
                return Some(format!(
                    "in a byte array that decodes to: {}",
                    &s[..s.len().min(400)]
                ));
            }
        }
    }
    None
}

/// Every run of at least 8 comma-separated numbers 0..=255 inside `[...]`,
/// decoded to bytes.
pub fn byte_arrays(text: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        let after = &rest[open + 1..];
        let close = after.find(']').unwrap_or(after.len());
        let inner = &after[..close];
        let bytes: Option<Vec<u8>> = inner
            .split(',')
            .map(|n| n.trim().parse::<u8>().ok())
            .collect();
        if let Some(b) = bytes.filter(|b| b.len() >= 8) {
            out.push(b);
        }
        rest = after;
    }
    out
}
