//! Work split over candle's barrier pool (the threads the quantized products use), for the parts
//! of a forward pass that are not matrix products: each item writes its own slice of the output,
//! so the result does not depend on how the items are spread over threads.

#![allow(unsafe_code)]

struct SendPtr(*mut f32);
// SAFETY: the pointer is only written through at disjoint slices (see `for_each_chunk_mut`).
unsafe impl Sync for SendPtr {}
unsafe impl Send for SendPtr {}

/// Calls `f(i, chunk_i)` for every `width`-long chunk of `out` (`out.len()` a multiple of
/// `width`), spread over candle's barrier pool.
pub(super) fn for_each_chunk_mut(out: &mut [f32], width: usize, f: impl Fn(usize, &mut [f32]) + Sync) {
    assert!(width > 0 && out.len().is_multiple_of(width), "for_each_chunk_mut: {} is not chunks of {width}", out.len());
    let items = out.len() / width;
    let ptr = SendPtr(out.as_mut_ptr());
    candle_core::utils::barrier_pool().execute_chunked(items, |range| {
        let ptr = &ptr;
        for i in range {
            // SAFETY: `i < items`, so the chunk `[i * width, (i + 1) * width)` lies inside `out`;
            // each index is handed to exactly one call, so no two chunks alias, and `out` is
            // borrowed mutably for the whole pool call.
            let chunk = unsafe { std::slice::from_raw_parts_mut(ptr.0.add(i * width), width) };
            f(i, chunk);
        }
    });
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_chunk_is_written_once_by_its_index() {
        let mut out = vec![0.0f32; 7 * 3];
        super::for_each_chunk_mut(&mut out, 3, |i, chunk| {
            for (j, v) in chunk.iter_mut().enumerate() {
                *v += (i * 10 + j) as f32;
            }
        });
        let expected: Vec<f32> = (0..7).flat_map(|i| (0..3).map(move |j| (i * 10 + j) as f32)).collect();
        assert_eq!(out, expected);
    }
}
