//! Scale-out through Redis (`--redis URL`), against a real `redis-server`.

mod support;

use support::*;

#[test]
#[ignore = "needs redis-server: make cluster-test"]
fn the_redis_harness_restarts_with_and_without_its_data() {
    let mut redis = RedisServer::start();
    assert_eq!(
        resp_command(&["GET", "k"]),
        b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"
    );
    assert_eq!(
        redis.command(&["SET", "k", "v"]),
        Reply::Simple("OK".into())
    );
    redis.restart_with_data();
    assert_eq!(redis.command(&["GET", "k"]), Reply::Bulk(Some("v".into())));
    redis.restart_empty();
    assert_eq!(redis.command(&["GET", "k"]), Reply::Bulk(None));
    redis.stop();
    assert!(!redis.ping(), "PING answered after stop");
    redis.start_again();
    assert!(redis.url().ends_with(&format!(":{}/0", redis.port)));
}
