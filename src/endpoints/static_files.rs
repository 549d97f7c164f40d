//! Files from the static folder, and nothing outside it.
//!
//! `/` is `index.html`; `/app.js` is `static/app.js`. The path is
//! percent-decoded and split on `/`; a request is refused when any piece
//! could step outside the folder or hide a separator:
//!
//! ```text
//! GET /../Cargo.toml          ..  segment              → 400
//! GET /%2e%2e/Cargo.toml      ..  after decoding       → 400
//! GET /..%2fCargo.toml        encoded `/`              → 400
//! GET /a\b, /a%00b            backslash, NUL           → 400
//! GET /.git/config            hidden (dot) files       → 404
//! ```
//!
//! A file that is missing is 404; one that cannot be opened for another
//! reason (out of file descriptors) is 503 with `Retry-After`: the file is
//! there, and a retry may find it.
//!
//! Every answer has `Content-Length`, and HEAD gets the head alone. The body
//! is copied from the file to the socket through an 8 KiB buffer
//! (`io::copy`). Not supported: ranges, conditional requests, compression,
//! `sendfile`.

use std::fs::File;
use std::io;
use std::path::PathBuf;

use percent_encoding::percent_decode_str;

use crate::error::{Error, Result};
use crate::http::exchange::{Exchange, Outcome, require_get};
use crate::http::response::Head;

/// `GET /<file>` from the static folder.
pub fn serve(x: &mut Exchange) -> Result<Outcome> {
    require_get(x.req)?;
    let relative = safe_path(x.req.path())?;
    let mut path = x.shared.config.static_dir.join(relative);
    if path.is_dir() {
        path.push("index.html");
    }
    let file = File::open(&path).map_err(|e| open_error(&e))?;
    let meta = file.metadata().map_err(|e| open_error(&e))?;
    if !meta.is_file() {
        return Err(Error::NotFound);
    }
    Head::new(200)
        .header("Content-Type", content_type(&path))
        .header("Content-Length", meta.len().to_string())
        .connection(x.keep_alive, x.req.is_http11())
        .write_to(x.out)?;
    if !x.req.is_head() {
        let sent = io::copy(&mut io::Read::take(file, meta.len()), x.out)?;
        if sent != meta.len() {
            // The file shrank while we sent it: the length we promised is a
            // lie now, and only closing tells the client.
            return Ok(Outcome {
                status: 200,
                keep_alive: false,
            });
        }
    }
    Ok(Outcome {
        status: 200,
        keep_alive: x.keep_alive,
    })
}

/// Not found (or not ours to show) is 404; anything else, such as running
/// out of file descriptors, is the server's trouble and passes: 503.
fn open_error(e: &io::Error) -> Error {
    match e.kind() {
        io::ErrorKind::NotFound
        | io::ErrorKind::NotADirectory
        | io::ErrorKind::PermissionDenied => Error::NotFound,
        _ => Error::Unavailable("cannot open the file now"),
    }
}

/// Turns a request path into a relative path that stays inside the folder.
///
/// # Errors
/// 400 for anything that could leave the folder, 404 for hidden files.
pub fn safe_path(path: &str) -> Result<PathBuf> {
    let lower = path.to_ascii_lowercase();
    if lower.contains("%2f") || lower.contains("%5c") || path.contains('\\') {
        return Err(Error::BadRequest(
            "path may not contain encoded or back slashes",
        ));
    }
    let decoded = percent_decode_str(path)
        .decode_utf8()
        .map_err(|_| Error::BadRequest("path is not UTF-8"))?;
    if decoded.contains(['\0', '\\']) {
        return Err(Error::BadRequest("path may not contain NUL or backslash"));
    }
    let mut relative = PathBuf::new();
    for segment in decoded.split('/') {
        match segment {
            "" | "." => {}
            ".." => return Err(Error::BadRequest("path may not leave the static folder")),
            s if s.starts_with('.') => return Err(Error::NotFound),
            s => relative.push(s),
        }
    }
    if relative.as_os_str().is_empty() {
        relative.push("index.html");
    }
    Ok(relative)
}

/// The Content-Type for a file, by its extension.
pub fn content_type(path: &std::path::Path) -> &'static str {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    match ext.to_ascii_lowercase().as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_paths() {
        assert_eq!(safe_path("/").unwrap(), PathBuf::from("index.html"));
        assert_eq!(safe_path("/a/./b.js").unwrap(), PathBuf::from("a/b.js"));
        assert_eq!(
            safe_path("/my%20page.html").unwrap(),
            PathBuf::from("my page.html")
        );
        assert_eq!(
            safe_path("//etc/passwd").unwrap(),
            PathBuf::from("etc/passwd")
        );
    }

    #[test]
    fn escapes_are_refused() {
        for bad in [
            "/../x",
            "/a/../../x",
            "/%2e%2e/x",
            "/%2E%2E/x",
            "/..%2fx",
            "/a%5cb",
            "/a\\b",
            "/a%00b",
            "/%ff",
        ] {
            assert!(matches!(safe_path(bad), Err(Error::BadRequest(_))), "{bad}");
        }
        assert!(matches!(safe_path("/.git/config"), Err(Error::NotFound)));
    }

    #[test]
    fn open_errors() {
        let missing = io::Error::from(io::ErrorKind::NotFound);
        assert!(matches!(open_error(&missing), Error::NotFound));
        let emfile = io::Error::from_raw_os_error(24); // EMFILE
        assert!(matches!(open_error(&emfile), Error::Unavailable(_)));
    }

    #[test]
    fn types() {
        assert_eq!(
            content_type("a/index.html".as_ref()),
            "text/html; charset=utf-8"
        );
        assert_eq!(content_type("x.PNG".as_ref()), "image/png");
        assert_eq!(content_type("x.bin".as_ref()), "application/octet-stream");
    }
}
