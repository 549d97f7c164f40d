//! A node's connections to Redis are bounded: a burst of publishers
//! waiting on a slow Redis shares at most 16 connections (`cluster/pool.rs`)
//! instead of opening one each, which would take Redis's client limit
//! from every node sharing it; and a quiet node keeps reusing one. Redis
//! counts every connection it accepts:
//!
//! ```text
//! → INFO stats                    ← …total_connections_received:4…
//! → CLIENT PAUSE 500 WRITE        every script waits 500 ms in Redis
//!   48 × POST /topics/burst       each publish is an EVALSHA: in flight at once
//! → INFO stats                    ← …total_connections_received:21…
//!   opened by the node = 21 − 4 − 2 (the two commands' own connections) ≤ 16
//!
//! → CLIENT LIST                   ← …sub=1… (the node's listener has subscribed)
//!   30 × POST /topics/quiet one after another → at most 1 connection opened
//! ```
//!
//! This test needs `redis-server`: `make cluster-test` runs it.

mod support;

use std::thread;
use std::time::Duration;

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

/// Waits (at most 10 s) until a client of `redis` is subscribed: the
/// node's listener, which clears the idle connections once it is.
fn wait_subscribed(redis: &RedisServer) {
    let subscribed = wait_until(
        Duration::from_secs(10),
        || matches!(redis.command(&["CLIENT", "LIST"]), Reply::Bulk(Some(list)) if list.contains(" sub=1 ")),
    );
    assert!(subscribed, "the node's listener never subscribed");
}

#[test]
#[ignore = "needs redis-server: make cluster-test"]
fn a_quiet_node_reuses_one_connection() {
    let redis = RedisServer::start();
    let node = node(&redis.url(), &[]);
    wait_subscribed(&redis);
    let mut c = connect(node.addr);
    publish_ok(&mut c, "quiet", "warm-up");
    let before = connections_received(&redis);
    for i in 0..30 {
        publish_ok(&mut c, "quiet", &format!("q{i}"));
    }
    // Less this command's connection. One more may be opened if the
    // listener's clear came after the warm-up.
    let opened = connections_received(&redis) - before - 1;
    assert!(
        opened <= 1,
        "the node opened {opened} connections to Redis for 30 publishes one after another"
    );
}

#[test]
#[ignore = "needs redis-server: make cluster-test"]
fn publishers_waiting_on_a_slow_redis_share_at_most_16_connections() {
    let redis = RedisServer::start();
    let node = node(&redis.url(), &[]);
    // The listener's own connection, opened when it likes, is not counted.
    wait_subscribed(&redis);
    let before = connections_received(&redis);
    assert_eq!(
        redis.command(&["CLIENT", "PAUSE", "500", "WRITE"]),
        Reply::Simple("OK".into())
    );
    let addr = node.addr;
    let publishers: Vec<_> = (0..PUBLISHERS)
        .map(|i| {
            thread::Builder::new()
                .name(format!("publisher-{i}"))
                .spawn(move || publish_ok(&mut connect(addr), "burst", &format!("b{i}")))
                .expect("spawn a publisher")
        })
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
