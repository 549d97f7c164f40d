//! What one rep of a phase runs against, started fresh and killed after:
//! the server alone; tinypush with an empty data folder (`publish-durable`);
//! or a `redis-server` and three tinypush nodes sharing it (`fanout-cluster`):
//!
//! ```text
//! redis-server --port 40111 --bind 127.0.0.1 --save '' --appendonly no --dir …/redis-data-r0
//! PING → +PONG
//! tinypush serve --addr 127.0.0.1:40123 … --redis redis://127.0.0.1:40111/0    node 1
//! tinypush serve --addr 127.0.0.1:40127 … --redis redis://127.0.0.1:40111/0    node 2
//! tinypush serve --addr 127.0.0.1:40131 … --redis redis://127.0.0.1:40111/0    node 3
//! GET /healthz → 200 from each
//! … the phase …
//! kill the nodes, then Redis; remove its folder
//! ```
//!
//! Redis keeps nothing on disk (`--save ''`, no AOF); its folder only holds
//! what it might write anyway. Each process logs to `WORK_DIR/NAME.log`
//! (`redis.log`, `tinypush-node1.log`, …). Without a `redis-server` on the
//! PATH the cluster is not started, and the phase's cells say why.

use std::path::Path;

use crate::phases::{Setup, Target, Targets};
use crate::server::{self, DataDir, Ready, Server, Spec};

/// How many tinypush nodes a cluster phase starts.
pub const NODES: usize = 3;

/// The processes of one rep; killed when dropped, nodes first.
pub struct Deployment {
    /// The server, or the cluster's nodes (node 1 first).
    pub nodes: Vec<Server>,
    /// The cluster's Redis.
    redis: Option<Server>,
    /// The durable server's or Redis's folder: a field after them, so it
    /// is removed once they are killed.
    _dir: Option<DataDir>,
}

/// Starts what `setup` asks for, from `spec` (tinypush's for anything but
/// [`Setup::Alone`]); `redis` is the `redis-server` program.
///
/// # Errors
/// A process cannot start or does not get ready; `redis-server` is missing.
pub async fn start(
    setup: Setup,
    spec: &Spec,
    work_dir: &Path,
    rep: usize,
    redis: &str,
) -> Result<Deployment, String> {
    match setup {
        Setup::Alone => Ok(Deployment {
            nodes: vec![server::start(spec, work_dir).await?],
            redis: None,
            _dir: None,
        }),
        Setup::DataDir => {
            let data = DataDir::fresh(work_dir, &spec.name, rep)?;
            let server = server::start(&spec.with_data_dir(&data), work_dir).await?;
            Ok(Deployment {
                nodes: vec![server],
                redis: None,
                _dir: Some(data),
            })
        }
        Setup::Cluster => cluster(spec, work_dir, rep, redis).await,
    }
}

/// Redis on a free port, then [`NODES`] tinypush nodes pointed at it.
async fn cluster(
    spec: &Spec,
    work_dir: &Path,
    rep: usize,
    redis: &str,
) -> Result<Deployment, String> {
    if !installed(redis) {
        return Err(format!("{redis} not installed"));
    }
    let dir = DataDir::fresh(work_dir, "redis", rep)?;
    std::fs::create_dir_all(dir.path())
        .map_err(|e| format!("cannot create {}: {e}", dir.path().display()))?;
    let redis_spec = Spec {
        name: "redis".into(),
        command: format!(
            "{redis} --port {{port}} --bind 127.0.0.1 --save '' --appendonly no --dir {}",
            dir.path().display()
        ),
    };
    let redis = server::start_until(&redis_spec, work_dir, Ready::Pong)
        .await
        .map_err(|e| format!("redis-server: {e}"))?;
    let mut deployment = Deployment {
        nodes: Vec::with_capacity(NODES),
        redis: Some(redis),
        _dir: Some(dir),
    };
    let url = format!("redis://{}/0", deployment.redis_target().addr);
    for k in 1..=NODES {
        let node = Spec {
            name: format!("{}-node{k}", spec.name),
            command: format!("{} --redis {url}", spec.command),
        };
        let started = server::start(&node, work_dir).await;
        deployment
            .nodes
            .push(started.map_err(|e| format!("node {k}: {e}"))?);
    }
    Ok(deployment)
}

impl Deployment {
    /// Where the phase sends its load, and which processes it measures.
    pub fn targets(&self) -> Targets {
        Targets {
            nodes: self.nodes.iter().map(|s| s.target).collect(),
            redis: self.redis.as_ref().map(|r| r.target),
        }
    }

    fn redis_target(&self) -> Target {
        self.redis
            .as_ref()
            .expect("only a cluster asks, after starting Redis")
            .target
    }

    /// Which process has ended, and how: `server died (signal 9 (SIGKILL))`,
    /// `node 2 died (…)`, `redis-server died (…)`.
    pub fn died(&mut self) -> Option<String> {
        let cluster = self.redis.is_some();
        for (k, node) in self.nodes.iter_mut().enumerate() {
            if let Some(death) = node.died() {
                let who = if cluster {
                    format!("node {}", k + 1)
                } else {
                    "server".into()
                };
                return Some(format!("{who} died ({death})"));
            }
        }
        let death = self.redis.as_mut()?.died()?;
        Some(format!("redis-server died ({death})"))
    }
}

/// The log names a cluster writes beside the server's: `redis`,
/// `tinypush-node1`, … (made fresh at the start of a run).
pub fn cluster_logs(name: &str) -> Vec<String> {
    let nodes = (1..=NODES).map(|k| format!("{name}-node{k}"));
    std::iter::once("redis".to_string()).chain(nodes).collect()
}

/// Whether `program` is a file (given with a `/`) or found on the PATH.
fn installed(program: &str) -> bool {
    if program.contains('/') {
        return Path::new(program).is_file();
    }
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(program).is_file()))
}
