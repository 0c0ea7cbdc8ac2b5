//! Failures: a panic inside a step fails every in-flight request with an `Error` event and the
//! engine refuses new ones; a forward error fails the requests of that step only. Shutdown
//! drains.

use std::time::{Duration, Instant};

use engine::{Event, FinishReason, SubmitError};

use crate::support::{
    collect, config, greedy, next_event, prompts, run, tiny, wait_idle, Faulty, Gated,
};

fn until_end(s: &mut engine::RequestStream) -> Vec<Event> {
    let mut out = Vec::new();
    while let Some(ev) = next_event(s, Duration::from_secs(60)) {
        out.push(ev);
    }
    out
}

#[test]
fn a_panic_in_a_step_fails_in_flight_requests_and_kills_the_engine() {
    let (model, tok) = tiny();
    let model = Box::new(Faulty {
        inner: model,
        calls: 0,
        fail_at: 3,
        panic: true,
    });
    let h = engine::spawn(model, tok.clone(), config(64, 16, 256)).unwrap();
    let mut streams: Vec<_> = prompts(&tok, 3)
        .into_iter()
        .map(|p| {
            let mut r = greedy(p, 20);
            r.ignore_eos = true;
            h.submit(r).unwrap()
        })
        .collect();
    for s in &mut streams {
        let events = until_end(s);
        assert!(
            matches!(events.last(), Some(Event::Error(m)) if m.contains("injected failure")),
            "{events:?}"
        );
        assert!(events.len() < 20, "the request did not run to its end");
    }
    assert!(h.is_dead());
    assert_eq!(
        h.submit(greedy(vec![1, 2, 3], 2)).err(),
        Some(SubmitError::EngineDead)
    );
    let st = h.stats();
    assert!(!st.alive);
    assert!(st.finished.error >= 3, "{st:?}");
    h.join();
}

#[test]
fn a_forward_error_fails_that_step_only() {
    let (model, tok) = tiny();
    let model = Box::new(Faulty {
        inner: model,
        calls: 0,
        fail_at: 1,
        panic: false,
    });
    let h = engine::spawn(model, tok.clone(), config(64, 16, 256)).unwrap();
    let mut s = h.submit(greedy(tok.encode("first", false), 8)).unwrap();
    let events = until_end(&mut s);
    assert!(
        matches!(events.last(), Some(Event::Error(m)) if m.contains("injected error")),
        "{events:?}"
    );
    // The engine goes on.
    assert!(h.is_alive());
    let c = run(&h, greedy(tok.encode("second", false), 4)).remove(0);
    assert_eq!(c.tokens.len(), 4);
    let st = wait_idle(&h);
    assert_eq!(st.finished.error, 1);
    assert_eq!(st.kv_blocks_used, st.kv_blocks_cached_only);
}

#[test]
fn shutdown_finishes_running_requests_and_aborts_unstarted_ones() {
    let (model, tok) = tiny();
    let (model, mut gate) = Gated::wrap(model);
    let mut cfg = config(64, 16, 256);
    cfg.scheduler.max_running = 1;
    let h = engine::spawn(model, tok.clone(), cfg).unwrap();
    let running = h
        .submit(greedy(tok.encode("I am running", false), 6))
        .unwrap();
    gate.wait_entered();
    let waiting = h
        .submit(greedy(tok.encode("I never start", false), 6))
        .unwrap();
    h.shutdown(Instant::now() + Duration::from_secs(60));
    assert_eq!(
        h.submit(greedy(vec![1, 2], 2)).err(),
        Some(SubmitError::ShuttingDown)
    );
    gate.open();
    let r = collect(running).remove(0);
    assert_eq!(r.tokens.len(), 6);
    assert_eq!(r.reason, Some(FinishReason::Length));
    let w = collect(waiting).remove(0);
    assert_eq!(w.reason, Some(FinishReason::Abort));
    assert!(w.tokens.is_empty());
    h.join();
    assert!(h.is_stopped());
}

#[test]
fn shutdown_deadline_aborts_running_requests() {
    let (model, tok) = tiny();
    let (model, gate) = Gated::wrap(model);
    let h = engine::spawn(model, tok.clone(), config(64, 16, 256)).unwrap();
    let mut req = greedy(tok.encode("A long answer", false), 200);
    req.ignore_eos = true;
    let s = h.submit(req).unwrap();
    gate.step();
    gate.step();
    h.shutdown(Instant::now());
    gate.permit(); // whichever step is in flight completes
    let c = collect(s).remove(0);
    assert_eq!(c.reason, Some(FinishReason::Abort));
    assert!(c.tokens.len() < 200);
    h.join();
    assert!(h.is_stopped());
    assert!(h.stats().kv_blocks_used <= h.stats().kv_blocks_cached_only);
}
