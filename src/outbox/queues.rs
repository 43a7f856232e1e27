//! The outbox's bookkeeping, without any I/O: one queue per channel,
//! at most one job in flight per channel, a channel that must wait (429,
//! retry backoff) set aside until it cools.
//!
//! Fair shares: channels with work are served round-robin by server, then
//! by channel within a server, so on a go-live every server gets its first
//! post before any server gets its second, however many channels one
//! server subscribed. (`fair: false` serves channels in the order their
//! work arrived: only for the benchmark's comparison.)
//!
//! Live-update edits wait in a lane of their own, served last: only when
//! no other job (announcement, end edit, redraw) is queued or in flight,
//! a few at a time, one per message (a newer update replaces an older one).

use std::collections::{HashMap, HashSet, VecDeque};

use super::job::{Job, Step};

#[derive(Default)]
pub struct Queues {
    jobs: HashMap<u64, VecDeque<Job>>,
    /// Channels with work, not busy, not cooling down, per server: served
    /// in order within the server.
    ready: HashMap<u64, VecDeque<u64>>,
    /// Servers with a ready channel, served round-robin.
    turns: VecDeque<u64>,
    /// The ready channels (all servers).
    ready_set: HashSet<u64>,
    /// Round-robin by server (else one line of channels).
    fair: bool,
    busy: HashSet<u64>,
    cooling: HashSet<u64>,
    /// Jobs queued or in flight.
    outstanding: usize,
    /// Live-update edits waiting, oldest first.
    updates: VecDeque<Job>,
    /// Jobs other than live updates queued or in flight.
    urgent: usize,
    /// Live updates in flight.
    updating: usize,
    /// At most this many live updates in flight at once.
    update_slots: usize,
}

impl Queues {
    pub fn new(update_slots: usize, fair: bool) -> Self {
        Queues {
            update_slots: update_slots.max(1),
            fair,
            ..Queues::default()
        }
    }

    /// The line a channel waits in: its server's (read from its queued
    /// work: a channel only waits while it has some), or the one line.
    fn line_of(&self, ch: u64) -> u64 {
        match self.jobs.get(&ch).and_then(VecDeque::front) {
            Some(job) if self.fair => job.guild_id,
            _ => 0,
        }
    }

    fn make_ready(&mut self, ch: u64) {
        if !self.ready_set.insert(ch) {
            return;
        }
        let line = self.line_of(ch);
        let queue = self.ready.entry(line).or_default();
        if queue.is_empty() {
            self.turns.push_back(line);
        }
        queue.push_back(ch);
    }

    /// The next ready channel: the next server's turn, its next channel.
    fn next_ready(&mut self) -> Option<u64> {
        let line = self.turns.pop_front()?;
        let queue = self.ready.get_mut(&line)?;
        let ch = queue.pop_front();
        if queue.is_empty() {
            self.ready.remove(&line);
        } else {
            self.turns.push_back(line);
        }
        if let Some(ch) = ch {
            self.ready_set.remove(&ch);
        }
        ch
    }

    fn unready(&mut self, ch: u64) {
        if !self.ready_set.remove(&ch) {
            return;
        }
        let line = self.line_of(ch);
        if let Some(queue) = self.ready.get_mut(&line) {
            queue.retain(|c| *c != ch);
            if queue.is_empty() {
                self.ready.remove(&line);
                self.turns.retain(|l| *l != line);
            }
        }
    }

    /// Jobs queued or in flight.
    pub fn outstanding(&self) -> usize {
        self.outstanding
    }

    fn line_up(&mut self, ch: u64) {
        if !self.busy.contains(&ch) && !self.cooling.contains(&ch) {
            self.make_ready(ch);
        }
    }

    /// A new job at the back of its channel's queue (a live update: in the
    /// update lane, replacing one still waiting for the same message).
    pub fn push(&mut self, job: Job) {
        if job.step == Step::Refresh {
            if let Some(old) = self
                .updates
                .iter_mut()
                .find(|j| j.delivery_id == job.delivery_id)
            {
                *old = job;
                return;
            }
            self.outstanding += 1;
            self.updates.push_back(job);
            return;
        }
        let ch = job.channel_id;
        self.outstanding += 1;
        self.urgent += 1;
        self.jobs.entry(ch).or_default().push_back(job);
        self.line_up(ch);
    }

    /// The next job of the next ready channel (which becomes busy); a live
    /// update only when nothing else is queued or in flight.
    pub fn take(&mut self) -> Option<Job> {
        while let Some(ch) = self.next_ready() {
            if let Some(job) = self.jobs.get_mut(&ch).and_then(VecDeque::pop_front) {
                self.busy.insert(ch);
                return Some(job);
            }
            self.jobs.remove(&ch);
        }
        if self.urgent > 0 || self.updating >= self.update_slots {
            return None;
        }
        let at = self.updates.iter().position(|j| {
            !self.busy.contains(&j.channel_id) && !self.cooling.contains(&j.channel_id)
        })?;
        let job = self.updates.remove(at)?;
        self.busy.insert(job.channel_id);
        self.updating += 1;
        Some(job)
    }

    /// Live updates could be taken now (several workers may wake).
    pub fn updates_free(&self) -> bool {
        self.urgent == 0 && !self.updates.is_empty() && self.updating < self.update_slots
    }

    /// A job of `ch` is done: the channel goes back in line (at the back,
    /// for fairness) unless it is cooling. Returns whether all is idle.
    pub fn finish(&mut self, ch: u64, step: Step) -> bool {
        self.busy.remove(&ch);
        self.outstanding = self.outstanding.saturating_sub(1);
        if step == Step::Refresh {
            self.updating = self.updating.saturating_sub(1);
        } else {
            self.urgent = self.urgent.saturating_sub(1);
        }
        if self.jobs.get(&ch).is_some_and(|j| !j.is_empty()) {
            if !self.cooling.contains(&ch) {
                self.make_ready(ch);
            }
        } else {
            self.jobs.remove(&ch);
        }
        self.outstanding == 0
    }

    /// Put a job back at the front of its channel's queue, and set the
    /// channel aside until [`Queues::cooled`]. (Live updates are never
    /// retried: they are dropped.)
    pub fn retry_later(&mut self, job: Job) {
        let ch = job.channel_id;
        self.outstanding += 1;
        self.urgent += 1;
        self.jobs.entry(ch).or_default().push_front(job);
        self.cooling.insert(ch);
        self.unready(ch);
    }

    /// The channel's wait is over: back in line.
    pub fn cooled(&mut self, ch: u64) {
        self.cooling.remove(&ch);
        self.line_up(ch);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(delivery: i64, ch: u64) -> Job {
        Job {
            step: Step::Post,
            delivery_id: delivery,
            guild_id: 1,
            channel_id: ch,
            attempts: 0,
            not_after: None,
        }
    }

    fn update(delivery: i64, ch: u64) -> Job {
        Job {
            step: Step::Refresh,
            ..job(delivery, ch)
        }
    }

    #[test]
    fn one_in_flight_per_channel_round_robin() {
        let mut q = Queues::new(2, true);
        q.push(job(1, 10));
        q.push(job(2, 10));
        q.push(job(3, 20));
        let a = q.take().unwrap();
        assert_eq!(a.delivery_id, 1);
        // Channel 10 is busy: the next is channel 20's, not 10's second.
        assert_eq!(q.take().unwrap().delivery_id, 3);
        assert!(q.take().is_none(), "nothing else may go in parallel");
        assert!(!q.finish(10, Step::Post));
        assert_eq!(q.take().unwrap().delivery_id, 2);
        assert!(!q.finish(20, Step::Post));
        assert!(q.finish(10, Step::Post), "all done");
        assert_eq!(q.outstanding(), 0);
    }

    #[test]
    fn a_cooling_channel_waits_and_keeps_its_order() {
        let mut q = Queues::new(2, true);
        q.push(job(1, 10));
        q.push(job(2, 10));
        q.push(job(3, 20));
        let first = q.take().unwrap();
        q.retry_later(first); // a 429 on channel 10
        assert!(!q.finish(10, Step::Post));
        assert_eq!(q.take().unwrap().delivery_id, 3, "others go on");
        assert!(q.take().is_none(), "channel 10 is cooling");
        q.cooled(10);
        assert_eq!(q.take().unwrap().delivery_id, 1, "the retried job first");
        assert!(!q.finish(10, Step::Post));
        assert!(!q.finish(20, Step::Post));
        assert_eq!(q.take().unwrap().delivery_id, 2);
        assert!(q.finish(10, Step::Post));
    }

    #[test]
    fn live_updates_wait_for_everything_else() {
        let mut q = Queues::new(2, true);
        q.push(update(1, 10));
        q.push(update(2, 20));
        q.push(update(3, 30));
        q.push(job(4, 40));
        assert_eq!(q.outstanding(), 4);
        assert!(!q.updates_free());
        assert_eq!(q.take().unwrap().delivery_id, 4, "the announcement first");
        assert!(q.take().is_none(), "no update while it is in flight");
        assert!(!q.finish(40, Step::Post));
        assert!(q.updates_free());
        assert_eq!(q.take().unwrap().delivery_id, 1);
        assert_eq!(q.take().unwrap().delivery_id, 2);
        assert!(q.take().is_none(), "two update slots");
        q.push(job(5, 50));
        assert_eq!(
            q.take().unwrap().delivery_id,
            5,
            "a new announcement jumps the lane"
        );
        assert!(!q.finish(10, Step::Refresh));
        assert!(q.take().is_none(), "updates wait for the announcement");
        assert!(!q.finish(50, Step::Post));
        assert_eq!(q.take().unwrap().delivery_id, 3);
        assert!(!q.finish(20, Step::Refresh));
        assert!(q.finish(30, Step::Refresh), "all done");
    }

    #[test]
    fn a_newer_update_replaces_the_waiting_one_and_busy_channels_wait() {
        let mut q = Queues::new(4, true);
        let mut first = update(1, 10);
        first.attempts = 7;
        q.push(first);
        q.push(update(1, 10));
        assert_eq!(q.outstanding(), 1, "one update per message");
        q.push(job(2, 10));
        assert_eq!(q.take().unwrap().delivery_id, 2);
        assert!(!q.finish(10, Step::Post));
        let u = q.take().unwrap();
        assert_eq!((u.delivery_id, u.attempts), (1, 0), "the newer one");
        q.push(job(3, 10));
        assert!(q.take().is_none(), "channel 10 is busy with the update");
        assert!(!q.finish(10, Step::Refresh));
        assert_eq!(q.take().unwrap().delivery_id, 3);
        assert!(q.finish(10, Step::Post));
    }

    fn send(delivery: i64, guild: u64, ch: u64) -> Job {
        Job {
            guild_id: guild,
            ..job(delivery, ch)
        }
    }

    /// One server with 300 channels queued first, then 30 servers with one
    /// each: in the order the posts go out, every one of the 30 comes
    /// before the big server's 31st.
    #[test]
    fn every_server_gets_its_first_post_before_any_gets_its_second() {
        let mut q = Queues::new(2, true);
        let mut id = 0;
        for ch in 0..300u64 {
            id += 1;
            q.push(send(id, 1, 1_000 + ch));
        }
        for g in 0..30u64 {
            id += 1;
            q.push(send(id, 100 + g, 5_000 + g));
        }
        let mut order = Vec::new();
        while let Some(j) = q.take() {
            order.push(j.guild_id);
            q.finish(j.channel_id, j.step);
        }
        assert_eq!(order.len(), 330);
        let big_31st = order
            .iter()
            .enumerate()
            .filter(|(_, g)| **g == 1)
            .nth(30)
            .map(|(i, _)| i)
            .unwrap();
        let last_small = order.iter().rposition(|g| *g != 1).unwrap();
        assert!(last_small < big_31st, "{last_small} >= {big_31st}");
        assert_eq!(&order[..4], &[1, 100, 101, 102], "one turn each");

        // Without fair shares the small servers wait for all 300.
        let mut q = Queues::new(2, false);
        for ch in 0..300u64 {
            q.push(send(ch as i64, 1, 1_000 + ch));
        }
        q.push(send(999, 100, 5_000));
        let mut n = 0;
        while let Some(j) = q.take() {
            n += 1;
            q.finish(j.channel_id, j.step);
            if j.guild_id == 100 {
                break;
            }
        }
        assert_eq!(n, 301);
    }

    #[test]
    fn a_cooling_channel_leaves_its_servers_turn_to_its_other_channels() {
        let mut q = Queues::new(2, true);
        q.push(send(1, 1, 10));
        q.push(send(2, 1, 11));
        q.push(send(3, 2, 20));
        let a = q.take().unwrap();
        assert_eq!(a.delivery_id, 1);
        q.retry_later(a);
        q.finish(10, Step::Post);
        let order: Vec<i64> = std::iter::from_fn(|| {
            let j = q.take()?;
            q.finish(j.channel_id, j.step);
            Some(j.delivery_id)
        })
        .collect();
        assert_eq!(
            order,
            [3, 2],
            "server 2's turn, then server 1's other channel"
        );
        q.cooled(10);
        assert_eq!(q.take().unwrap().delivery_id, 1);
        assert!(q.finish(10, Step::Post));
    }
}
