//! The outbox against a real socket pair: what reaches the client, byte
//! for byte, in which order, and when the subscriber is too slow or gone.

use std::io::Read;
use std::net::TcpListener;
use std::time::Duration;

use socket2::SockRef;

use super::*;
use crate::endpoints::topics::wire::Framing;

const SSE: Framer = Framer {
    framing: Framing::Sse,
    chunked: true,
    multi: false,
};

/// A socket pair, the server end's send buffer small, and an outbox on it.
fn outbox(cap: usize) -> (Arc<Outbox>, TcpStream) {
    outbox_framed(cap, SSE)
}

/// The same with `framer`.
fn outbox_framed(cap: usize, framer: Framer) -> (Arc<Outbox>, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let (server, _) = listener.accept().unwrap();
    SockRef::from(&server).set_send_buffer_size(4096).unwrap();
    let metrics = Arc::new(Metrics::default());
    let outbox = Outbox::new(Arc::new(server), framer, cap, None, metrics);
    (outbox, client)
}

fn message(id: u64, data: &str) -> Arc<Published> {
    on("t", id, data)
}

fn on(topic: &str, id: u64, data: &str) -> Arc<Published> {
    Arc::new(Published {
        id,
        topic: topic.into(),
        time_ms: 0,
        data: data.to_string().into(),
        encoded: Default::default(),
    })
}

fn read_exactly(client: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut buf = vec![0; n];
    client.read_exact(&mut buf).unwrap();
    buf
}

#[test]
fn while_the_thread_owns_the_socket_offers_queue_then_it_writes_them() {
    let (outbox, mut client) = outbox(8);
    assert_eq!(outbox.offer(&[message(1, "a")]), Offer::Taken);
    let mut body = Vec::new();
    assert_eq!(outbox.drain(&mut body, false).unwrap(), Drained::Empty);
    assert_eq!(body, b"f\r\nid: 1\ndata: a\n\n\r\n");
    // Released: the next offer goes straight to the socket.
    assert_eq!(outbox.offer(&[message(2, "b")]), Offer::Taken);
    assert_eq!(
        read_exactly(&mut client, 20),
        b"f\r\nid: 2\ndata: b\n\n\r\n"
    );
    assert_eq!(outbox.sent_directly(), 20);
    assert!(
        outbox.wake().try_recv().is_ok(),
        "woken for the queued one only"
    );
    assert!(outbox.wake().try_recv().is_err());
}

#[test]
fn a_full_socket_keeps_order_half_chunk_first_then_the_queue() {
    let (outbox, mut client) = outbox(1000);
    let _ = outbox.drain(&mut Vec::new(), false).unwrap();
    let big = "x".repeat(3000);
    let mut offered = 0;
    // The client reads nothing: the socket buffer fills, a send goes
    // half-way, and what follows waits.
    while {
        let state = outbox.state();
        state.rest.is_empty() && state.queue.is_empty()
    } {
        offered += 1;
        assert_eq!(outbox.offer(&[message(offered, &big)]), Offer::Taken);
    }
    for _ in 0..3 {
        offered += 1;
        assert_eq!(outbox.offer(&[message(offered, &big)]), Offer::Taken);
    }
    assert!(outbox.wake().try_recv().is_ok());
    // The thread writes the rest and the queue, blocking, while the
    // client reads: every chunk arrives whole and in order.
    let want: Vec<u8> = (1..=offered)
        .flat_map(|id| Framing::Sse.message(&message(id, &big), true).to_vec())
        .collect();
    let len = want.len();
    let reader = std::thread::spawn(move || read_exactly(&mut client, len));
    let stream = Arc::clone(&outbox.stream);
    assert_eq!(outbox.drain(&mut &*stream, false).unwrap(), Drained::Empty);
    assert!(
        reader.join().unwrap() == want,
        "the bytes differ from the chunks in order"
    );
}

#[test]
fn a_full_queue_is_too_slow_and_the_thread_learns_the_last_id() {
    let (outbox, _client) = outbox(2);
    assert_eq!(outbox.offer(&[message(5, "a")]), Offer::Taken);
    assert_eq!(outbox.offer(&[message(6, "b")]), Offer::Taken);
    assert_eq!(outbox.offer(&[message(7, "c")]), Offer::TooSlow);
    let mut body = Vec::new();
    assert_eq!(
        outbox.drain(&mut body, false).unwrap(),
        Drained::Dropped(Some(6))
    );
    assert_eq!(
        body,
        b"f\r\nid: 5\ndata: a\n\n\r\nf\r\nid: 6\ndata: b\n\n\r\n"
    );
}

#[test]
fn too_slow_mid_batch_still_counts_what_the_socket_took() {
    let (outbox, mut client) = outbox(2);
    let _ = outbox.drain(&mut Vec::new(), false).unwrap();
    // One batch: the socket takes the first few, too many are left to queue.
    let batch: Vec<_> = (1..=400).map(|id| message(id, &"x".repeat(2000))).collect();
    assert_eq!(outbox.offer(&batch), Offer::TooSlow);
    let stream = Arc::clone(&outbox.stream);
    let Drained::Dropped(Some(last)) = outbox.drain(&mut &*stream, false).unwrap() else {
        panic!("dropped, with the last id the client has");
    };
    // The client has every message up to `last`, whole, and no other.
    let sent: usize = batch[..last as usize]
        .iter()
        .map(|m| Framing::Sse.message(m, true).len())
        .sum();
    let got = read_exactly(&mut client, sent);
    let ids = String::from_utf8_lossy(&got).matches("id: ").count();
    assert!(
        last >= 1 && ids == last as usize,
        "{ids} messages, last {last}"
    );
    client.set_nonblocking(true).unwrap();
    assert!(
        client.read(&mut [0; 1]).is_err(),
        "nothing past message {last}"
    );
}

#[test]
fn a_client_gone_is_gone() {
    let (outbox, client) = outbox(8);
    let _ = outbox.drain(&mut Vec::new(), false).unwrap();
    drop(client);
    // The first send may still be taken by the kernel; a later one fails.
    let gone = (1..100).any(|id| outbox.offer(&[message(id, "a")]) == Offer::Gone);
    assert!(gone);
}

const MULTI_SSE: Framer = Framer { multi: true, ..SSE };

/// The `id:` lines in `bytes`, in order.
fn ids(bytes: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(bytes);
    let lines = text.lines().filter_map(|l| l.strip_prefix("id: "));
    lines.map(str::to_string).collect()
}

/// An outbox on topics a and b, both at 0, its replay done.
fn multi(cap: usize) -> (Arc<Outbox>, TcpStream) {
    let (outbox, client) = outbox_framed(cap, MULTI_SSE);
    let starts = Positions::new([("a".into(), 0), ("b".into(), 0)]);
    outbox.replayed(None, Some(starts));
    (outbox, client)
}

#[test]
fn queued_and_direct_events_carry_the_cursor_in_write_order() {
    let (outbox, mut client) = multi(8);
    // Queued while the thread owns the socket, then drained.
    assert_eq!(outbox.offer(&[on("a", 1, "x")]), Offer::Taken);
    assert_eq!(outbox.offer(&[on("b", 1, "y")]), Offer::Taken);
    let mut body = Vec::new();
    assert_eq!(outbox.drain(&mut body, false).unwrap(), Drained::Empty);
    assert_eq!(ids(&body), ["a:1,b:0", "a:1,b:1"]);
    let json = "{\"event\":\"message\",\"id\":1,\"topic\":\"a\",\"time\":0,\"data\":\"x\"}";
    let event = format!("id: a:1,b:0\ndata: {json}\n\n");
    assert!(body.starts_with(format!("{:x}\r\n{event}\r\n", event.len()).as_bytes()));
    // Released: sent straight to the socket, two topics in one offer each.
    assert_eq!(
        outbox.offer(&[on("a", 2, "x"), on("a", 3, "x")]),
        Offer::Taken
    );
    assert_eq!(outbox.offer(&[on("b", 2, "y")]), Offer::Taken);
    let sent = outbox.sent_directly() as usize;
    assert_eq!(
        ids(&read_exactly(&mut client, sent)),
        ["a:2,b:1", "a:3,b:1", "a:3,b:2"]
    );
    assert_eq!(outbox.cursor().as_deref(), Some("a:3,b:2"));
}

#[test]
fn a_half_sent_event_is_finished_before_the_next_and_ids_stay_in_order() {
    let (outbox, mut client) = multi(1000);
    let _ = outbox.drain(&mut Vec::new(), false).unwrap();
    let big = "x".repeat(3000);
    let mut offered = Vec::new();
    // The client reads nothing: a send stops inside an event's parts.
    while {
        let state = outbox.state();
        state.rest.is_empty() && state.queue.is_empty()
    } || offered.len() < 12
    {
        let n = offered.len() as u64 + 1;
        let topic = if n.is_multiple_of(2) { "a" } else { "b" };
        offered.push((topic, n.div_ceil(2)));
        assert_eq!(
            outbox.offer(&[on(topic, n.div_ceil(2), &big)]),
            Offer::Taken
        );
    }
    let want: Vec<String> = (1..=offered.len() as u64)
        .map(|n| format!("a:{},b:{}", n / 2, n.div_ceil(2)))
        .collect();
    let reader = std::thread::spawn(move || {
        let mut all = Vec::new();
        let _ = client.read_to_end(&mut all);
        all
    });
    let stream = Arc::clone(&outbox.stream);
    assert_eq!(outbox.drain(&mut &*stream, false).unwrap(), Drained::Empty);
    stream.shutdown(std::net::Shutdown::Both).unwrap();
    let bytes = reader.join().unwrap();
    assert_eq!(ids(&bytes), want);
    // Every event whole: its chunk size covers exactly its bytes.
    let mut rest = &bytes[..];
    while !rest.is_empty() {
        let line_end = rest.windows(2).position(|w| w == b"\r\n").unwrap();
        let size = usize::from_str_radix(std::str::from_utf8(&rest[..line_end]).unwrap(), 16);
        let data = &rest[line_end + 2..line_end + 2 + size.unwrap()];
        assert!(data.starts_with(b"id: ") && data.ends_with(b"\"}\n\n"));
        rest = &rest[line_end + 2 + data.len() + 2..];
    }
}

#[test]
fn once_dropped_other_topics_end_too_and_the_cursor_covers_what_was_written() {
    let (outbox, _client) = multi(2);
    assert_eq!(outbox.offer(&[on("a", 5, "x")]), Offer::Taken);
    assert_eq!(outbox.offer(&[on("b", 6, "y")]), Offer::Taken);
    assert_eq!(outbox.offer(&[on("a", 6, "x")]), Offer::TooSlow);
    assert_eq!(outbox.offer(&[on("b", 7, "y")]), Offer::Gone);
    let mut body = Vec::new();
    assert!(matches!(
        outbox.drain(&mut body, false).unwrap(),
        Drained::Dropped(_)
    ));
    assert_eq!(ids(&body), ["a:5,b:0", "a:5,b:6"]);
    assert_eq!(outbox.cursor().as_deref(), Some("a:5,b:6"));
}
