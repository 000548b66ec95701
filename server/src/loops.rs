//! Connection threads: each runs a single-threaded tokio runtime — its own event loop —
//! for the connections given to it, one thread per core.
//!
//! A connection's round trip is a read, a few microseconds in the engine and a write. Under
//! tokio's work-stealing runtime every wake-up of a connection's task may also wake an idle
//! worker to look for work to steal — it finds none, and parks again: two context switches
//! for nothing, on every round trip of a lightly loaded server. With connections pinned to
//! event loops of their own nothing is stolen and nobody is woken to try; a loop sleeps only
//! when none of its connections has anything to do. (pgbench select-only at 8 clients on two
//! cores: 0.36–0.46 context switches of the server per transaction under the work-stealing
//! runtime, see BENCHMARKS.md.) A statement that may take long still runs on the loop's
//! blocking pool, never on the loop itself; the price of pinning is that a brief statement
//! that turns out slow (a point read that misses the row cache and waits for the disk)
//! delays the other connections of its loop, where a work-stealing runtime would have moved
//! them to another worker.
//!
//! Each new connection goes to the loop with the fewest open connections.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::mpsc;

type Job = Pin<Box<dyn Future<Output = ()> + Send>>;

/// The event loops (see the module's documentation).
#[derive(Debug)]
pub struct Loops {
    loops: Vec<Loop>,
}

#[derive(Debug)]
struct Loop {
    jobs: mpsc::UnboundedSender<Job>,
    /// Connections given to this loop and not yet ended.
    open: Arc<AtomicUsize>,
}

impl Loops {
    /// Starts `count` (at least one) event-loop threads.
    pub fn start(count: usize) -> std::io::Result<Self> {
        let loops = (0..count.max(1))
            .map(|n| {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?;
                let (jobs, mut queue) = mpsc::unbounded_channel::<Job>();
                std::thread::Builder::new()
                    .name(format!("omendb-conn-{n}"))
                    .spawn(move || {
                        runtime.block_on(async move {
                            while let Some(job) = queue.recv().await {
                                tokio::spawn(job);
                            }
                        });
                    })?;
                Ok(Loop {
                    jobs,
                    open: Arc::default(),
                })
            })
            .collect::<std::io::Result<_>>()?;
        Ok(Self { loops })
    }

    /// Runs `connection` on the loop with the fewest open connections. `connection` starts
    /// there, so whatever it registers (its socket, timers) belongs to that loop.
    pub fn run<F>(&self, connection: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let least_busy = self
            .loops
            .iter()
            .min_by_key(|l| l.open.load(Ordering::Relaxed));
        // `start` makes at least one.
        let Some(chosen) = least_busy else {
            return tracing::error!("no connection threads: connection dropped");
        };
        /// Counts the connection out however it ends (a panic, or a loop that has stopped).
        struct Ended(Arc<AtomicUsize>);
        impl Drop for Ended {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::Relaxed);
            }
        }
        chosen.open.fetch_add(1, Ordering::Relaxed);
        let ended = Ended(chosen.open.clone());
        let job = Box::pin(async move {
            let _ended = ended;
            connection.await;
        });
        if chosen.jobs.send(job).is_err() {
            tracing::error!("a connection thread has stopped: connection dropped");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    impl Loops {
        /// Each loop's open connections.
        fn open(&self) -> Vec<usize> {
            let open = self.loops.iter();
            open.map(|l| l.open.load(Ordering::Relaxed)).collect()
        }
    }

    /// Each connection runs on the thread of the loop with the fewest open connections, and
    /// is counted out when it ends — a panicking one too, whose loop goes on serving.
    #[test]
    fn connections_join_the_least_busy_loop_and_are_counted_out() {
        let loops = Loops::start(2).unwrap();
        let (names, seen) = std::sync::mpsc::channel();
        let run = |release: tokio::sync::oneshot::Receiver<bool>| {
            let names = names.clone();
            loops.run(async move {
                let thread = std::thread::current().name().map(String::from);
                names.send(thread).unwrap();
                if release.await.unwrap_or(false) {
                    panic!("a connection's panic");
                }
            });
        };
        let mut releases = Vec::new();
        for _ in 0..4 {
            let (release, wait) = tokio::sync::oneshot::channel();
            releases.push(release);
            run(wait);
        }
        assert_eq!(loops.open(), [2, 2]);
        let mut threads: Vec<_> = (0..4).map(|_| seen.recv().unwrap().unwrap()).collect();
        threads.sort();
        assert_eq!(
            threads,
            [
                "omendb-conn-0",
                "omendb-conn-0",
                "omendb-conn-1",
                "omendb-conn-1"
            ]
        );
        // The first (on loop 0) panics; the others end normally.
        for (n, release) in releases.into_iter().enumerate() {
            release.send(n == 0).unwrap();
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        while loops.open() != [0, 0] {
            assert!(Instant::now() < deadline, "still open: {:?}", loops.open());
            std::thread::yield_now();
        }
        let (_keep, wait) = tokio::sync::oneshot::channel();
        run(wait);
        assert_eq!(seen.recv().unwrap().as_deref(), Some("omendb-conn-0"));
        assert_eq!(loops.open(), [1, 0]);
    }
}
