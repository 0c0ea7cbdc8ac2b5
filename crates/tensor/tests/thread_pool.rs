//! The persistent pool: every task runs exactly once, borrowed data works, panics propagate.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use tensor::ThreadPool;

#[test]
fn every_task_runs_exactly_once_over_many_runs() {
    let pool = ThreadPool::new(4);
    assert_eq!(pool.n_threads(), 4);
    for n_tasks in [0usize, 1, 2, 3, 7, 64, 1000] {
        for _ in 0..50 {
            let hits: Vec<AtomicUsize> = (0..n_tasks).map(|_| AtomicUsize::new(0)).collect();
            pool.run(n_tasks, |i| {
                hits[i].fetch_add(1, Ordering::Relaxed);
            });
            assert!(
                hits.iter().all(|h| h.load(Ordering::Relaxed) == 1),
                "n_tasks {n_tasks}"
            );
        }
    }
}

#[test]
fn tasks_write_borrowed_stack_data() {
    let pool = ThreadPool::new(3);
    let input: Vec<u64> = (0..10_000).collect();
    let sums: Vec<Mutex<u64>> = (0..10).map(|_| Mutex::new(0)).collect();
    for _ in 0..100 {
        for s in &sums {
            *s.lock().unwrap() = 0;
        }
        pool.run(10, |t| {
            let part: u64 = input[t * 1000..(t + 1) * 1000].iter().sum();
            *sums[t].lock().unwrap() = part;
        });
        let total: u64 = sums.iter().map(|s| *s.lock().unwrap()).sum();
        assert_eq!(total, 10_000 * 9_999 / 2);
    }
}

#[test]
fn work_spreads_over_threads() {
    let pool = ThreadPool::new(2);
    let threads = Mutex::new(std::collections::HashSet::new());
    // Tasks long enough that the worker (spinning or woken) takes some of them.
    pool.run(64, |_| {
        threads.lock().unwrap().insert(std::thread::current().id());
        std::thread::sleep(std::time::Duration::from_millis(2));
    });
    assert_eq!(threads.lock().unwrap().len(), 2);
}

#[test]
fn panic_in_a_task_propagates_and_the_pool_still_works() {
    let pool = ThreadPool::new(3);
    for round in 0..20 {
        let ran = AtomicUsize::new(0);
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            pool.run(100, |i| {
                ran.fetch_add(1, Ordering::Relaxed);
                if i == 37 {
                    panic!("task {i} failed in round {round}");
                }
            });
        }));
        let payload = result.expect_err("the panic must reach the caller");
        let msg = payload
            .downcast_ref::<String>()
            .cloned()
            .unwrap_or_default();
        assert!(msg.contains("task 37 failed"), "payload: {msg:?}");
        // The pool is usable afterwards.
        let count = AtomicUsize::new(0);
        pool.run(50, |_| {
            count.fetch_add(1, Ordering::Relaxed);
        });
        assert_eq!(count.load(Ordering::Relaxed), 50);
    }
}

#[test]
fn nested_and_concurrent_runs_do_not_deadlock() {
    let pool = ThreadPool::new(2);
    let total = AtomicUsize::new(0);
    pool.run(8, |_| {
        pool.run(8, |_| {
            total.fetch_add(1, Ordering::Relaxed);
        });
    });
    assert_eq!(total.load(Ordering::Relaxed), 64);

    let total = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| {
                for _ in 0..200 {
                    pool.run(16, |_| {
                        total.fetch_add(1, Ordering::Relaxed);
                    });
                }
            });
        }
    });
    assert_eq!(total.load(Ordering::Relaxed), 3 * 200 * 16);
}

#[test]
fn parked_workers_wake_up() {
    let pool = ThreadPool::new(2);
    for _ in 0..5 {
        // Long enough for the worker to stop spinning and park.
        std::thread::sleep(std::time::Duration::from_millis(5));
        let threads = Mutex::new(std::collections::HashSet::new());
        pool.run(32, |_| {
            threads.lock().unwrap().insert(std::thread::current().id());
            std::thread::sleep(std::time::Duration::from_millis(1));
        });
        assert_eq!(threads.lock().unwrap().len(), 2);
    }
}

#[test]
fn single_thread_pool_runs_inline() {
    let pool = ThreadPool::new(1);
    let me = std::thread::current().id();
    let count = AtomicUsize::new(0);
    pool.run(10, |_| {
        assert_eq!(std::thread::current().id(), me);
        count.fetch_add(1, Ordering::Relaxed);
    });
    assert_eq!(count.load(Ordering::Relaxed), 10);
}

#[test]
fn pools_dropped_right_after_creation_shut_down() {
    // Workers that have not started yet when the pool is dropped must still see the shutdown.
    for i in 0..200 {
        let pool = ThreadPool::new(3);
        if i % 2 == 0 {
            pool.run(4, |_| {});
        }
        drop(pool);
    }
}

#[test]
fn speed_sanity_no_asserts() {
    // Round-trip cost of a job on warm workers (back-to-back runs, as in a forward pass).
    let pool = ThreadPool::with_available_parallelism();
    let counter = AtomicUsize::new(0);
    for _ in 0..1000 {
        pool.run(pool.n_threads() * 2, |_| {
            counter.fetch_add(1, Ordering::Relaxed);
        });
    }
    let reps = 20_000;
    let t = std::time::Instant::now();
    for _ in 0..reps {
        pool.run(pool.n_threads() * 2, |_| {
            counter.fetch_add(1, Ordering::Relaxed);
        });
    }
    eprintln!(
        "pool.run with {} threads, {} trivial tasks: {:.2} µs per run",
        pool.n_threads(),
        pool.n_threads() * 2,
        t.elapsed().as_secs_f64() * 1e6 / reps as f64
    );
}

#[test]
fn a_stalled_worker_sends_the_next_jobs_to_the_caller_for_a_while() {
    let pool = ThreadPool::new(2);
    let main = std::thread::current().id();
    // A task on the worker takes 20 ms, the caller's 2 ms: the caller waits (a stall).
    let mut tries = 0;
    while pool.stalls() == 0 {
        tries += 1;
        assert!(tries < 50, "no stall seen");
        pool.run(2, |_| {
            let ms = if std::thread::current().id() == main {
                2
            } else {
                20
            };
            std::thread::sleep(std::time::Duration::from_millis(ms));
        });
    }
    // Right after: every task on the calling thread.
    let threads = Mutex::new(std::collections::HashSet::new());
    pool.run(16, |_| {
        threads.lock().unwrap().insert(std::thread::current().id());
    });
    assert_eq!(*threads.lock().unwrap(), [main].into_iter().collect());
    // After the back-off the workers are used again.
    std::thread::sleep(std::time::Duration::from_millis(80));
    let threads = Mutex::new(std::collections::HashSet::new());
    pool.run(64, |_| {
        threads.lock().unwrap().insert(std::thread::current().id());
        std::thread::sleep(std::time::Duration::from_millis(1));
    });
    assert_eq!(threads.lock().unwrap().len(), 2);
}
