//! The dispatcher's bookkeeping, without any I/O: one queue per channel,
//! at most one job in flight per channel, channels served round-robin, a
//! channel that must wait (429, retry backoff) set aside until it cools.

use std::collections::{HashMap, HashSet, VecDeque};

use super::dispatch::Job;

#[derive(Default)]
pub struct Queues {
    jobs: HashMap<u64, VecDeque<Job>>,
    /// Channels with work, not busy, not cooling down: served in order.
    ready: VecDeque<u64>,
    busy: HashSet<u64>,
    cooling: HashSet<u64>,
    /// Jobs queued or in flight.
    outstanding: usize,
}

impl Queues {
    /// Jobs queued or in flight.
    pub fn outstanding(&self) -> usize {
        self.outstanding
    }

    fn line_up(&mut self, ch: u64) {
        if !self.busy.contains(&ch) && !self.cooling.contains(&ch) && !self.ready.contains(&ch) {
            self.ready.push_back(ch);
        }
    }

    /// A new job at the back of its channel's queue.
    pub fn push(&mut self, job: Job) {
        let ch = job.channel_id;
        self.outstanding += 1;
        self.jobs.entry(ch).or_default().push_back(job);
        self.line_up(ch);
    }

    /// The next job of the next ready channel (which becomes busy).
    pub fn take(&mut self) -> Option<Job> {
        while let Some(ch) = self.ready.pop_front() {
            if let Some(job) = self.jobs.get_mut(&ch).and_then(VecDeque::pop_front) {
                self.busy.insert(ch);
                return Some(job);
            }
            self.jobs.remove(&ch);
        }
        None
    }

    /// A job of `ch` is done: the channel goes back in line (at the back,
    /// for fairness) unless it is cooling. Returns whether all is idle.
    pub fn finish(&mut self, ch: u64) -> bool {
        self.busy.remove(&ch);
        self.outstanding = self.outstanding.saturating_sub(1);
        if self.jobs.get(&ch).is_some_and(|j| !j.is_empty()) {
            if !self.cooling.contains(&ch) && !self.ready.contains(&ch) {
                self.ready.push_back(ch);
            }
        } else {
            self.jobs.remove(&ch);
        }
        self.outstanding == 0
    }

    /// Put a job back at the front of its channel's queue, and set the
    /// channel aside until [`Queues::cooled`].
    pub fn retry_later(&mut self, job: Job) {
        let ch = job.channel_id;
        self.outstanding += 1;
        self.jobs.entry(ch).or_default().push_front(job);
        self.cooling.insert(ch);
        self.ready.retain(|c| *c != ch);
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
    use crate::announce::JobKind;

    fn job(delivery: i64, ch: u64) -> Job {
        Job {
            kind: JobKind::Send,
            delivery_id: delivery,
            stream_row: 1,
            subscription_id: 1,
            guild_id: 1,
            channel_id: ch,
            attempts: 0,
        }
    }

    #[test]
    fn one_in_flight_per_channel_round_robin() {
        let mut q = Queues::default();
        q.push(job(1, 10));
        q.push(job(2, 10));
        q.push(job(3, 20));
        let a = q.take().unwrap();
        assert_eq!(a.delivery_id, 1);
        // Channel 10 is busy: the next is channel 20's, not 10's second.
        assert_eq!(q.take().unwrap().delivery_id, 3);
        assert!(q.take().is_none(), "nothing else may go in parallel");
        assert!(!q.finish(10));
        assert_eq!(q.take().unwrap().delivery_id, 2);
        assert!(!q.finish(20));
        assert!(q.finish(10), "all done");
        assert_eq!(q.outstanding(), 0);
    }

    #[test]
    fn a_cooling_channel_waits_and_keeps_its_order() {
        let mut q = Queues::default();
        q.push(job(1, 10));
        q.push(job(2, 10));
        q.push(job(3, 20));
        let first = q.take().unwrap();
        q.retry_later(first); // a 429 on channel 10
        assert!(!q.finish(10));
        assert_eq!(q.take().unwrap().delivery_id, 3, "others go on");
        assert!(q.take().is_none(), "channel 10 is cooling");
        q.cooled(10);
        assert_eq!(q.take().unwrap().delivery_id, 1, "the retried job first");
        assert!(!q.finish(10));
        assert!(!q.finish(20));
        assert_eq!(q.take().unwrap().delivery_id, 2);
        assert!(q.finish(10));
    }
}
