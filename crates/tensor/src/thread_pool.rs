//! A persistent thread pool for data-parallel kernels (no rayon).
//!
//! `run(n_tasks, f)` publishes one job; the calling thread and every worker take task indices from
//! one atomic counter until all are handed out, and `run` returns once every task has finished.
//! Workers spin briefly between jobs (back-to-back kernels in a forward pass reuse them with no
//! wake-up latency), then park on a condition variable. Nothing is spawned per job and, once warm,
//! nothing is allocated per job either (job records are recycled).
//!
//! When the caller, out of tasks, has to wait for a worker far longer than its own share took (a
//! worker was descheduled mid-task: more runnable threads than cores), the pool runs the next
//! jobs serially on the caller for a short while before trying the workers again (see
//! [`ThreadPool::stalls`]). Which thread runs a task never changes a result.
//!
//! The closure may borrow the caller's stack (it is `Fn(usize) + Sync`, not `'static`): see the
//! SAFETY notes on [`Job`] for why that is sound. A panic inside a task is caught, the remaining
//! tasks of that job are skipped, and the panic is resumed on the caller of `run`.

use std::any::Any;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long an idle worker waits (checking for a new job) before it parks.
const SPIN_BEFORE_PARK: Duration = Duration::from_micros(200);
/// Pure spins before an idle worker (or a caller waiting for workers) starts yielding between
/// checks (a few microseconds: back-to-back jobs of a forward pass arrive sooner).
const SPINS_BEFORE_YIELD: u32 = 2_000;
/// A job whose caller, once out of tasks, waited longer than this for the workers, and longer
/// than its own share of the job took, stalled: a worker was descheduled in the middle of a task
/// (the machine runs more threads than it has cores).
const STALL_MIN: Duration = Duration::from_micros(50);
/// After a stall, jobs run on the calling thread alone for this long, then in parallel again.
/// On an oversubscribed machine every job would otherwise risk waiting a whole scheduler time
/// slice for a preempted worker (decode ran 3x slower on 2 threads than on 1 that way).
const SERIAL_BACKOFF: Duration = Duration::from_millis(50);

/// The task function with its borrow lifetime erased.
type TaskFn = dyn Fn(usize) + Sync;

/// One published job. Shared with workers through an `Arc`; recycled by the pool once no worker
/// holds it any more (`Arc::get_mut` succeeds).
struct Job {
    /// The caller's closure, lifetime erased.
    ///
    /// SAFETY: the pointer is dereferenced only by a thread that has claimed a task index
    /// `i < n_tasks` from `next`. Every claimed task is counted in `finished` after `f` returns (or
    /// panics), and `run` does not return (so the closure stays alive and borrowed) until `finished
    /// == n_tasks`. Once all indices are claimed, any later claim yields `i >= n_tasks` and never
    /// touches `f`. A worker that still holds this `Job` after `run` returned therefore only reads
    /// the atomics, which the `Arc` keeps alive. `run` only reuses a `Job` through `Arc::get_mut`,
    /// i.e. when no worker holds it.
    f: *const TaskFn,
    n_tasks: usize,
    /// Next task index to hand out.
    next: AtomicUsize,
    /// Number of tasks finished (run, skipped after a panic, or panicked).
    finished: AtomicUsize,
    /// Set by the first panicking task; later tasks are skipped.
    poisoned: AtomicBool,
    /// The first panic payload, resumed on the caller.
    panic: Mutex<Option<Box<dyn Any + Send>>>,
}

// SAFETY: `f` points to a `Sync` closure and is only called under the protocol described on the
// field; all other fields are `Send + Sync` already.
unsafe impl Send for Job {}
// SAFETY: as above.
unsafe impl Sync for Job {}

impl Job {
    fn empty() -> Self {
        let nothing: &'static TaskFn = &|_| {};
        Job {
            f: nothing as *const TaskFn,
            n_tasks: 0,
            next: AtomicUsize::new(0),
            finished: AtomicUsize::new(0),
            poisoned: AtomicBool::new(false),
            panic: Mutex::new(None),
        }
    }

    /// Claims and runs tasks until none are left. Returns when this thread can claim no more.
    fn work(&self) {
        loop {
            let i = self.next.fetch_add(1, Ordering::Relaxed);
            if i >= self.n_tasks {
                return;
            }
            if !self.poisoned.load(Ordering::Relaxed) {
                // SAFETY: `i < n_tasks` was claimed, so the caller of `run` is still waiting for
                // this task to be counted in `finished` and the closure is alive (see `Job::f`).
                let f = unsafe { &*self.f };
                if let Err(payload) = catch_unwind(AssertUnwindSafe(|| f(i))) {
                    self.poisoned.store(true, Ordering::Relaxed);
                    let mut slot = lock(&self.panic);
                    if slot.is_none() {
                        *slot = Some(payload);
                    }
                }
            }
            self.finished.fetch_add(1, Ordering::Release);
        }
    }
}

/// State shared between the pool handle and its workers.
struct Shared {
    /// Bumped (under `current`'s lock) each time a job is published or on shutdown.
    generation: AtomicU64,
    /// The job being run, if any.
    current: Mutex<Option<Arc<Job>>>,
    /// Signalled when `generation` changes.
    wake: Condvar,
    /// Number of workers parked on `wake`.
    sleepers: AtomicUsize,
    shutdown: AtomicBool,
}

/// A fixed set of worker threads plus the calling thread.
pub struct ThreadPool {
    shared: Arc<Shared>,
    workers: Vec<JoinHandle<()>>,
    /// Held while a job is in flight; a nested or concurrent `run` that cannot take it runs its
    /// tasks serially on its own thread instead of waiting (so nesting cannot deadlock).
    busy: AtomicBool,
    /// Time origin of `serial_until`.
    epoch: Instant,
    /// Until when (ns since `epoch`) jobs run serially after a stall.
    serial_until: AtomicU64,
    /// Stalls seen (see [`STALL_MIN`]).
    stalls: AtomicU64,
    /// Recycled job records (see `Job`).
    spare: Mutex<Vec<Arc<Job>>>,
}

impl std::fmt::Debug for ThreadPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ThreadPool")
            .field("n_threads", &self.n_threads())
            .finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A poisoned lock only means a panic happened while it was held; the data (an Option or a Vec
    // of recyclable jobs) is still consistent.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl ThreadPool {
    /// A pool of `n_threads` threads in total, the caller of `run` included (so `n_threads - 1`
    /// workers are spawned; 0 is treated as 1). Panics only if the OS refuses to spawn a thread.
    pub fn new(n_threads: usize) -> Self {
        let shared = Arc::new(Shared {
            generation: AtomicU64::new(0),
            current: Mutex::new(None),
            wake: Condvar::new(),
            sleepers: AtomicUsize::new(0),
            shutdown: AtomicBool::new(false),
        });
        let workers = (1..n_threads.max(1))
            .map(|i| {
                let shared = Arc::clone(&shared);
                std::thread::Builder::new()
                    .name(format!("inferno-worker-{i}"))
                    .spawn(move || worker_loop(&shared))
                    .unwrap_or_else(|e| panic!("cannot spawn thread pool worker {i}: {e}"))
            })
            .collect();
        ThreadPool {
            shared,
            workers,
            busy: AtomicBool::new(false),
            epoch: Instant::now(),
            serial_until: AtomicU64::new(0),
            stalls: AtomicU64::new(0),
            // Enough records that one is always free: each worker holds at most one (the job it
            // last saw) and the caller one, so steady-state `run` never allocates, even when a
            // descheduled worker keeps an old record for a while.
            spare: Mutex::new((0..=n_threads).map(|_| Arc::new(Job::empty())).collect()),
        }
    }

    /// A pool sized to the machine's available parallelism.
    pub fn with_available_parallelism() -> Self {
        ThreadPool::new(std::thread::available_parallelism().map_or(1, |n| n.get()))
    }

    /// Total threads that work on a job (workers + the caller).
    pub fn n_threads(&self) -> usize {
        self.workers.len() + 1
    }

    /// Runs `f(0)`, ..., `f(n_tasks - 1)`, each exactly once, spread over the pool and the calling
    /// thread; returns when all have finished. Task order and thread assignment are unspecified.
    /// If a task panics, the tasks not yet started are skipped and the first panic is resumed here.
    pub fn run<F: Fn(usize) + Sync>(&self, n_tasks: usize, f: F) {
        if n_tasks == 0 {
            return;
        }
        if n_tasks == 1 || self.workers.is_empty() || self.backing_off() || !self.try_begin() {
            // Serial: one task, no workers, a recent stall, or a nested / concurrent run (the
            // pool is busy).
            for i in 0..n_tasks {
                f(i);
            }
            return;
        }
        let _busy = BusyGuard(&self.busy);
        let f_ref: &(dyn Fn(usize) + Sync + '_) = &f;
        // SAFETY: only the lifetime is erased (same fat-pointer layout); see `Job::f` for why no
        // thread calls it after this function returns.
        let f_ptr: *const TaskFn =
            unsafe { std::mem::transmute(f_ref as *const (dyn Fn(usize) + Sync + '_)) };

        let mut job = self.take_spare();
        {
            let j =
                Arc::get_mut(&mut job).unwrap_or_else(|| unreachable!("spare jobs are unshared"));
            j.f = f_ptr;
            j.n_tasks = n_tasks;
            *j.next.get_mut() = 0;
            *j.finished.get_mut() = 0;
            *j.poisoned.get_mut() = false;
            *j.panic.get_mut().unwrap_or_else(|e| e.into_inner()) = None;
        }
        {
            let mut cur = lock(&self.shared.current);
            *cur = Some(Arc::clone(&job));
            self.shared.generation.fetch_add(1, Ordering::Release);
            if self.shared.sleepers.load(Ordering::Relaxed) > 0 {
                self.shared.wake.notify_all();
            }
        }

        let start = Instant::now();
        job.work();
        let own = start.elapsed();
        let mut spins = 0u32;
        while job.finished.load(Ordering::Acquire) < n_tasks {
            if spins < SPINS_BEFORE_YIELD {
                std::hint::spin_loop();
                spins += 1;
            } else {
                std::thread::yield_now();
            }
        }
        let waited = start.elapsed().saturating_sub(own);
        if waited > STALL_MIN && waited > own {
            self.stalls.fetch_add(1, Ordering::Relaxed);
            let until = self.epoch.elapsed().saturating_add(SERIAL_BACKOFF);
            self.serial_until.store(
                u64::try_from(until.as_nanos()).unwrap_or(u64::MAX),
                Ordering::Relaxed,
            );
        }
        *lock(&self.shared.current) = None;
        let payload = lock(&job.panic).take();
        lock(&self.spare).push(job);
        if let Some(p) = payload {
            resume_unwind(p);
        }
    }

    /// How many jobs stalled on a descheduled worker so far (each one switched the pool to serial
    /// jobs for a while).
    pub fn stalls(&self) -> u64 {
        self.stalls.load(Ordering::Relaxed)
    }

    /// Whether a recent stall keeps jobs on the calling thread.
    fn backing_off(&self) -> bool {
        let until = self.serial_until.load(Ordering::Relaxed);
        until != 0 && (self.epoch.elapsed().as_nanos() as u64) < until
    }

    fn try_begin(&self) -> bool {
        self.busy
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }

    /// A job record no worker holds, recycled when possible.
    fn take_spare(&self) -> Arc<Job> {
        let mut spare = lock(&self.spare);
        if let Some(pos) = spare.iter_mut().position(|j| Arc::get_mut(j).is_some()) {
            return spare.swap_remove(pos);
        }
        drop(spare);
        Arc::new(Job::empty())
    }
}

/// Releases `ThreadPool::busy` on return or unwind.
struct BusyGuard<'a>(&'a AtomicBool);

impl Drop for BusyGuard<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

impl Drop for ThreadPool {
    fn drop(&mut self) {
        {
            let _cur = lock(&self.shared.current);
            self.shared.shutdown.store(true, Ordering::Release);
            self.shared.generation.fetch_add(1, Ordering::Release);
            self.shared.wake.notify_all();
        }
        for w in self.workers.drain(..) {
            // Worker bodies catch task panics, so a join error is not expected; nothing to do then.
            let _ = w.join();
        }
    }
}

fn worker_loop(shared: &Shared) {
    // The generation the pool was created with (a worker that starts late must still notice every
    // job and the shutdown published before it ran, so it must not read the current value here).
    let mut seen = 0;
    loop {
        // Spin, then park, until the generation changes.
        let start = Instant::now();
        let mut spins = 0u32;
        while shared.generation.load(Ordering::Acquire) == seen {
            std::hint::spin_loop();
            spins = spins.wrapping_add(1);
            if spins > SPINS_BEFORE_YIELD {
                // Past the first few microseconds, give the core to any other runnable thread
                // between checks (the caller, on an oversubscribed machine); free otherwise.
                std::thread::yield_now();
            }
            if spins.is_multiple_of(256) && start.elapsed() > SPIN_BEFORE_PARK {
                let mut cur = lock(&shared.current);
                shared.sleepers.fetch_add(1, Ordering::Relaxed);
                while shared.generation.load(Ordering::Acquire) == seen
                    && !shared.shutdown.load(Ordering::Acquire)
                {
                    cur = shared.wake.wait(cur).unwrap_or_else(|e| e.into_inner());
                }
                shared.sleepers.fetch_sub(1, Ordering::Relaxed);
                break;
            }
        }
        if shared.shutdown.load(Ordering::Acquire) {
            return;
        }
        let job = {
            let cur = lock(&shared.current);
            seen = shared.generation.load(Ordering::Acquire);
            cur.clone()
        };
        if let Some(job) = job {
            job.work();
        }
    }
}
