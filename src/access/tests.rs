//! The decision through [`Access`]: anonymous modes, the three refusals,
//! multi-topic requests, reloading.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::*;

const FILE: &str = "[[token]]\nsecret = \"s3cret\"\npublish = [\"alerts-*\"]\nsubscribe = [\"*\"]\n\n\
                    [[token]]\nsecret = \"reader\"\nsubscribe = [\"news\"]\n";

/// A fresh auth file holding `text`.
fn auth_file(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tinypush-access-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn access(tweak: impl FnOnce(&mut AccessConfig)) -> Access {
    let mut config = crate::Config::default().access;
    tweak(&mut config);
    Access::load(&config, Arc::new(Metrics::default()))
        .unwrap()
        .0
}

fn req(target: &str, auth: Option<&str>) -> Request {
    crate::http::request::test_get(target, auth.map(|a| ("Authorization", a)))
}

/// The status `access` answers, 200 for allowed.
fn status(access: &Access, target: &str, action: Action, topics: &[&str]) -> u16 {
    match access.check(&req(target, None), action, topics) {
        Ok(()) => 200,
        Err(e) => e.status().unwrap(),
    }
}

#[test]
fn without_tokens_everyone_may_everything_and_tokens_are_not_read() {
    let a = access(|_| {});
    assert_eq!(a.anonymous(), Anonymous::ReadWrite);
    assert_eq!(status(&a, "/t", Action::Publish, &["news"]), 200);
    assert_eq!(status(&a, "/t?token=junk", Action::Publish, &["news"]), 200);
}

#[test]
fn anonymous_modes() {
    let file = auth_file("modes.toml", FILE);
    for (mode, publish, subscribe) in [
        (Anonymous::ReadWrite, 200, 200),
        (Anonymous::Read, 401, 200),
        (Anonymous::None, 401, 401),
    ] {
        let a = access(|c| {
            c.auth_file = Some(file.clone());
            c.anonymous = Some(mode);
        });
        assert_eq!(
            status(&a, "/t", Action::Publish, &["news"]),
            publish,
            "{mode:?}"
        );
        assert_eq!(
            status(&a, "/t", Action::Subscribe, &["news"]),
            subscribe,
            "{mode:?}"
        );
    }
}

#[test]
fn unknown_token_401_out_of_scope_403_in_scope_ok() {
    let a = access(|c| c.auth_file = Some(auth_file("scopes.toml", FILE)));
    assert_eq!(a.anonymous(), Anonymous::Read);
    let check = |target: &str, action, topics: &[&str]| a.check(&req(target, None), action, topics);
    assert!(matches!(
        check("/t?token=wrong", Action::Subscribe, &["news"]),
        Err(Error::InvalidToken)
    ));
    match check("/t?token=reader", Action::Publish, &["news"]) {
        Err(Error::OutOfScope(why)) => assert_eq!(why, "this token may not publish to news"),
        other => panic!("{other:?}"),
    }
    assert!(check("/t?token=s3cret", Action::Publish, &["alerts-disk"]).is_ok());
    assert_eq!(a.metrics.denied_401.load(Ordering::Relaxed), 1);
    assert_eq!(a.metrics.denied_403.load(Ordering::Relaxed), 1);
}

#[test]
fn every_topic_of_a_subscription_needs_the_scope() {
    let a = access(|c| {
        c.auth_file = Some(auth_file("multi.toml", FILE));
        c.anonymous = Some(Anonymous::None);
    });
    let reader = req("/t", Some("Bearer reader"));
    assert!(a.check(&reader, Action::Subscribe, &["news"]).is_ok());
    match a.check(&reader, Action::Subscribe, &["news", "sports", "alerts"]) {
        Err(Error::OutOfScope(why)) => assert_eq!(why, "this token may not subscribe to sports"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_publish_token_joins_the_file() {
    let a = access(|c| {
        c.auth_file = Some(auth_file("joined.toml", FILE));
        c.publish_token = Some("admin".into());
    });
    assert_eq!(a.policy().len(), 3);
    let admin = req("/t", Some("Bearer admin"));
    assert!(a.check(&admin, Action::Publish, &["anything"]).is_ok());
}

#[test]
fn a_bad_file_at_reload_keeps_the_old_policy() {
    let path = auth_file("reload.toml", FILE);
    let a = access(|c| c.auth_file = Some(path.clone()));
    std::fs::write(
        &path,
        format!("{FILE}[[token]]\nsecret = \"new\"\npublish = [\"*\"]\n"),
    )
    .unwrap();
    assert_eq!(a.reload(), Ok(Some(3)));
    assert!(
        a.decide(&req("/t?token=new", None), Action::Publish, &["x"])
            .is_ok()
    );
    std::fs::write(&path, "[[token]]\nsecret = \"\"\n").unwrap();
    let e = a.reload().unwrap_err();
    assert!(e.ends_with("reload.toml: token #1: an empty secret"), "{e}");
    assert_eq!(a.policy().len(), 3);
    assert_eq!(access(|_| {}).reload(), Ok(None));
}

#[test]
fn a_bad_file_at_start_is_one_line() {
    let mut config = crate::Config::default().access;
    config.auth_file = Some(auth_file(
        "start.toml",
        "[[token]]\nsecret = \"s3cret\"\nx = 1\n",
    ));
    let e = Access::load(&config, Arc::new(Metrics::default()))
        .err()
        .unwrap();
    assert!(e.starts_with("auth file /"), "{e}");
    assert!(e.ends_with("start.toml: line 3: unknown field `x`, expected one of `secret`, `publish`, `subscribe`"), "{e}");
}

#[test]
fn a_standing_is_decided_again_only_after_a_reload_that_succeeds() {
    let path = auth_file("standing.toml", FILE);
    let a = access(|c| c.auth_file = Some(path.clone()));
    let writer = req("/t?token=s3cret", None);
    let mut standing = a.standing(&writer, Action::Publish, &["alerts-a"]);
    assert!(a.recheck(&mut standing).is_ok());
    std::fs::write(&path, "[[token]]\nsecret = \"reader\"\n").unwrap();
    assert!(a.recheck(&mut standing).is_ok(), "no reload yet");
    assert_eq!(a.reload(), Ok(Some(1)));
    assert_eq!(a.generation(), 1);
    let e = a.recheck(&mut standing).as_ref().unwrap_err();
    assert!(matches!(e, Error::InvalidToken), "{e:?}");
    assert_eq!(withdrawn(e), "token revoked");
    std::fs::write(&path, "\n").unwrap();
    assert!(a.reload().is_err());
    assert_eq!(a.generation(), 1, "a refused reload installs nothing");
}

#[test]
fn narrow_subscribe_lists_are_counted_where_anonymous_may_read() {
    let path = auth_file("narrow.toml", FILE);
    let read = access(|c| c.auth_file = Some(path.clone()));
    assert_eq!(
        read.idle_subscribe_lists().unwrap(),
        "anonymous clients may subscribe to every topic (--anonymous read): \
         the subscribe list of 1 token adds nothing; --anonymous none makes it count"
    );
    let none = access(|c| {
        c.auth_file = Some(path.clone());
        c.anonymous = Some(Anonymous::None);
    });
    assert_eq!(none.idle_subscribe_lists(), None);
    assert_eq!(access(|_| {}).idle_subscribe_lists(), None);
}
