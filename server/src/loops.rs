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
//! With one loop per core of the process (the default), loop `i` takes the connections whose
//! packets arrive on the `i`-th of those cores (`SO_INCOMING_CPU`: for loopback, the core of
//! the client's thread; over a network, the card's receive queue) — unless it already has more
//! than twice the connections of the least busy loop plus one, so that clients on one core
//! still spread. A client thread's connections then share one loop, and the scheduler keeps
//! the two threads on one core, where a round trip between them costs a fraction of one
//! between cores (on the 2-vCPU machine of BENCHMARKS.md, 9 µs against 113 µs for a bare
//! echo): pgbench's select-only at 8 clients went from 64,505–80,818 to 92,649–108,305 TPS.
//! The threads are not pinned (a thread they start — a blocking-pool worker, the analytics
//! runtime's — would inherit the pin). Otherwise (another number of loops, a core unknown) a
//! connection goes to the loop with the fewest open connections.

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
    /// The core whose arriving connections this loop takes, if any.
    core: Option<usize>,
}

impl Loops {
    /// Starts `count` (at least one) event-loop threads; with `count` equal to the cores the
    /// process may run on, each takes the connections arriving on one of them.
    pub fn start(count: usize) -> std::io::Result<Self> {
        let count = count.max(1);
        let cores = allowed_cores().filter(|cores| cores.len() == count);
        let loops = (0..count)
            .map(|n| {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?;
                let (jobs, mut queue) = mpsc::unbounded_channel::<Job>();
                let core = cores.as_ref().map(|cores| cores[n]);
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
                    core,
                })
            })
            .collect::<std::io::Result<_>>()?;
        Ok(Self { loops })
    }

    /// Runs `connection`, whose packets arrive on `incoming_core` (if known), on the loop the
    /// module's documentation says. `connection` starts there, so whatever it registers (its
    /// socket, timers) belongs to that loop.
    pub fn run<F>(&self, incoming_core: Option<usize>, connection: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let open: Vec<usize> = self
            .loops
            .iter()
            .map(|l| l.open.load(Ordering::Relaxed))
            .collect();
        let on_core =
            incoming_core.and_then(|core| self.loops.iter().position(|l| l.core == Some(core)));
        let Some(chosen) = choose(&open, on_core).and_then(|i| self.loops.get(i)) else {
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

/// The loop for a new connection, given each loop's open connections and the loop on the
/// core its packets arrive on: that one, unless it has more than twice the least busy loop's
/// connections plus one; else the least busy (the first of equals). `None` without loops.
fn choose(open: &[usize], on_core: Option<usize>) -> Option<usize> {
    let (least, fewest) = open.iter().copied().enumerate().min_by_key(|&(_, n)| n)?;
    match on_core {
        Some(i) if open.get(i).is_some_and(|&n| n <= 2 * fewest + 1) => Some(i),
        _ => Some(least),
    }
}

/// The core `socket`'s packets last arrived on, if the system says.
pub fn incoming_core(socket: &std::net::TcpStream) -> Option<usize> {
    #[cfg(target_os = "linux")]
    {
        // The kernel answers -1 (here a huge number, matching no loop's core) when it does not know.
        socket2::SockRef::from(socket).cpu_affinity().ok()
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = socket;
        None
    }
}

/// The cores this process may run on, in order (`None` where that cannot be read).
fn allowed_cores() -> Option<Vec<usize>> {
    #[cfg(target_os = "linux")]
    // SAFETY: `set` is a plain bit set, zeroed, that sched_getaffinity fills for the calling
    // thread (pid 0) within the size given; CPU_ISSET only reads it, below CPU_SETSIZE.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return None;
        }
        let cores = (0..libc::CPU_SETSIZE as usize).filter(|&c| libc::CPU_ISSET(c, &set));
        Some(cores.collect())
    }
    #[cfg(not(target_os = "linux"))]
    None
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

    /// A connection joins the loop on its packets' core unless that one has more than twice
    /// the least busy loop's connections plus one.
    #[test]
    fn connections_join_their_cores_loop_unless_it_is_much_busier() {
        assert_eq!(choose(&[], Some(0)), None);
        assert_eq!(choose(&[0, 0], None), Some(0));
        assert_eq!(choose(&[1, 0], None), Some(1));
        assert_eq!(choose(&[0, 0], Some(1)), Some(1));
        assert_eq!(choose(&[3, 1], Some(0)), Some(0));
        assert_eq!(choose(&[4, 1], Some(0)), Some(1));
        assert_eq!(choose(&[1, 0], Some(0)), Some(0));
        assert_eq!(choose(&[2, 0], Some(0)), Some(1));
        assert_eq!(choose(&[0, 0], Some(7)), Some(0));
    }

    /// Each connection runs on the thread of the loop with the fewest open connections, and
    /// is counted out when it ends — a panicking one too, whose loop goes on serving.
    #[test]
    fn connections_join_the_least_busy_loop_and_are_counted_out() {
        let loops = Loops::start(2).unwrap();
        let (names, seen) = std::sync::mpsc::channel();
        let run = |release: tokio::sync::oneshot::Receiver<bool>| {
            let names = names.clone();
            loops.run(None, async move {
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
