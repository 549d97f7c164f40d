//! The outbox against a real socket pair: what reaches the client, byte
//! for byte, in which order, and when the subscriber is too slow or gone.

use std::io::Read;
use std::net::TcpListener;
use std::time::Duration;

use socket2::SockRef;

use super::*;

/// A socket pair, the server end's send buffer small, and an outbox on it.
fn outbox(cap: usize) -> (Arc<Outbox>, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let (server, _) = listener.accept().unwrap();
    SockRef::from(&server).set_send_buffer_size(4096).unwrap();
    let metrics = Arc::new(Metrics::default());
    let outbox = Outbox::new(Arc::new(server), (Framing::Sse, true), cap, None, metrics);
    (outbox, client)
}

fn message(id: u64, data: &str) -> Arc<Published> {
    Arc::new(Published {
        id,
        topic: "t".into(),
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
        state.rest.is_none() && state.queue.is_empty()
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
fn a_client_gone_is_gone() {
    let (outbox, client) = outbox(8);
    let _ = outbox.drain(&mut Vec::new(), false).unwrap();
    drop(client);
    // The first send may still be taken by the kernel; a later one fails.
    let gone = (1..100).any(|id| outbox.offer(&[message(id, "a")]) == Offer::Gone);
    assert!(gone);
}
