//! Static files: content types, exact lengths, HEAD, and nothing from
//! outside the folder.

mod support;

use support::{INDEX_HTML, connect, get, start_server, start_server_with};

/// The bytes planted just outside the static folder; no response may carry them.
const SECRET: &str = "[package]\nname = \"secret-outside-the-folder\"\n";

/// `GET /healthz` with `Connection: close`, answered in full.
const HEALTHZ_CLOSE: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
const HEALTHZ_CLOSE_RESPONSE: &str = "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: 3\r\n\r\nok\n";

#[test]
fn root_serves_index_html_with_exact_length() {
    let server = start_server();
    let (head, body) = get(server.addr, b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(
        head.raw,
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\r\n",
            INDEX_HTML.len()
        )
    );
    assert_eq!(body, INDEX_HTML);
}

#[test]
fn each_extension_gets_its_content_type() {
    let server = start_server();
    let table = [
        ("/index.html", "text/html; charset=utf-8"),
        ("/app.js", "text/javascript; charset=utf-8"),
        ("/style.css", "text/css; charset=utf-8"),
        ("/data.json", "application/json"),
        ("/logo.svg", "image/svg+xml"),
        ("/a.png", "image/png"),
        ("/favicon.ico", "image/x-icon"),
        ("/notes.txt", "text/plain; charset=utf-8"),
        ("/blob.bin", "application/octet-stream"),
    ];
    for (path, content_type) in table {
        let file = std::fs::read(server.static_dir.join(&path[1..])).unwrap();
        let mut c = connect(server.addr);
        c.send(format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
        let head = c.head();
        assert_eq!(
            head.raw,
            format!(
                "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
                file.len()
            ),
            "{path}"
        );
        // Bodies are read as bytes: a.png and blob.bin are not UTF-8.
        assert_eq!(c.body(file.len()), file, "{path}");
    }
}

#[test]
fn directory_path_serves_its_index_html() {
    let server = start_server();
    let (head, body) = get(server.addr, b"GET /sub/ HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(head.raw.lines().next(), Some("HTTP/1.1 200 OK"));
    assert_eq!(
        head.header("Content-Type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(head.header("Content-Length"), Some("11"));
    assert_eq!(body, "<p>sub</p>\n");
}

#[test]
fn head_gets_the_same_head_as_get() {
    let server = start_server();
    for path in ["/", "/app.js", "/a.png", "/blob.bin", "/sub/"] {
        let mut c = connect(server.addr);
        c.send(format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
        let get_head = c.head();
        let len: usize = get_head.header("Content-Length").unwrap().parse().unwrap();
        c.body(len);
        c.send(format!("HEAD {path} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
        let head_head = c.head();
        assert_eq!(head_head.raw, get_head.raw, "{path}");
    }
}

#[test]
fn head_sends_no_body_bytes() {
    let server = start_server();
    let mut c = connect(server.addr);
    // HEAD, then a second request in the same write: if any of index.html's
    // bytes followed the HEAD response, they would come before the second
    // response's status line.
    let mut wire = b"HEAD / HTTP/1.1\r\nHost: t\r\n\r\n".to_vec();
    wire.extend_from_slice(HEALTHZ_CLOSE);
    c.send(&wire);
    let head = c.head();
    assert_eq!(
        head.raw,
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\r\n",
            INDEX_HTML.len()
        )
    );
    let rest = c.read_to_end();
    assert_eq!(String::from_utf8_lossy(&rest), HEALTHZ_CLOSE_RESPONSE);
}

#[test]
fn missing_file_gets_404() {
    let server = start_server();
    let (head, body) = get(
        server.addr,
        b"GET /missing.html HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    assert_eq!(head.raw.lines().next(), Some("HTTP/1.1 404 Not Found"));
    assert_eq!(
        head.header("Content-Type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(body, "not found\n");
}

#[test]
fn hidden_file_gets_404_even_when_it_exists() {
    let server = start_server_with(|c| {
        std::fs::write(c.static_dir.join(".hidden"), SECRET).unwrap();
    });
    let (head, body) = get(server.addr, b"GET /.hidden HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(head.raw.lines().next(), Some("HTTP/1.1 404 Not Found"));
    assert_eq!(body, "not found\n");
}

/// A server whose static folder is `<root>/up/site`, with `Cargo.toml`
/// holding [`SECRET`] one and two levels above it.
fn server_with_secrets_outside() -> support::TestServer {
    start_server_with(|c| {
        let root = c.static_dir.clone();
        let site = root.join("up").join("site");
        std::fs::create_dir_all(site.join("sub")).unwrap();
        std::fs::write(site.join("index.html"), INDEX_HTML).unwrap();
        std::fs::write(site.join("sub").join("index.html"), "<p>sub</p>\n").unwrap();
        std::fs::write(root.join("Cargo.toml"), SECRET).unwrap();
        std::fs::write(root.join("up").join("Cargo.toml"), SECRET).unwrap();
        c.static_dir = site;
    })
}

const LEAVES: &str = "path may not leave the static folder\n";
const SLASHES: &str = "path may not contain encoded or back slashes\n";

#[test]
fn traversal_attempts_get_400_and_never_the_file() {
    let server = server_with_secrets_outside();
    for (path, reason) in [
        ("/../Cargo.toml", LEAVES),
        ("/sub/../../Cargo.toml", LEAVES),
        ("/%2e%2e/Cargo.toml", LEAVES),
        ("/%2E%2E/%2E%2E/Cargo.toml", LEAVES),
        ("/..%2fCargo.toml", SLASHES),
        ("/sub%2f..%2f..%2fCargo.toml", SLASHES),
        ("/a%5cb", SLASHES),
        ("/a%00b", "path may not contain NUL or backslash\n"),
    ] {
        let mut c = connect(server.addr);
        c.send(format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").as_bytes());
        let all = String::from_utf8_lossy(&c.read_to_end()).into_owned();
        assert!(
            !all.contains("secret-outside-the-folder"),
            "{path}: {all:?}"
        );
        assert_eq!(
            all,
            format!(
                "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{reason}",
                reason.len()
            ),
            "{path}"
        );
    }
}

#[test]
fn double_slash_path_stays_inside_the_folder_and_gets_404() {
    let server = start_server();
    let (head, body) = get(server.addr, b"GET //etc/passwd HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(head.raw.lines().next(), Some("HTTP/1.1 404 Not Found"));
    assert_eq!(body, "not found\n");
}

#[test]
fn post_to_static_path_gets_405_with_allow() {
    let server = start_server();
    let (head, body) = get(
        server.addr,
        b"POST /index.html HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n",
    );
    assert_eq!(
        head.raw.lines().next(),
        Some("HTTP/1.1 405 Method Not Allowed")
    );
    assert_eq!(head.header("Allow"), Some("GET, HEAD"));
    assert_eq!(
        head.header("Content-Type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(body, "method not allowed; use GET, HEAD\n");
}
