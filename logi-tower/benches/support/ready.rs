//! Driving in-memory futures without a runtime.

use std::pin::pin;
use std::task::{Context, Poll, Waker};

/// Runs a future that must complete without waiting (everything it touches is in memory), so
/// a benchmark measures the work and not an executor.
///
/// # Panics
/// When the future would wait: the benchmark's premise is broken.
pub(crate) fn ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the benchmarked future must complete without waiting"),
    }
}
