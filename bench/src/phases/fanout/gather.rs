//! A fan-out rep's crowd from connect to tallies, shared by the fan-out and
//! cluster phases:
//!
//! ```text
//! gather      N subscribers connect (≤ 128 at a time), each to node i % nodes
//! warm_up     "w0", "w1", … until every one has had one
//! timed       window opens on the processes measured; "s{seq}:{nanos}" at the
//!             set rate; drain; window closes; subscribers stop, tallies joined
//! ```

use std::sync::Arc;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use super::subscriber::{self, Crowd, Tally};
use super::summary::Stages;
use super::waits::{drain, warm_up};
use crate::client::publisher::Publisher;
use crate::clock::now_nanos;
use crate::phases::{Settings, gone};
use crate::proc::{Measured, Window};
use crate::stats::count;

/// Subscribers connected and reading, not yet told to stop.
pub struct Gathered {
    crowd: Arc<Crowd>,
    tasks: JoinSet<Tally>,
    stop: watch::Sender<bool>,
    connected: usize,
    notes: Vec<String>,
}

/// What the timed window of one rep saw.
pub struct Timed {
    /// Every subscriber's tally.
    pub tallies: Vec<Tally>,
    /// The server processes' CPU over the window, and the machine's idle share.
    pub measured: Measured,
    /// Subscribers connected.
    pub connected: usize,
    /// Footnotes for every row (fewer connected than asked, …).
    pub notes: Vec<String>,
    /// Footnotes for the windowed rows (a publisher that fell behind, …).
    pub window_notes: Vec<String>,
}

/// Connects `n` subscribers of `crowd` (spread over its nodes).
///
/// # Errors
/// None connected.
pub async fn gather(crowd: Crowd, n: usize) -> Result<Gathered, String> {
    let crowd = Arc::new(crowd);
    let (stop, stopped) = watch::channel(false);
    let (tasks, connected, refused) = connect_all(&crowd, n, stopped).await;
    let notes = shortfall(connected, n, refused)?;
    Ok(Gathered {
        crowd,
        tasks,
        stop,
        connected,
        notes,
    })
}

impl Gathered {
    /// Publishes warm-up messages until every subscriber has had one.
    ///
    /// # Errors
    /// A warm-up publish fails.
    pub async fn warm_up(&mut self, publisher: &mut Publisher) -> Result<(), String> {
        let note = warm_up(publisher, &self.crowd, self.connected).await?;
        self.notes.extend(note);
        Ok(())
    }

    /// Publishes the timed messages at the set rate while measuring `pids`,
    /// drains, then stops every subscriber and gathers their tallies.
    ///
    /// # Errors
    /// A publish fails, or a process measured is gone.
    pub async fn timed(
        self,
        publisher: Publisher,
        pids: &[u32],
        s: &Settings,
        stages: &mut Stages,
    ) -> Result<Timed, String> {
        let (crowd, messages) = (&self.crowd, self.crowd.messages);
        let window = Window::open_all(pids).map_err(gone)?;
        let stamp = |seq| format!("s{seq}:{}", now_nanos()).into_bytes();
        let paced = publisher
            .publish_paced(&crowd.topic, messages, s.rate, stamp)
            .await;
        paced.map_err(|e| format!("publishing: {e}"))?;
        let answered = stages.mark("publish");
        let mut window_notes = Vec::new();
        if answered > s.fanout.mul_f64(1.5) {
            window_notes.push(format!(
                "fell behind: its {messages} publishes ({} s of sending) were all answered only after {:.1} s",
                s.fanout.as_secs(),
                answered.as_secs_f64()
            ));
        }
        drain(crowd, (self.connected * messages) as u64).await;
        let measured = window.close().map_err(gone)?;
        stages.mark("drain");
        let _ = self.stop.send(true);
        let tallies = join(self.tasks).await;
        stages.mark("close");
        Ok(Timed {
            tallies,
            measured,
            connected: self.connected,
            notes: self.notes,
            window_notes,
        })
    }
}

/// A note when fewer than `n` connected; an error when none did.
fn shortfall(connected: usize, n: usize, refused: Option<String>) -> Result<Vec<String>, String> {
    let why = refused.unwrap_or_else(|| "a subscriber task ended without a word".into());
    match connected {
        0 => Err(format!("no subscriber connected: {why}")),
        c if c < n => Ok(vec![format!(
            "only {} of {} subscribers connected: {why}",
            count(c),
            count(n)
        )]),
        _ => Ok(Vec::new()),
    }
}

/// Spawns `n` subscribers and waits until each has connected or failed.
/// Returns the tasks, how many connected, and the first refusal.
async fn connect_all(
    crowd: &Arc<Crowd>,
    n: usize,
    stop: watch::Receiver<bool>,
) -> (JoinSet<Tally>, usize, Option<String>) {
    let (ready, mut results) = mpsc::unbounded_channel();
    let mut tasks = JoinSet::new();
    for i in 0..n {
        tasks.spawn(subscriber::run(
            Arc::clone(crowd),
            i,
            ready.clone(),
            stop.clone(),
        ));
    }
    drop(ready);
    let (mut connected, mut refused) = (0, None);
    // Ends after n answers, or early if a task died without answering.
    for _ in 0..n {
        match results.recv().await {
            Some(Ok(())) => connected += 1,
            Some(Err(e)) => {
                refused.get_or_insert(e);
            }
            None => break,
        }
    }
    (tasks, connected, refused)
}

/// Every subscriber's tally (a panicked task counts as an empty one).
async fn join(mut tasks: JoinSet<Tally>) -> Vec<Tally> {
    let mut tallies = Vec::with_capacity(tasks.len());
    while let Some(joined) = tasks.join_next().await {
        tallies.push(joined.unwrap_or_default());
    }
    tallies
}
