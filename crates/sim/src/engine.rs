//! The future-event set.
//!
//! A binary heap keyed by `(time, sequence number)`: events at equal times come out in the order
//! they were scheduled (FIFO), which makes runs deterministic (the SimPy `eid`, salabim `seq`,
//! NeXosim `epoch` convention). Memory is proportional to the number of *pending* events: the
//! model keeps one queue per simulated customer and reuses its allocation, so a million customers
//! never means a million-entry heap.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// One scheduled event.
#[derive(Clone, Copy, Debug)]
struct Entry<E> {
    time: f64,
    seq: u64,
    event: E,
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl<E> Eq for Entry<E> {}
impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<E> Ord for Entry<E> {
    // Reversed: BinaryHeap is a max-heap and we want the earliest (time, seq) first.
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .time
            .total_cmp(&self.time)
            .then_with(|| other.seq.cmp(&self.seq))
    }
}

/// A future-event set with deterministic FIFO tie-breaking.
#[derive(Debug)]
pub struct EventQueue<E> {
    heap: BinaryHeap<Entry<E>>,
    seq: u64,
    now: f64,
    processed: u64,
}

impl<E: Copy> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E: Copy> EventQueue<E> {
    pub fn new() -> Self {
        Self {
            heap: BinaryHeap::with_capacity(16),
            seq: 0,
            now: 0.0,
            processed: 0,
        }
    }

    /// Empties the queue and resets the clock to 0, keeping the allocation and the count of
    /// processed events.
    pub fn reset(&mut self) {
        self.heap.clear();
        self.seq = 0;
        self.now = 0.0;
    }

    /// Schedules `event` at absolute time `time`. Times in the past are clamped to `now`
    /// (an event can never run before the event that scheduled it); NaN is treated as never.
    #[inline]
    pub fn schedule(&mut self, time: f64, event: E) {
        if time.is_nan() || time == f64::INFINITY {
            return;
        }
        let time = time.max(self.now);
        self.heap.push(Entry {
            time,
            seq: self.seq,
            event,
        });
        self.seq += 1;
    }

    /// Removes and returns the next event, advancing the clock.
    #[inline]
    pub fn pop(&mut self) -> Option<(f64, E)> {
        let entry = self.heap.pop()?;
        self.now = entry.time;
        self.processed += 1;
        Some((entry.time, entry.event))
    }

    /// Time of the next pending event.
    #[inline]
    pub fn peek_time(&self) -> Option<f64> {
        self.heap.peek().map(|e| e.time)
    }

    /// Current simulated time.
    pub fn now(&self) -> f64 {
        self.now
    }

    /// Pending events.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// Events processed since creation.
    pub fn processed(&self) -> u64 {
        self.processed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earliest_first_fifo_on_ties() {
        let mut q = EventQueue::new();
        q.schedule(5.0, 'a');
        q.schedule(1.0, 'b');
        q.schedule(5.0, 'c');
        q.schedule(1.0, 'd');
        q.schedule(f64::INFINITY, 'z');
        let order: Vec<char> = std::iter::from_fn(|| q.pop().map(|e| e.1)).collect();
        assert_eq!(order, vec!['b', 'd', 'a', 'c']);
        assert_eq!(q.processed(), 4);
    }

    #[test]
    fn past_events_are_clamped_to_now() {
        let mut q = EventQueue::new();
        q.schedule(10.0, 1);
        assert_eq!(q.pop(), Some((10.0, 1)));
        q.schedule(3.0, 2);
        assert_eq!(q.pop(), Some((10.0, 2)));
    }
}
