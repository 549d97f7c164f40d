//! Several topics on one connection, from the client's side: the cursor a
//! client keeps by hand (NDJSON and WebSocket objects name their topic and
//! id), and multi-topic SSE events, whose `id:` is the server's composite
//! cursor and whose `data:` is the message's JSON object.
//!
//! ```text
//! id: a:41,b:7\ndata: {"event":"message","id":41,"topic":"a",…}\n\n
//!   → TopicEvent { id: Some("a:41,b:7"), event: None, json: {…} }
//! Positions::new(&["a", "b"], 0).seen("a", 41).cursor() == "a:41,b:0"
//! ```

use serde_json::Value;

use super::streams::StreamReader;

/// Each topic's last id, in the order of the URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Positions(pub Vec<(String, u64)>);

impl Positions {
    /// Every topic at `start`.
    pub fn new(topics: &[&str], start: u64) -> Positions {
        Positions(topics.iter().map(|t| (t.to_string(), start)).collect())
    }

    /// Notes message `id` of `topic`; checks it is the next one expected.
    pub fn seen(&mut self, topic: &str, id: u64) -> &mut Positions {
        let (_, last) = self
            .0
            .iter_mut()
            .find(|(t, _)| t == topic)
            .unwrap_or_else(|| panic!("a message of {topic}, not subscribed"));
        assert_eq!(id, *last + 1, "{topic}: {id} after {last}");
        *last = id;
        self
    }

    /// `a:41,b:7`.
    pub fn cursor(&self) -> String {
        let pairs: Vec<String> = self.0.iter().map(|(t, id)| format!("{t}:{id}")).collect();
        pairs.join(",")
    }

    /// The last id of `topic`.
    pub fn of(&self, topic: &str) -> u64 {
        self.0.iter().find(|(t, _)| t == topic).expect("a topic").1
    }
}

/// One SSE event of a multi-topic stream.
#[derive(Debug, Clone, PartialEq)]
pub struct TopicEvent {
    /// The `id:` line as sent.
    pub id: Option<String>,
    /// The `event:` field; `None` for a message.
    pub event: Option<String>,
    /// The `data:` line, parsed.
    pub json: Value,
}

/// The next SSE event (comments skipped), its id kept as text; `None` at
/// the end of the body.
pub fn topic_event(r: &mut StreamReader) -> Option<TopicEvent> {
    loop {
        let block = r.raw_event()?;
        if block.lines().all(|line| line.starts_with(':')) {
            continue;
        }
        let (mut id, mut event, mut data) = (None, None, None);
        for line in block.lines() {
            match line.split_once(": ") {
                Some(("id", v)) => id = Some(v.to_string()),
                Some(("event", v)) => event = Some(v.to_string()),
                Some(("data", v)) => {
                    assert!(data.is_none(), "one data line: {block:?}");
                    data = Some(v.to_string());
                }
                _ => panic!("unexpected SSE line {line:?} in {block:?}"),
            }
        }
        let data = data.expect("a data line");
        let json = serde_json::from_str(&data).expect("data is a JSON object");
        return Some(TopicEvent { id, event, json });
    }
}

/// `(topic, id, data)` of a `{"event":"message",...}` object.
pub fn topic_message(v: &Value) -> (String, u64, String) {
    assert_eq!(v["event"], "message", "{v}");
    let topic = v["topic"].as_str().expect("a topic").to_string();
    let id = v["id"].as_u64().expect("numeric id");
    (
        topic,
        id,
        v["data"].as_str().expect("string data").to_string(),
    )
}
