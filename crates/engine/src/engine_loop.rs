//! The engine thread: owns the scheduler, the runner (model + KV tensors) and every request's
//! output state. Each iteration: take commands (blocking only when idle), abort requests whose
//! client is gone, schedule, run ONE batched forward, sample, report to the scheduler, send
//! events, publish metrics. A panic or a bookkeeping error inside a step fails every in-flight
//! request with an `Error` event and marks the engine dead.

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::{mpsc, Arc};
use std::time::Instant;

use tokenizer::Tokenizer;

use crate::choice_output::{ChoiceOutput, TokenEnd};
use crate::handle::{Command, Shared, Submission, DEAD, STOPPED};
use crate::request_group::{PromptLogprobs, RequestGroup};
use crate::runner::Runner;
use crate::{
    EngineStats, Error, Event, FinishReason, NewRequest, RequestEvent, RequestId, Scheduler,
    SchedulerOutput, TokenLogprob, Usage,
};

type GroupId = u64;

pub(crate) struct EngineLoop {
    sched: Scheduler,
    runner: Runner,
    tokenizer: Arc<Tokenizer>,
    /// The model's EOS ids (stop tokens unless `ignore_eos`).
    eos: Vec<u32>,
    groups: HashMap<GroupId, RequestGroup>,
    /// Scheduler request → (group, choice).
    owner: HashMap<RequestId, (GroupId, usize)>,
    next_group: GroupId,
    rx: mpsc::Receiver<Command>,
    shared: Arc<Shared>,
    stats: EngineStats,
    shutdown_at: Option<Instant>,
    /// Every handle is gone: nobody can submit; finish what runs, then exit.
    disconnected: bool,
}

impl EngineLoop {
    pub fn new(
        sched: Scheduler,
        runner: Runner,
        tokenizer: Arc<Tokenizer>,
        eos: Vec<u32>,
        rx: mpsc::Receiver<Command>,
        shared: Arc<Shared>,
    ) -> Self {
        let stats = EngineStats::new(sched.pool().num_total());
        Self {
            sched,
            runner,
            tokenizer,
            eos,
            groups: HashMap::new(),
            owner: HashMap::new(),
            next_group: 0,
            rx,
            shared,
            stats,
            shutdown_at: None,
            disconnected: false,
        }
    }

    pub fn run(mut self) {
        let served = match catch_unwind(AssertUnwindSafe(|| self.serve())) {
            Ok(r) => r,
            Err(panic) => Err(format!(
                "engine thread panicked: {}",
                panic_message(&*panic)
            )),
        };
        if let Err(msg) = served {
            self.die(&msg);
            return;
        }
        self.shared.state.store(STOPPED, Ordering::SeqCst);
        self.stats.alive = false;
        self.publish();
    }

    /// The loop; returns when shut down (or every handle is gone) and idle, or with the message
    /// the in-flight requests fail with.
    fn serve(&mut self) -> Result<(), String> {
        loop {
            let idle = self.groups.is_empty();
            if idle && (self.shutdown_at.is_some() || self.disconnected) {
                return Ok(());
            }
            self.take_commands(idle)
                .map_err(|e| format!("engine command failed: {e}"))?;
            if self.shutdown_at.is_some_and(|t| Instant::now() >= t) {
                let ids: Vec<GroupId> = self.groups.keys().copied().collect();
                ids.into_iter()
                    .try_for_each(|g| self.abort_group(g))
                    .map_err(|e| format!("engine shutdown failed: {e}"))?;
                return Ok(());
            }
            if self.groups.is_empty() {
                continue;
            }
            match catch_unwind(AssertUnwindSafe(|| self.step())) {
                Ok(Ok(())) => self.publish(),
                Ok(Err(e)) => return Err(format!("engine step failed: {e}")),
                Err(panic) => {
                    return Err(format!("engine step panicked: {}", panic_message(&*panic)))
                }
            }
        }
    }

    /// Handles waiting commands; blocks for the first one when `block` (nothing to run).
    fn take_commands(&mut self, block: bool) -> Result<(), Error> {
        if block {
            match self.rx.recv() {
                Ok(c) => self.command(c)?,
                Err(_) => {
                    self.disconnected = true;
                    return Ok(());
                }
            }
        }
        loop {
            match self.rx.try_recv() {
                Ok(c) => self.command(c)?,
                Err(mpsc::TryRecvError::Empty) => return Ok(()),
                Err(mpsc::TryRecvError::Disconnected) => {
                    self.disconnected = true;
                    return Ok(());
                }
            }
        }
    }

    fn command(&mut self, c: Command) -> Result<(), Error> {
        match c {
            Command::Submit(sub) => {
                self.admit(*sub);
                Ok(())
            }
            Command::Shutdown { deadline } => {
                self.shutdown_at = Some(self.shutdown_at.map_or(deadline, |d| d.min(deadline)));
                // Requests that never started are not started any more.
                let waiting: Vec<GroupId> = self
                    .groups
                    .iter()
                    .filter(|(_, g)| !g.admitted)
                    .map(|(&id, _)| id)
                    .collect();
                waiting.into_iter().try_for_each(|g| self.abort_group(g))
            }
        }
    }

    /// Registers a submitted request with the scheduler.
    fn admit(&mut self, sub: Submission) {
        let Submission {
            req,
            tx,
            submitted_at,
        } = sub;
        let fail = |msg: String, shared: &Shared| {
            shared.queued.fetch_sub(1, Ordering::SeqCst);
            let _ = tx.send(Event::Error(msg));
        };
        if self.shutdown_at.is_some() {
            return fail("the engine is shutting down".into(), &self.shared);
        }
        let choices: Result<Vec<ChoiceOutput>, _> = (0..req.n)
            .map(|i| {
                ChoiceOutput::new(
                    i,
                    req.sampling_for_choice(i),
                    &req.stop_strings,
                    req.logprobs,
                    req.skip_special_tokens,
                )
            })
            .collect();
        let choices = match choices {
            Ok(c) => c,
            Err(e) => return fail(format!("invalid sampling: {e}"), &self.shared),
        };
        let mut stop_token_ids = req.stop_token_ids.clone();
        if !req.ignore_eos {
            stop_token_ids.extend_from_slice(&self.eos);
        }
        let num_prompt_tokens = req.prompt.len();
        let prompt_logprobs = match (req.prompt_logprobs, req.prompt.first()) {
            (Some(top_n), Some(&first_token)) => Some(PromptLogprobs {
                top_n,
                first_token,
                entries: Vec::with_capacity(num_prompt_tokens.saturating_sub(1)),
                sent: false,
            }),
            _ => None,
        };
        let added = self.sched.add_request(NewRequest {
            prompt: req.prompt,
            max_tokens: req.max_tokens,
            priority: req.priority,
            stop_token_ids,
            prompt_logprobs: prompt_logprobs.is_some(),
        });
        let id = match added {
            Ok(id) => id,
            Err(e) => return fail(e.to_string(), &self.shared),
        };
        let g = self.next_group;
        self.next_group += 1;
        self.owner.insert(id, (g, 0));
        let mut group = RequestGroup::new(tx, id, choices, num_prompt_tokens, submitted_at);
        group.prompt_logprobs = prompt_logprobs;
        self.groups.insert(g, group);
    }

    /// One scheduler step through the model.
    fn step(&mut self) -> Result<(), Error> {
        self.abort_closed()?;
        let out = self.sched.schedule()?;
        self.note_scheduled(&out);
        if out.is_empty() {
            return Ok(());
        }
        let logits = match self.runner.run(&out) {
            Ok(l) => l,
            Err(e) => return self.fail_step(&out, &e),
        };
        self.stats.steps += 1;
        self.stats.batched_tokens += out.num_batched_tokens() as u64;
        self.stats.block_copies += out.copies.len() as u64;

        // Prompt logprobs: the logits at position q rate prompt token q + 1.
        for (id, pos, row) in logits.prompt_rows() {
            let Some(&(g, _)) = self.owner.get(&id) else {
                continue;
            };
            let (Some(group), Some(req)) = (self.groups.get_mut(&g), self.sched.request(id)) else {
                continue;
            };
            let (Some(pl), Some(&token)) =
                (group.prompt_logprobs.as_mut(), req.prompt().get(pos + 1))
            else {
                continue;
            };
            let lp = sampling::logprobs(row, token, pl.top_n);
            pl.entries.push(TokenLogprob {
                token,
                logprob: lp.chosen_logprob,
                top: lp.top,
            });
        }

        // Sample every sequence that needs a token; fork choices 1.. off the first logits of
        // choice 0 (before `update_from_output`, which may finish choice 0).
        let mut sampled = Vec::with_capacity(logits.len());
        let mut logprobs: HashMap<RequestId, TokenLogprob> = HashMap::new();
        let mut events = Vec::new();
        for (id, row) in logits.iter() {
            let Some(&(g, c)) = self.owner.get(&id) else {
                continue;
            };
            let (Some(group), Some(req)) = (self.groups.get_mut(&g), self.sched.request(id)) else {
                continue;
            };
            let Some(choice) = group.choices.get_mut(c) else {
                continue;
            };
            let (token, lp) = choice.sample(row, req.prompt(), req.output());
            sampled.push((id, Some(token)));
            // The prompt is done: its logprobs go before the first token.
            if let Some(pl) = group.prompt_logprobs.as_mut().filter(|p| !p.sent) {
                pl.sent = true;
                let ev = Event::PromptLogprobs {
                    first_token: pl.first_token,
                    logprobs: std::mem::take(&mut pl.entries),
                };
                group.send(ev);
            }
            logprobs.extend(lp.map(|lp| (id, lp)));
            if c != 0 || group.forked {
                continue;
            }
            group.forked = true;
            let prompt = req.prompt().to_vec();
            for i in 1..group.choices.len() {
                let (first, lp) = group.choices[i].sample(row, &prompt, &[]);
                let (child, evs) = self.sched.fork(id, first)?;
                group.ids[i] = Some(child);
                self.owner.insert(child, (g, i));
                logprobs.extend(lp.map(|lp| (child, lp)));
                events.extend(evs);
            }
        }
        events.extend(self.sched.update_from_output(&out, &sampled)?);
        self.deliver(&events, &mut logprobs)
    }

    /// Sends the step's events: detokenized text, stop strings, finishes.
    fn deliver(
        &mut self,
        events: &[RequestEvent],
        logprobs: &mut HashMap<RequestId, TokenLogprob>,
    ) -> Result<(), Error> {
        let now = Instant::now();
        let finished: HashMap<RequestId, (FinishReason, Usage)> = events
            .iter()
            .filter_map(|e| match *e {
                RequestEvent::Finished { id, reason, usage } => Some((id, (reason, usage))),
                RequestEvent::Token { .. } => None,
            })
            .collect();
        for ev in events {
            match *ev {
                RequestEvent::Token { id, token } => {
                    let Some(&(g, c)) = self.owner.get(&id) else {
                        continue;
                    };
                    let Some(group) = self.groups.get_mut(&g) else {
                        continue;
                    };
                    let Some(choice) = group.choices.get_mut(c) else {
                        continue;
                    };
                    if choice.done {
                        continue;
                    }
                    let end = match finished.get(&id) {
                        Some((FinishReason::Stop, _)) => TokenEnd::StopToken,
                        Some(_) => TokenEnd::Last,
                        None => TokenEnd::No,
                    };
                    let out = choice.push(&self.tokenizer, token, end);
                    if let Some(prev) = choice.last_token_at.replace(now) {
                        self.stats
                            .inter_token_latency
                            .observe(now.duration_since(prev).as_secs_f64());
                    }
                    if !group.first_token_sent {
                        group.first_token_sent = true;
                        self.stats
                            .time_to_first_token
                            .observe(now.duration_since(group.submitted_at).as_secs_f64());
                    }
                    self.stats.generation_tokens += 1;
                    group.send(Event::Token {
                        choice: c,
                        token,
                        text: out.text,
                        logprob: logprobs.remove(&id),
                    });
                    if let Some(stop) = out.matched_stop {
                        let usage = match finished.get(&id) {
                            Some(&(_, usage)) => usage,
                            None => self.sched.finish_request(id, FinishReason::Stop)?,
                        };
                        self.finish_choice(g, c, FinishReason::Stop, Some(stop), usage, now);
                    }
                }
                RequestEvent::Finished { id, reason, usage } => {
                    if let Some(&(g, c)) = self.owner.get(&id) {
                        self.finish_choice(g, c, reason, None, usage, now);
                    }
                }
            }
        }
        Ok(())
    }

    /// Sends a choice's `Finished` (once) and drops the group when it was the last.
    fn finish_choice(
        &mut self,
        g: GroupId,
        c: usize,
        reason: FinishReason,
        matched_stop: Option<String>,
        usage: Usage,
        now: Instant,
    ) {
        let Some(group) = self.groups.get_mut(&g) else {
            return;
        };
        let Some(choice) = group.choices.get_mut(c) else {
            return;
        };
        if choice.done {
            return;
        }
        choice.done = true;
        if let Some(Some(id)) = group.ids.get(c) {
            self.owner.remove(id);
        }
        self.stats.finished.add(reason);
        group.send(Event::Finished {
            choice: c,
            reason,
            matched_stop,
            usage,
        });
        if group.is_done() {
            self.stats
                .e2e_latency
                .observe(now.duration_since(group.submitted_at).as_secs_f64());
            self.remove_group(g);
        }
    }

    /// Forgets a group (its stream ends when the sender drops); releases its queue slot if it
    /// never started.
    fn remove_group(&mut self, g: GroupId) {
        if let Some(group) = self.groups.remove(&g) {
            for id in group.ids.iter().flatten() {
                self.owner.remove(id);
            }
            if !group.admitted {
                self.shared.queued.fetch_sub(1, Ordering::SeqCst);
            }
        }
    }

    /// Aborts every live choice of a group (blocks freed now) and tells the client, if any.
    fn abort_group(&mut self, g: GroupId) -> Result<(), Error> {
        let Some(group) = self.groups.get(&g) else {
            return Ok(());
        };
        let live: Vec<(usize, RequestId)> = group.live_ids().collect();
        let now = Instant::now();
        for (c, id) in live {
            let usage = self.sched.abort(id)?.unwrap_or_default();
            self.finish_choice(g, c, FinishReason::Abort, None, usage, now);
        }
        // Choices never forked (aborted before the prompt's end) have nothing to free.
        self.remove_group(g);
        Ok(())
    }

    /// Aborts the requests whose stream was dropped or aborted.
    fn abort_closed(&mut self) -> Result<(), Error> {
        let closed: Vec<GroupId> = self
            .groups
            .iter()
            .filter(|(_, g)| g.tx.is_closed())
            .map(|(&id, _)| id)
            .collect();
        closed.into_iter().try_for_each(|g| self.abort_group(g))
    }

    /// Admissions (queue time, queue slot), prompt tokens computed.
    fn note_scheduled(&mut self, out: &SchedulerOutput) {
        let now = Instant::now();
        for s in &out.scheduled {
            let Some(&(g, _)) = self.owner.get(&s.id) else {
                continue;
            };
            let Some(group) = self.groups.get_mut(&g) else {
                continue;
            };
            let n_prompt = group.num_prompt_tokens;
            self.stats.prompt_tokens_computed +=
                s.range.end.min(n_prompt).saturating_sub(s.range.start) as u64;
            if !group.admitted {
                group.admitted = true;
                self.shared.queued.fetch_sub(1, Ordering::SeqCst);
                self.stats.prompt_tokens += n_prompt as u64;
                self.stats
                    .queue_time
                    .observe(now.duration_since(group.submitted_at).as_secs_f64());
            }
        }
    }

    /// The model failed on this step: its requests get an `Error` and are aborted; the engine
    /// goes on with the others.
    fn fail_step(&mut self, out: &SchedulerOutput, e: &Error) -> Result<(), Error> {
        let mut failed: Vec<GroupId> = out
            .scheduled
            .iter()
            .filter_map(|s| self.owner.get(&s.id).map(|&(g, _)| g))
            .collect();
        failed.sort_unstable();
        failed.dedup();
        for g in failed {
            if let Some(group) = self.groups.get_mut(&g) {
                self.stats.finished.error += group.live_ids().count() as u64;
                group.send(Event::Error(e.to_string()));
                // The client learns of the failure by the Error; the aborts are internal.
                let live: Vec<RequestId> = group.live_ids().map(|(_, id)| id).collect();
                for c in group.choices.iter_mut() {
                    c.done = true;
                }
                for id in live {
                    self.sched.abort(id)?;
                }
            }
            self.remove_group(g);
        }
        Ok(())
    }

    /// Fails every in-flight request and marks the engine dead (the stats say so before the
    /// clients hear of it).
    fn die(&mut self, msg: &str) {
        self.shared.state.store(DEAD, Ordering::SeqCst);
        self.stats.finished.error += self
            .groups
            .values()
            .map(|g| g.live_ids().count() as u64)
            .sum::<u64>();
        self.stats.alive = false;
        // The scheduler may be in any state after a panic: reading it must not take the
        // clients' errors down with it.
        if catch_unwind(AssertUnwindSafe(|| self.publish())).is_err() {
            self.shared.publish(&self.stats);
        }
        for (_, group) in self.groups.drain() {
            group.send(Event::Error(msg.to_string()));
        }
        // Submissions still in the channel.
        while let Ok(c) = self.rx.try_recv() {
            if let Command::Submit(sub) = c {
                let _ = sub.tx.send(Event::Error(msg.to_string()));
            }
        }
        self.owner.clear();
    }

    /// Publishes the metrics snapshot (gauges read from the scheduler now).
    fn publish(&mut self) {
        let pool = self.sched.pool();
        let cached = self.sched.prefix_cache().cached_blocks();
        let s = &mut self.stats;
        s.running = self.sched.num_running();
        s.waiting = self.sched.num_waiting();
        s.kv_blocks_total = pool.num_total();
        s.kv_blocks_used = pool.num_used();
        s.kv_blocks_free = pool.num_free();
        s.kv_blocks_cached = cached.len();
        s.kv_blocks_cached_only = cached
            .iter()
            .filter(|&&(_, b)| pool.ref_count(b) == 1)
            .count();
        let ss = self.sched.stats();
        s.preemptions = ss.num_preemptions;
        s.prefix_query_tokens = ss.prefix_query_tokens;
        s.prefix_hit_tokens = ss.prefix_hit_tokens;
        let unadmitted = self.groups.values().filter(|g| !g.admitted).count();
        self.shared.preempted_waiting.store(
            self.sched.num_waiting().saturating_sub(unadmitted),
            Ordering::SeqCst,
        );
        self.shared.publish(&self.stats);
    }
}

/// The text of a panic payload (`panic!` with a literal or a format string).
fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}
