//! A Redis URL as the log may show it: any password replaced.
//!
//! ```text
//! redis://:s3cret@10.0.0.5:6379/0  →  redis://:REDACTED@10.0.0.5:6379/0
//! ```

/// `url` with any password in it replaced, for the log:
/// `redis://:s3cret@host:6379/0` → `redis://:REDACTED@host:6379/0`.
pub fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    // The last `@` ends the user part: a password may hold `@` itself.
    match rest.rsplit_once('@') {
        Some((user, host)) => {
            let name = user.split_once(':').map_or("", |(name, _)| name);
            format!("{scheme}://{name}:REDACTED@{host}")
        }
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_in_the_url_is_not_logged() {
        let shown = redacted("redis://:s3cret@10.0.0.5:6379/0");
        assert_eq!(shown, "redis://:REDACTED@10.0.0.5:6379/0");
        assert_eq!(redacted("redis://app:pw@h/1"), "redis://app:REDACTED@h/1");
        assert_eq!(redacted("redis://:p@ss@h/1"), "redis://:REDACTED@h/1");
        assert_eq!(
            redacted("redis://127.0.0.1:6379/0"),
            "redis://127.0.0.1:6379/0"
        );
    }
}
