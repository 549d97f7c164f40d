//! The auth file's parsing and reading: each refusal is one line without
//! the secret.

use super::*;
use crate::access::policy::Action;

#[test]
fn a_good_file() {
    let policy = parse(
        "[[token]]\nsecret = \"s3cret\"\npublish = [\"alerts-*\"]\nsubscribe = [\"*\"]\n\n\
         [[token]]\nsecret = \"reader\"\nsubscribe = [\"news\"]\n",
    )
    .unwrap();
    assert_eq!(policy.len(), 2);
    let writer = policy.identify(b"s3cret").unwrap();
    assert!(writer.may(Action::Publish, "alerts-disk"));
    assert!(!writer.may(Action::Publish, "news"));
    let reader = policy.identify(b"reader").unwrap();
    assert!(reader.may(Action::Subscribe, "news"));
    assert!(!reader.may(Action::Publish, "news"));
    assert!(!reader.may(Action::Subscribe, "alerts"));
}

#[test]
fn an_empty_file_knows_no_token() {
    assert!(parse("").unwrap().is_empty());
    assert!(parse("# nobody yet\n").unwrap().is_empty());
}

#[test]
fn each_kind_of_bad_file_is_one_line_without_the_secret() {
    let cases = [
        (
            "[[token]]\nsecret = \"s3cret\"\npublsh = [\"*\"]\n",
            "line 3: unknown field `publsh`",
        ),
        (
            "[[tokens]]\nsecret = \"s3cret\"\n",
            "line 1: unknown field `tokens`",
        ),
        ("[[token]]\nsecret = \"\"\n", "token #1: an empty secret"),
        ("[[token]]\npublish = [\"*\"]\n", "missing field `secret`"),
        (
            "[[token]]\nsecret = \"a\"\n[[token]]\nsecret = \"s3cret\"\n\
             [[token]]\nsecret = \"s3cret\"\n",
            "token #3 has the same secret as token #2",
        ),
        (
            "[[token]]\nsecret = \"s3cret\"\nsubscribe = [\"news.*\"]\n",
            "token #1: subscribe: pattern \"news.*\" has '.'",
        ),
        (
            "[[token]]\nsecret = \"s3cret\"\npublish = [\"\"]\n",
            "token #1: publish: an empty pattern",
        ),
        ("[[token]]\nsecret = s3cret\n", "line 2: "),
        ("[[token]]\nsecret = \"s3cret\n", "line 2: "),
        (
            "[[token]]\nsecret = \"s3cret\"\npublish = \"*\"\n",
            "line 3: ",
        ),
    ];
    for (text, expected) in cases {
        let e = parse(text).unwrap_err();
        assert!(e.contains(expected), "{text:?}: {e}");
        assert!(!e.contains("s3cret"), "{text:?}: {e}");
        assert!(!e.contains('\n'), "{text:?}: {e}");
    }
}

#[test]
fn a_quoted_value_is_never_repeated_wherever_the_secret_is() {
    let cases = [
        ("secret = \"s3cret\"\n", "line 1: unknown field `secret`"),
        (
            "token = \"s3cret\"\n",
            "invalid type: string, expected a sequence",
        ),
        (
            "[[token]]\nsecret = 123456789\n",
            "line 2: invalid type: integer, expected a string",
        ),
        (
            "[[token]]\nsecret = 0xDEAD\n",
            "line 2: invalid type: integer, expected a string",
        ),
        (
            "[[token]]\nsecret = \"a\"\npublish = \"s3cret\"\n",
            "line 3: invalid type: string, expected a sequence",
        ),
        (
            "[[token]]\nsecret = \"a\"\nnote = \"s3cret\"\n",
            "line 3: unknown field `note`",
        ),
    ];
    for (text, expected) in cases {
        let e = parse(text).unwrap_err();
        assert!(e.contains(expected), "{text:?}: {e}");
        for secret in ["s3cret", "123456789", "57005", "DEAD"] {
            assert!(!e.contains(secret), "{text:?}: {e}");
        }
    }
}

#[test]
fn a_secret_with_whitespace_or_a_control_character_is_refused_unnamed() {
    for secret in [
        "s3 cret",
        "s3cret\\t",
        "s3cret\\u0000",
        "s3cret\\u007f",
        "\\u00a0s3cret",
    ] {
        let text = format!("[[token]]\nsecret = \"ok\"\n[[token]]\nsecret = \"{secret}\"\n");
        let e = parse(&text).unwrap_err();
        assert_eq!(
            e,
            "token #2: the secret has whitespace or a control character, which no Authorization header can carry",
            "{secret:?}"
        );
    }
}

#[test]
fn rereading_refuses_an_empty_file_and_a_pipe_without_blocking() {
    let dir = std::env::temp_dir().join(format!("tinypush-file-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let empty = dir.join("empty.toml");
    std::fs::write(&empty, " \n\t\n").unwrap();
    let e = reread(&empty).unwrap_err();
    assert!(e.ends_with("empty.toml is empty"), "{e}");
    assert!(read(&empty).unwrap().is_empty());
    let fifo = dir.join("fifo.toml");
    let _ = std::fs::remove_file(&fifo);
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    assert!(made.unwrap().success());
    let e = reread(&fifo).unwrap_err();
    assert!(
        e.ends_with("fifo.toml is a pipe, not a regular file: only a regular file can be re-read"),
        "{e}"
    );
    let e = reread(&dir).unwrap_err();
    assert!(e.contains("is a directory, not a regular file"), "{e}");
}

#[test]
fn reading_names_the_file() {
    let e = read(Path::new("/nonexistent/auth.toml")).unwrap_err();
    assert!(
        e.starts_with("auth file /nonexistent/auth.toml: cannot read it: "),
        "{e}"
    );
}
