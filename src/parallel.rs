//! Work spread over the machine's cores, with results in input order, so
//! that nothing a run produces depends on how threads were scheduled.

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use crossbeam_channel::{Receiver, Sender};

/// Below this many items, starting threads costs more than it saves.
const SMALL: usize = 64;

/// How many pieces each thread's share of the items is cut into.
const PIECES_PER_THREAD: usize = 32;

/// `f` over contiguous pieces of `items` on every core, the results in the
/// order of the pieces. Few items make one piece, on the calling thread.
///
/// The pieces are small, and idle threads take the next one in turn: a
/// thread slowed down (by heavier items, page faults, or another program
/// on its core) holds the others up by one piece at most. Equal halves,
/// as before, left the whole waiting on the slower half (bench/README.md).
/// The calling thread is one of the workers.
pub fn map_pieces<T: Sync, R: Send>(items: &[T], f: impl Fn(&[T]) -> R + Sync) -> Vec<R> {
    let threads = threads();
    if threads <= 1 || items.len() < SMALL {
        return vec![f(items)];
    }
    let piece = items.len().div_ceil(threads * PIECES_PER_THREAD);
    on_every_core(items.chunks(piece).collect(), threads, f)
}

/// `f` over `items` on every core, each item a piece of its own, the
/// results in input order: for a few items of much work each (a stream
/// build's files, a few megabytes each), which [`map_pieces`] would leave
/// to the calling thread alone.
pub fn map_each<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = threads().min(items.len());
    if threads <= 1 {
        return items.iter().map(f).collect();
    }
    on_every_core(items.chunks(1).collect(), threads, |one| f(&one[0]))
}

/// `side` on a thread of its own while the calling thread runs `main`:
/// for one piece of work that needs none of `main`'s results.
pub fn beside<S: Send, M>(side: impl FnOnce() -> S + Send, main: impl FnOnce() -> M) -> (S, M) {
    std::thread::scope(|scope| {
        let side = scope.spawn(side);
        let main = main();
        (side.join().expect("the side thread panicked"), main)
    })
}

/// How many threads work is spread over: one per core.
pub(crate) fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// `f` over `pieces` on `threads` threads, the calling thread among them,
/// each taking another piece when it is done with one.
fn on_every_core<T: Sync, R: Send>(
    pieces: Vec<&[T]>,
    threads: usize,
    f: impl Fn(&[T]) -> R + Sync,
) -> Vec<R> {
    // Taken in turn from each thread's share of the pieces, so threads
    // that start together work far apart in the items: writing a tree,
    // two threads creating files in one folder wait on its lock
    // (bench/README.md).
    let share = pieces.len().div_ceil(threads);
    let order: Vec<usize> = (0..share)
        .flat_map(|step| (0..threads).map(move |thread| thread * share + step))
        .filter(|&index| index < pieces.len())
        .collect();
    let next = AtomicUsize::new(0);
    let work = || {
        let mut done = Vec::new();
        loop {
            let Some(&index) = order.get(next.fetch_add(1, Ordering::Relaxed)) else {
                return done;
            };
            done.push((index, f(pieces[index])));
        }
    };
    let helpers = helpers();
    let (finished, results) = crossbeam_channel::bounded(threads);
    for _ in 1..threads {
        let finished = finished.clone();
        let work = &work;
        let job: Box<dyn FnOnce() + Send + '_> = Box::new(move || {
            let _ = finished.send(catch_unwind(AssertUnwindSafe(work)));
        });
        // SAFETY: the job borrows `work` (and through it `order`, `next`,
        // `pieces` and `f`), which live until this function returns; it
        // returns only once every job it queued has sent its result, the
        // last thing a job does with what it borrows. Nothing between
        // queueing and waiting can unwind: the calling thread's own share
        // runs under `catch_unwind`.
        let job: Job = unsafe { std::mem::transmute::<Box<dyn FnOnce() + Send + '_>, Job>(job) };
        helpers
            .jobs
            .send(job)
            .expect("the queue's receiver lives as long as the process");
    }
    let own = catch_unwind(AssertUnwindSafe(work));
    let mut done: Vec<(usize, R)> = Vec::new();
    let mut panicked = None;
    for result in std::iter::once(own).chain(helpers.wait(&results, threads - 1)) {
        match result {
            Ok(results) => done.extend(results),
            Err(panic) => {
                panicked.get_or_insert(panic);
            }
        }
    }
    if let Some(panic) = panicked {
        resume_unwind(panic);
    }
    done.sort_unstable_by_key(|(index, _)| *index);
    done.into_iter().map(|(_, result)| result).collect()
}

/// A share of some work, queued for a helper.
type Job = Box<dyn FnOnce() + Send + 'static>;

/// The threads that take the other cores' shares: started once, the first
/// time work is spread, and kept for the process's life. A thread started
/// for each run leaves its allocator's memory behind when it ends, for the
/// next run's threads to reclaim page by page: in the language server,
/// which checks again at every edit, that made a check at N = 1000 a third
/// slower than a cold `envk check` (bench/README.md).
struct Helpers {
    jobs: Sender<Job>,
    /// The queue, for a thread that waits on its jobs to take others
    /// meanwhile: work spread from within a job is never left waiting for
    /// a helper that is waiting on it.
    queue: Receiver<Job>,
}

fn helpers() -> &'static Helpers {
    static HELPERS: OnceLock<Helpers> = OnceLock::new();
    HELPERS.get_or_init(|| {
        let (jobs, queue) = crossbeam_channel::unbounded::<Job>();
        for _ in 1..threads() {
            let queue = queue.clone();
            // A helper that cannot be started leaves its jobs to the
            // threads that wait on them.
            let _ = std::thread::Builder::new()
                .name("envk-helper".to_string())
                .spawn(move || queue.into_iter().for_each(|job| job()));
        }
        Helpers { jobs, queue }
    })
}

impl Helpers {
    /// The results of `count` queued jobs, running queued jobs meanwhile.
    fn wait<R>(&self, results: &Receiver<R>, count: usize) -> Vec<R> {
        let mut received = Vec::with_capacity(count);
        while received.len() < count {
            crossbeam_channel::select! {
                recv(results) -> result => {
                    received.push(result.expect("the waiting thread holds a sender"));
                }
                recv(self.queue) -> job => {
                    if let Ok(job) = job {
                        job();
                    }
                }
            }
        }
        received
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Each item through `f` on every core, as the checker and the
    /// emitters use `map_pieces`: the results joined piece after piece.
    fn map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
        let pieces = super::map_pieces(items, |piece| piece.iter().map(&f).collect::<Vec<R>>());
        pieces.into_iter().flatten().collect()
    }

    #[test]
    fn results_keep_the_input_order() {
        let items: Vec<u32> = (0..1000).collect();
        let doubled = map(&items, |n| n * 2);
        assert_eq!(doubled, items.iter().map(|n| n * 2).collect::<Vec<_>>());
        assert_eq!(map(&items[..3], |n| n + 1), [1, 2, 3]);
    }

    #[test]
    fn every_item_is_mapped_once_and_pieces_come_back_in_order() {
        for len in [1, 63, 64, 65, 127, 1000, 1001, 4099] {
            let items: Vec<usize> = (0..len).collect();
            let calls = AtomicUsize::new(0);
            let mapped = map(&items, |&n| {
                calls.fetch_add(1, Ordering::Relaxed);
                // Uneven work, so that pieces finish out of order.
                if n % 7 == 0 {
                    std::thread::yield_now();
                }
                n + 1
            });
            assert_eq!(calls.into_inner(), len);
            assert_eq!(mapped, (1..=len).collect::<Vec<_>>());

            let pieces = super::map_pieces(&items, <[usize]>::to_vec);
            assert!(pieces.iter().all(|piece| !piece.is_empty()));
            assert_eq!(pieces.concat(), items);

            let each = super::map_each(&items, |&n| n * 3);
            assert_eq!(each, items.iter().map(|n| n * 3).collect::<Vec<_>>());
        }
    }

    #[test]
    fn a_panic_in_a_piece_reaches_the_caller_and_the_helpers_go_on() {
        let items: Vec<usize> = (0..1000).collect();
        let caught = std::panic::catch_unwind(|| {
            super::map_pieces(&items, |piece| {
                assert!(!piece.contains(&777), "piece with 777");
                piece.len()
            })
        });
        let message = caught.expect_err("the panic reaches the caller");
        assert_eq!(message.downcast_ref::<&str>(), Some(&"piece with 777"));
        let lengths = super::map_pieces(&items, <[usize]>::len);
        assert_eq!(lengths.iter().sum::<usize>(), items.len());
    }

    /// Work spread from within a piece, while every helper may be busy
    /// with the outer pieces: the threads waiting take queued work.
    #[test]
    fn work_spread_within_a_piece_completes() {
        let items: Vec<usize> = (0..200).collect();
        let sums = map(&items, |&n| {
            let inner: Vec<usize> = (0..100).map(|m| m * n).collect();
            super::map_pieces(&inner, |piece| piece.iter().sum::<usize>())
                .into_iter()
                .sum::<usize>()
        });
        assert_eq!(sums, items.iter().map(|n| n * 4950).collect::<Vec<_>>());
    }
}
