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
//!
//! A loop that serves one connection only may run that connection's short committing
//! statements (COMMIT, an INSERT of VALUES outside a block) itself — see [`alone`]: blocking
//! there for the storage sync delays no one, and saves the two wake-ups of a hand-off to the
//! blocking pool and back (pgbench's TPC-B-like script at one client commits once per seven
//! round trips). While it does, the loop counts as busy and new connections go elsewhere.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

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
    state: Arc<LoopState>,
    /// The core whose arriving connections this loop takes, if any.
    core: Option<usize>,
}

/// What the accept loop and a loop's own thread both read.
#[derive(Debug, Default)]
struct LoopState {
    /// Connections given to this loop and not yet ended.
    open: AtomicUsize,
    /// The loop's thread is running a statement that may block (see [`alone`]).
    busy: AtomicBool,
}

thread_local! {
    /// On a loop's thread, that loop's state.
    static CURRENT: RefCell<Option<Arc<LoopState>>> = const { RefCell::new(None) };
}

/// On a loop's thread whose loop serves one connection only (the caller's): marks the loop
/// busy until the guard is dropped, so that a statement that may block — wait for the commit
/// lock, for a storage sync — can run right here without delaying another connection; new
/// connections go to other loops meanwhile. `None` elsewhere, or with other connections.
pub fn alone() -> Option<Busy> {
    let state = CURRENT.with(|current| current.borrow().clone())?;
    // Busy first, then the count: a connection being placed counts itself in first, then
    // reads `busy` (see `Loops::run`), so one of the two sees the other (sequentially
    // consistent on both sides).
    state.busy.store(true, Ordering::SeqCst);
    if state.open.load(Ordering::SeqCst) == 1 {
        return Some(Busy(state));
    }
    state.busy.store(false, Ordering::SeqCst);
    None
}

/// A loop marked busy by [`alone`], until dropped.
#[derive(Debug)]
pub struct Busy(Arc<LoopState>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.busy.store(false, Ordering::SeqCst);
    }
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
                let state = Arc::<LoopState>::default();
                let own = state.clone();
                std::thread::Builder::new()
                    .name(format!("omendb-conn-{n}"))
                    .spawn(move || {
                        CURRENT.with(|current| *current.borrow_mut() = Some(own));
                        runtime.block_on(async move {
                            while let Some(job) = queue.recv().await {
                                tokio::spawn(job);
                            }
                        });
                    })?;
                Ok(Loop { jobs, state, core })
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
            .map(|l| l.state.open.load(Ordering::Relaxed))
            .collect();
        let on_core =
            incoming_core.and_then(|core| self.loops.iter().position(|l| l.core == Some(core)));
        let busy: Vec<bool> = self
            .loops
            .iter()
            .map(|l| l.state.busy.load(Ordering::SeqCst))
            .collect();
        let Some(mut chosen) = choose(&open, &busy, on_core).and_then(|i| self.loops.get(i)) else {
            return tracing::error!("no connection threads: connection dropped");
        };
        /// Counts the connection out however it ends (a panic, or a loop that has stopped).
        struct Ended(Arc<LoopState>);
        impl Drop for Ended {
            fn drop(&mut self) {
                self.0.open.fetch_sub(1, Ordering::SeqCst);
            }
        }
        chosen.state.open.fetch_add(1, Ordering::SeqCst);
        // The loop's one connection started a blocking statement meanwhile: another loop.
        if chosen.state.busy.load(Ordering::SeqCst) {
            let idle = self
                .loops
                .iter()
                .filter(|l| !l.state.busy.load(Ordering::SeqCst));
            if let Some(other) = idle.min_by_key(|l| l.state.open.load(Ordering::Relaxed)) {
                chosen.state.open.fetch_sub(1, Ordering::SeqCst);
                other.state.open.fetch_add(1, Ordering::SeqCst);
                chosen = other;
            }
        }
        let ended = Ended(chosen.state.clone());
        let job = Box::pin(async move {
            let _ended = ended;
            connection.await;
        });
        if chosen.jobs.send(job).is_err() {
            tracing::error!("a connection thread has stopped: connection dropped");
        }
    }
}

/// The loop for a new connection, given each loop's open connections, whether it is busy
/// (see [`alone`]) and the loop on the core its packets arrive on: that one, unless it is busy
/// or has more than twice the least busy loop's connections plus one; else the one with the
/// fewest connections among those not busy (the first of equals). When every loop is busy,
/// none is avoided. `None` without loops.
fn choose(open: &[usize], busy: &[bool], on_core: Option<usize>) -> Option<usize> {
    let is_busy = |i: usize| busy.get(i).copied().unwrap_or(false);
    let all_busy = (0..open.len()).all(is_busy);
    let avoid = |i: usize| !all_busy && is_busy(i);
    let candidates = open.iter().copied().enumerate();
    let (least, fewest) = candidates
        .filter(|&(i, _)| !avoid(i))
        .min_by_key(|&(_, n)| n)?;
    match on_core {
        Some(i) if !avoid(i) && open.get(i).is_some_and(|&n| n <= 2 * fewest + 1) => Some(i),
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
            open.map(|l| l.state.open.load(Ordering::Relaxed)).collect()
        }
    }

    /// A connection joins the loop on its packets' core unless that one has more than twice
    /// the least busy loop's connections plus one.
    #[test]
    fn connections_join_their_cores_loop_unless_it_is_much_busier() {
        let idle = [false; 2];
        assert_eq!(choose(&[], &[], Some(0)), None);
        assert_eq!(choose(&[0, 0], &idle, None), Some(0));
        assert_eq!(choose(&[1, 0], &idle, None), Some(1));
        assert_eq!(choose(&[0, 0], &idle, Some(1)), Some(1));
        assert_eq!(choose(&[3, 1], &idle, Some(0)), Some(0));
        assert_eq!(choose(&[4, 1], &idle, Some(0)), Some(1));
        assert_eq!(choose(&[1, 0], &idle, Some(0)), Some(0));
        assert_eq!(choose(&[2, 0], &idle, Some(0)), Some(1));
        assert_eq!(choose(&[0, 0], &idle, Some(7)), Some(0));
    }

    /// A busy loop (one connection blocked in a statement) takes no new connection while
    /// another loop does not — whatever its core or count — unless every loop is busy.
    #[test]
    fn connections_avoid_a_busy_loop() {
        assert_eq!(choose(&[1, 5], &[true, false], Some(0)), Some(1));
        assert_eq!(choose(&[1, 5], &[true, false], None), Some(1));
        assert_eq!(choose(&[1, 0], &[false, true], Some(1)), Some(0));
        assert_eq!(choose(&[1, 2], &[true, true], Some(1)), Some(1));
        assert_eq!(choose(&[3, 2], &[true, true], None), Some(1));
    }

    /// `alone` holds on a loop's thread while its one connection is the caller, and marks
    /// the loop busy until the guard drops; with a second connection, or off a loop's thread,
    /// there is no guard.
    #[test]
    fn a_connection_alone_on_its_loop_may_block_it() {
        assert!(alone().is_none(), "not a loop's thread");
        let loops = Loops::start(1).unwrap();
        let (report, seen) = std::sync::mpsc::channel();
        let (release, wait) = tokio::sync::oneshot::channel::<()>();
        let first = report.clone();
        loops.run(None, async move {
            let guard = alone();
            first.send(("alone", guard.is_some())).unwrap();
            first.send(("busy while held", busy_now())).unwrap();
            drop(guard);
            first.send(("busy after", busy_now())).unwrap();
            let _ = wait.await;
            first.send(("alone with two", alone().is_some())).unwrap();
        });
        let answers: Vec<_> = (0..3).map(|_| seen.recv().unwrap()).collect();
        assert_eq!(
            answers,
            [
                ("alone", true),
                ("busy while held", true),
                ("busy after", false)
            ]
        );
        let (_keep, second) = tokio::sync::oneshot::channel::<()>();
        loops.run(None, async move {
            let _ = second.await;
        });
        assert_eq!(loops.open(), [2]);
        release.send(()).unwrap();
        assert_eq!(seen.recv().unwrap(), ("alone with two", false));
    }

    /// Whether the calling loop's thread counts its loop as busy.
    fn busy_now() -> bool {
        CURRENT.with(|c| c.borrow().as_ref().unwrap().busy.load(Ordering::SeqCst))
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
