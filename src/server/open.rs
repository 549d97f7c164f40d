//! What the server opens before it listens, each said once in the log:
//! where topics' histories live, and the access policy.

use std::sync::Arc;

use log::{info, warn};

use crate::access::Access;
use crate::cluster::Cluster;
use crate::config::{AccessConfig, TopicConfig};
use crate::error::{Error, Result};
use crate::metrics::Metrics;
use crate::store::Store;

/// Where topics' histories live: Redis (`--redis`), a file (`--data-dir`),
/// or memory; said once in the log.
///
/// # Errors
/// `Startup` with one line when Redis or the file cannot be used.
pub fn history(
    topics: &TopicConfig,
    metrics: &Arc<Metrics>,
) -> Result<(Option<Store>, Option<Cluster>)> {
    if let Some(url) = &topics.redis {
        let cluster = Cluster::connect(url, Arc::clone(metrics)).map_err(Error::Startup)?;
        let url = crate::cluster::redacted(url);
        info!("history kept in Redis at {url}, shared with every node using it");
        return Ok((None, Some(cluster)));
    }
    match &topics.data_dir {
        Some(dir) => {
            let store = Store::open(dir).map_err(Error::Startup)?;
            info!("history kept in {}", store.file().display());
            Ok((Some(store), None))
        }
        None => {
            info!("history kept in memory only: lost on restart (--data-dir keeps it)");
            Ok((None, None))
        }
    }
}

/// The access policy: the auth file read, said once in the log.
///
/// # Errors
/// `Startup` with one line when the auth file cannot be read or is wrong.
pub fn access(config: &AccessConfig, metrics: &Arc<Metrics>) -> Result<Arc<Access>> {
    let (access, tokens) = Access::load(config, Arc::clone(metrics)).map_err(Error::Startup)?;
    if let Some(file) = access.file() {
        info!("auth file {}: {tokens} tokens", file.display());
        // `--auth-file <(…)`: fine once, but SIGHUP will refuse it.
        if std::fs::metadata(file).is_ok_and(|m| !m.is_file()) {
            warn!(
                "auth file {} is not a regular file: read once now, SIGHUP cannot re-read it",
                file.display()
            );
        }
    }
    if let Some(line) = access.idle_subscribe_lists() {
        warn!("{line}");
    }
    Ok(Arc::new(access))
}
