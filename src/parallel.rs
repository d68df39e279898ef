//! Work spread over the machine's cores, with results in input order, so
//! that nothing a run produces depends on how threads were scheduled.

/// `f` over `items` on every core, in order: the items are cut into one
/// contiguous run per thread. Few items are mapped on the calling thread,
/// where starting threads would cost more than it saves.
pub fn map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    map_runs(items, |run| run.iter().map(&f).collect::<Vec<R>>())
        .into_iter()
        .flatten()
        .collect()
}

/// `f` over contiguous runs of `items`, one run per core, the results in
/// the order of the runs. Few items make one run, on the calling thread.
pub fn map_runs<T: Sync, R: Send>(items: &[T], f: impl Fn(&[T]) -> R + Sync) -> Vec<R> {
    const SMALL: usize = 64;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if threads <= 1 || items.len() < SMALL {
        return vec![f(items)];
    }
    let run = items.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(run)
            .map(|chunk| scope.spawn(|| f(chunk)))
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().expect("a worker thread panicked"))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn results_keep_the_input_order() {
        let items: Vec<u32> = (0..1000).collect();
        let doubled = super::map(&items, |n| n * 2);
        assert_eq!(doubled, items.iter().map(|n| n * 2).collect::<Vec<_>>());
        assert_eq!(super::map(&items[..3], |n| n + 1), [1, 2, 3]);
    }
}
