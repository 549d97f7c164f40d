//! WS echo: clients on `/echo`, each sending a 64-byte text message and
//! waiting for it to come back before sending the next (a closed loop).
//!
//! ```text
//! client → server   81 c0 <mask> "xxxx…" (64 B)
//! server → client   81 40 "xxxx…"          one round trip
//! ```
//!
//! All clients connect first, then start together when the window opens;
//! round trips completed by its end are counted.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::sync::watch;

use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message;

use super::{Outcome, Settings, Target, counted_window};
use crate::client::http::IO_TIMEOUT;
use crate::client::ws::{self, WsClient};

use crate::table::{Format, Row, Value};

/// What each client sends: 64 bytes of text.
const PAYLOAD: &str = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";

/// The two client counts measured.
const CLIENTS: [usize; 2] = [1, 50];

/// The rows this phase fills.
pub fn rows() -> Vec<Row> {
    let row = |key: &str, label: &str, format| Row::new(key, 0, label, format);
    vec![
        row(
            "echo-1",
            "WS echo, 64 B, 1 client: round trips/s",
            Format::Whole,
        ),
        row(
            "echo-50",
            "WS echo, 64 B, 50 clients: round trips/s",
            Format::Whole,
        ),
        row(
            "echo-cpu",
            "WS echo: server CPU per round trip, µs (1 / 50 clients)",
            Format::TenthsPair,
        ),
    ]
}

/// One measured window.
struct Run {
    per_sec: f64,
    cpu_us: f64,
    idle: f64,
}

/// Measures 1 client, then 50.
pub async fn run(t: Target, s: &Settings) -> Result<Outcome, String> {
    let one = measure(t, CLIENTS[0], s.echo).await?;
    let many = measure(t, CLIENTS[1], s.echo).await?;
    let value = |key: &str, nums, idle| Value {
        key: key.into(),
        nums,
        idle: Some(idle),
    };
    Ok(Outcome {
        values: vec![
            value("echo-1", vec![one.per_sec], one.idle),
            value("echo-50", vec![many.per_sec], many.idle),
            value("echo-cpu", vec![one.cpu_us, many.cpu_us], many.idle),
        ],
        ..Outcome::default()
    })
}

async fn measure(t: Target, clients: usize, length: Duration) -> Result<Run, String> {
    let mut sockets = Vec::with_capacity(clients);
    for _ in 0..clients {
        let ws = ws::open(t.addr, "/echo").await;
        sockets.push(ws.map_err(|e| format!("echo connect: {e}"))?);
    }
    let (round_trips, measured) =
        counted_window(&[t.pid], length, sockets, client, "echo client").await?;
    if round_trips == 0 {
        return Err("no echo came back".into());
    }
    Ok(Run {
        per_sec: round_trips as f64 / measured.secs,
        cpu_us: measured.server_us / round_trips as f64,
        idle: measured.idle,
    })
}

/// Waits for the start, then loops send → receive until the deadline.
async fn client(mut ws: WsClient, mut go: watch::Receiver<Option<Instant>>) -> Result<u64, String> {
    let deadline = loop {
        if let Some(deadline) = *go.borrow_and_update() {
            break deadline;
        }
        go.changed().await.map_err(|_| "never started")?;
    };
    let mut round_trips = 0;
    while Instant::now() < deadline {
        ws.send(Message::text(PAYLOAD))
            .await
            .map_err(|e| format!("echo send: {e}"))?;
        loop {
            match timeout(IO_TIMEOUT, ws.next()).await {
                Ok(Some(Ok(Message::Text(_)))) => break,
                // A ping (answered by tungstenite) or the like: keep waiting.
                Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => {}
                Ok(Some(Ok(other))) => return Err(format!("echo got {other:?}")),
                Ok(Some(Err(e))) => return Err(format!("echo read: {e}")),
                Ok(None) => return Err("echo connection closed".into()),
                Err(_) => return Err(format!("no echo within {}", secs(IO_TIMEOUT))),
            }
        }
        round_trips += 1;
    }
    Ok(round_trips)
}

fn secs(d: Duration) -> String {
    format!("{} s", d.as_secs())
}
