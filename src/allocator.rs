//! The C library's allocator, set for thousands of threads that come and
//! go: one arena, and freed memory given back after a burst of connections
//! closes. (This is the program's only `unsafe`, so it lives beside `main`,
//! outside the library, which forbids it.)
//!
//! glibc gives each thread that allocates an arena of its own (up to 8 per
//! core), and memory freed inside an arena stays with the process. With
//! one thread per connection, every arena fills with connection buffers,
//! and when the connections close the holes stay resident:
//!
//! ```text
//! 5,000 idle WebSockets opened, then closed       RSS at start   open      closed
//!   glibc as it comes (16 arenas)                   3.4 MiB    129 MiB   74.5 MiB
//!   + malloc_trim after the burst                                        59 MiB   (arena tops stay)
//!   one arena (M_ARENA_MAX = 1) + malloc_trim                            8.5 MiB
//! ```
//!
//! One arena costs nothing measurable here: each thread keeps a small cache
//! of freed blocks (tcache), so the arena's lock is rarely taken. WebSocket
//! echo with 50 clients made 94,075 round trips/s with 16 arenas and 96,348
//! with one, in the same run.

use std::sync::Arc;
use std::thread;
use std::time::Duration;

use log::debug;
use tinypush::threads::ThreadBudget;

/// How often the `allocator` thread looks at the thread count: often, so
/// a burst's memory goes back soon after its threads end.
const CHECK_EVERY: Duration = Duration::from_secs(1);
/// Threads ended since the last look's high mark that make a burst.
const BURST: usize = 1000;

/// One arena for every thread. Call first, before any thread starts.
pub fn one_arena() {
    #[cfg(target_env = "gnu")]
    // SAFETY: mallopt only changes a setting of the allocator; called
    // before any other thread exists, nothing allocates meanwhile.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

/// Starts the `allocator` thread: every second it adds up how many
/// threads ended (the most running since it last looked, less those running
/// now), and once that reaches [`BURST`], gives the freed memory back to
/// the system (`malloc_trim`); then again when the burst is over, for the
/// threads that ended after.
///
/// # Errors
/// When the thread cannot be spawned.
pub fn trim_after_bursts(threads: Arc<ThreadBudget>) -> std::io::Result<()> {
    thread::Builder::new()
        .name("allocator".into())
        .stack_size(64 * 1024)
        .spawn(move || {
            // Threads ended since the last trim; after a trim mid-burst, the
            // tail of the burst is given back once no more threads end.
            let (mut ended, mut tail) = (0, false);
            loop {
                thread::sleep(CHECK_EVERY);
                let (peak, used) = threads.take_peak();
                let just_ended = peak - used;
                ended += just_ended;
                let tail_over = tail && just_ended == 0;
                if ended >= BURST || (tail_over && ended > 0) {
                    debug!("{ended} threads ended: giving freed memory back");
                    give_back();
                    tail = ended >= BURST;
                    ended = 0;
                } else if tail_over {
                    tail = false;
                }
            }
        })?;
    Ok(())
}

/// Returns the allocator's free pages to the system.
fn give_back() {
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim takes the allocator's own locks; it has no
    // requirement on its caller.
    unsafe {
        libc::malloc_trim(0);
    }
}
