//! Memory bandwidth of this machine, to put decode speed against: the "bandwidth roof".
//!
//!   cargo run --release -p tensor --example copy_bandwidth -- [THREADS] [MIB]
//!
//! THREADS (default 2) threads each stream their own contiguous part of one buffer of MIB MiB
//! (default 1024, far larger than the L3 cache, so the bytes come from DRAM), all starting
//! together at a barrier; a pass ends when the last thread is done. Two measurements:
//!
//! - **read**: every byte of the buffer is loaded once (summed into a register), nothing is
//!   written. This is what decode does with the weights, so it is the roof:
//!   `roof tokens/s = read GB/s ÷ weight bytes read per token`, and a decode run reaches
//!   `(tokens/s × weight bytes per token) ÷ read GB/s` of it.
//! - **copy**: `memcpy` from the first half of the buffer into the second half, reported as bytes
//!   read + bytes written per second (the STREAM "copy" convention is read + write).
//!
//! Prints the best and the median pass of each in wall time (a shared machine steals passes; the
//! best is the closest to what the hardware does), and the best in thread CPU time (bytes ÷ the
//! slowest thread's CPU time: what the threads get while they actually run, robust when other
//! processes take the cores, as `matmul_bench` measures).

use std::sync::{Barrier, Mutex};
use std::time::Instant;

#[path = "common/cpu_time.rs"]
mod cpu_time;
use cpu_time::thread_cpu;

/// Sum of 64-bit words of `b`, 8 independent lanes so loads are not serialized on one add chain
/// (the compiler turns this into wide vector loads).
fn read_all(b: &[u64]) -> u64 {
    let mut acc = [0u64; 8];
    for c in b.chunks_exact(8) {
        for (a, v) in acc.iter_mut().zip(c) {
            *a = a.wrapping_add(*v);
        }
    }
    acc.iter().fold(0, |s, v| s.wrapping_add(*v))
}

/// Runs `f(thread, part)` on `threads` threads at once over equal parts of `buf`, `reps` times;
/// returns the wall time of each pass and the slowest thread's CPU time of each pass, in seconds,
/// both sorted.
fn passes<F: Fn(usize, &mut [u64]) + Sync>(
    buf: &mut [u64],
    threads: usize,
    reps: usize,
    f: F,
) -> (Vec<f64>, Vec<f64>) {
    let part = buf.len() / threads;
    let mut times = Vec::with_capacity(reps);
    let mut cpu = Vec::with_capacity(reps);
    for _ in 0..reps {
        let barrier = Barrier::new(threads);
        let t0 = Mutex::new(None::<Instant>);
        let slowest = Mutex::new(0f64);
        std::thread::scope(|s| {
            for (i, chunk) in buf.chunks_mut(part).take(threads).enumerate() {
                let (barrier, f, t0, slowest) = (&barrier, &f, &t0, &slowest);
                s.spawn(move || {
                    if barrier.wait().is_leader() {
                        *t0.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
                    }
                    let c = thread_cpu();
                    f(i, chunk);
                    let c = thread_cpu() - c;
                    let mut m = slowest.lock().unwrap_or_else(|p| p.into_inner());
                    *m = m.max(c);
                });
            }
        });
        let start = t0.into_inner().unwrap_or_else(|p| p.into_inner());
        if let Some(start) = start {
            times.push(start.elapsed().as_secs_f64());
        }
        cpu.push(slowest.into_inner().unwrap_or_else(|p| p.into_inner()));
    }
    times.sort_by(|a, b| a.total_cmp(b));
    cpu.sort_by(|a, b| a.total_cmp(b));
    (times, cpu)
}

fn report(what: &str, bytes: usize, (times, cpu): &(Vec<f64>, Vec<f64>)) {
    let gbs = |t: f64| bytes as f64 / t / 1e9;
    let (best, med) = (times[0], times[times.len() / 2]);
    println!(
        "{what}: wall best {:.1} GB/s ({:.2} ms), median {:.1} GB/s ({:.2} ms); thread CPU time best {:.1} GB/s",
        gbs(best),
        best * 1e3,
        gbs(med),
        med * 1e3,
        gbs(cpu[0]),
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let threads: usize = args
        .first()
        .and_then(|a| a.parse().ok())
        .unwrap_or(2)
        .max(1);
    let mib: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(1024);
    let words = (mib << 20) / 8 / (16 * threads) * (16 * threads);
    // Touch every page first (fresh pages would otherwise be faulted in during the first pass).
    let mut buf: Vec<u64> = (0..words as u64).collect();
    let bytes = words * 8;
    println!(
        "{threads} threads, {} MiB buffer ({} MiB per thread)",
        bytes >> 20,
        (bytes / threads) >> 20
    );
    let sink = std::sync::atomic::AtomicU64::new(0);
    let read = passes(&mut buf, threads, 10, |_, part| {
        let s = read_all(part);
        sink.fetch_add(s, std::sync::atomic::Ordering::Relaxed);
    });
    report("read (the roof)", bytes, &read);
    // Each thread copies the first half of its part into the second half: bytes/2 read and
    // bytes/2 written per pass.
    let copy = passes(&mut buf, threads, 10, |_, part| {
        let (src, dst) = part.split_at_mut(part.len() / 2);
        dst.copy_from_slice(src);
    });
    report("copy (read + write)", bytes, &copy);
    std::hint::black_box(sink.into_inner());
}
