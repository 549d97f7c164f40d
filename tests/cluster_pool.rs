//! A node's connections to Redis are bounded: a burst of publishers
//! waiting on a slow Redis shares at most 16 connections (`cluster/pool.rs`)
//! instead of opening one each, which would take Redis's client limit
//! from every node sharing it. Redis counts every connection it accepts:
//!
//! ```text
//! → INFO stats                    ← …total_connections_received:4…
//! → CLIENT PAUSE 500 WRITE        every script waits 500 ms in Redis
//!   48 × POST /topics/burst       each publish is an EVALSHA: in flight at once
//! → INFO stats                    ← …total_connections_received:21…
//!   opened by the node = 21 − 4 − 2 (the two commands' own connections) ≤ 16
//! ```
//!
//! This test needs `redis-server`: `make cluster-test` runs it.

mod support;

use std::thread;

use support::*;

/// Publishers at once: three times the node's connections.
const PUBLISHERS: usize = 48;
/// The node's connections to Redis at most (`cluster/pool.rs`).
const CONNECTIONS: u64 = 16;

/// `total_connections_received` from `INFO stats`.
fn connections_received(redis: &RedisServer) -> u64 {
    let Reply::Bulk(Some(info)) = redis.command(&["INFO", "stats"]) else {
        panic!("INFO stats: not a bulk string");
    };
    info.lines()
        .find_map(|l| l.strip_prefix("total_connections_received:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no total_connections_received in {info}"))
}

#[test]
#[ignore = "needs redis-server: make cluster-test"]
fn publishers_waiting_on_a_slow_redis_share_at_most_16_connections() {
    let redis = RedisServer::start();
    let node = node(&redis.url(), &[]);
    let before = connections_received(&redis);
    assert_eq!(
        redis.command(&["CLIENT", "PAUSE", "500", "WRITE"]),
        Reply::Simple("OK".into())
    );
    let addr = node.addr;
    let publishers: Vec<_> = (0..PUBLISHERS)
        .map(|i| thread::spawn(move || publish_ok(&mut connect(addr), "burst", &format!("b{i}"))))
        .collect();
    let mut ids: Vec<u64> = publishers
        .into_iter()
        .map(|p| p.join().expect("publisher").0)
        .collect();
    ids.sort();
    let every: Vec<u64> = (1..=PUBLISHERS as u64).collect();
    assert_eq!(ids, every, "every publish acknowledged, each id once");
    // Less this command's connection and the pause's.
    let opened = connections_received(&redis) - before - 2;
    assert!(
        opened <= CONNECTIONS,
        "the node opened {opened} connections to Redis for {PUBLISHERS} publishers"
    );
}
