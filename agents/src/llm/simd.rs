//! Attention of one query head against a sequence's cached keys and values, in AVX2 with FMA
//! where the CPU has them (the head's output held in registers over all positions) and portable
//! Rust otherwise. The choice is made once per process, so every row of every batch takes the
//! same path and the results stay batch-invariant.

#![allow(unsafe_code)]

use std::sync::OnceLock;

fn avx2_fma() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    })
}

/// Cached keys and values of consecutive positions (a prefix's, or a sequence's own).
pub(super) struct Segment<'a> {
    pub keys: &'a [f32],
    pub values: &'a [f32],
    pub positions: usize,
}

/// Where one key/value head sits in a cached position: position `p`'s vector starts at
/// `p * stride + offset`.
#[derive(Clone, Copy)]
pub(super) struct KvLayout {
    pub stride: usize,
    pub offset: usize,
}

/// One head's attention: softmax over every position of `segments` (in order) of `q · key *
/// scale`, times the values, written into `o` (`q.len()` values). `scores` is scratch.
pub(super) fn attend(
    q: &[f32],
    segments: &[Segment<'_>],
    layout: KvLayout,
    scale: f32,
    scores: &mut Vec<f32>,
    o: &mut [f32],
) {
    let hd = q.len();
    for segment in segments {
        let end = segment.positions.saturating_sub(1) * layout.stride + layout.offset + hd;
        assert!(
            segment.positions == 0 || (segment.keys.len() >= end && segment.values.len() >= end),
            "attend: a segment holds fewer positions than it claims"
        );
    }
    assert_eq!(o.len(), hd, "attend: the output is not one head");
    #[cfg(target_arch = "x86_64")]
    if avx2_fma() {
        // SAFETY: the CPU has AVX2 and FMA (checked above); every position's key and value lies
        // inside its segment (checked above) and `o` holds one head.
        unsafe {
            match hd {
                32 => return x86::attend::<4>(q, segments, layout, scale, scores, o),
                64 => return x86::attend::<8>(q, segments, layout, scale, scores, o),
                128 => return x86::attend::<16>(q, segments, layout, scale, scores, o),
                _ => {}
            }
        }
    }
    portable_attend(q, segments, layout, scale, scores, o);
}

fn portable_attend(
    q: &[f32],
    segments: &[Segment<'_>],
    layout: KvLayout,
    scale: f32,
    scores: &mut Vec<f32>,
    o: &mut [f32],
) {
    let hd = q.len();
    let at = |p: usize| p * layout.stride + layout.offset..p * layout.stride + layout.offset + hd;
    scores.clear();
    for segment in segments {
        for p in 0..segment.positions {
            scores.push(portable_dot(q, &segment.keys[at(p)]) * scale);
        }
    }
    let sum = softmax_numerators(scores);
    o.fill(0.0);
    let mut t = 0;
    for segment in segments {
        for p in 0..segment.positions {
            let weight = scores[t] / sum;
            for (o, v) in o.iter_mut().zip(&segment.values[at(p)]) {
                *o += weight * v;
            }
            t += 1;
        }
    }
}

/// Replaces each score by `exp(score - max)`; their sum.
fn softmax_numerators(scores: &mut [f32]) -> f32 {
    let max = scores.iter().fold(f32::NEG_INFINITY, |m, &s| m.max(s));
    let mut sum = 0.0;
    for s in scores.iter_mut() {
        *s = (*s - max).exp();
        sum += *s;
    }
    sum
}

/// A dot product with eight independent partial sums (vectorizes; fixed order, so deterministic).
fn portable_dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (chunks_a, chunks_b) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = chunks_a.remainder().iter().zip(chunks_b.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in chunks_a.zip(chunks_b) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    acc.iter().sum::<f32>() + tail
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use super::{KvLayout, Segment, softmax_numerators};

    /// [`super::attend`] for heads of `8 * L` values: a query in `L` registers, each score one
    /// FMA chain and a horizontal sum, and the output accumulated in `L` registers over every
    /// position before it is stored once.
    ///
    /// # Safety
    /// The CPU must have AVX2 and FMA; `q` and `o` hold `8 * L` values and every position of
    /// every segment lies inside its keys and values (see `super::attend`).
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn attend<const L: usize>(
        q: &[f32],
        segments: &[Segment<'_>],
        layout: KvLayout,
        scale: f32,
        scores: &mut Vec<f32>,
        o: &mut [f32],
    ) {
        // SAFETY (every load and store): the caller guarantees the lengths above.
        unsafe {
            let mut query = [_mm256_setzero_ps(); L];
            for (l, lane) in query.iter_mut().enumerate() {
                *lane = _mm256_loadu_ps(q.as_ptr().add(8 * l));
            }
            scores.clear();
            for segment in segments {
                for p in 0..segment.positions {
                    let k = segment.keys.as_ptr().add(p * layout.stride + layout.offset);
                    let mut acc = _mm256_mul_ps(query[0], _mm256_loadu_ps(k));
                    for (l, lane) in query.iter().enumerate().skip(1) {
                        acc = _mm256_fmadd_ps(*lane, _mm256_loadu_ps(k.add(8 * l)), acc);
                    }
                    scores.push(horizontal_sum(acc) * scale);
                }
            }
            let sum = softmax_numerators(scores);
            let mut out = [_mm256_setzero_ps(); L];
            let mut t = 0;
            for segment in segments {
                for p in 0..segment.positions {
                    let v = segment.values.as_ptr().add(p * layout.stride + layout.offset);
                    let weight = _mm256_set1_ps(scores[t] / sum);
                    for (l, lane) in out.iter_mut().enumerate() {
                        *lane = _mm256_fmadd_ps(weight, _mm256_loadu_ps(v.add(8 * l)), *lane);
                    }
                    t += 1;
                }
            }
            for (l, lane) in out.iter().enumerate() {
                _mm256_storeu_ps(o.as_mut_ptr().add(8 * l), *lane);
            }
        }
    }

    #[target_feature(enable = "avx2,fma")]
    fn horizontal_sum(v: __m256) -> f32 {
        let halves = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
        let pairs = _mm_add_ps(halves, _mm_movehl_ps(halves, halves));
        _mm_cvtss_f32(_mm_add_ss(pairs, _mm_shuffle_ps(pairs, pairs, 1)))
    }
}

#[cfg(test)]
mod tests {
    use super::{KvLayout, Segment};

    /// Attention computed plainly in f64.
    fn reference(q: &[f32], keys: &[Vec<f32>], values: &[Vec<f32>], scale: f32) -> Vec<f64> {
        let scores: Vec<f64> = keys
            .iter()
            .map(|k| q.iter().zip(k).map(|(a, b)| f64::from(*a) * f64::from(*b)).sum::<f64>() * f64::from(scale))
            .collect();
        let max = scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let weights: Vec<f64> = scores.iter().map(|s| (s - max).exp()).collect();
        let sum: f64 = weights.iter().sum();
        (0..q.len()).map(|d| weights.iter().zip(values).map(|(w, v)| w / sum * f64::from(v[d])).sum()).collect()
    }

    #[test]
    fn attention_over_a_prefix_and_own_positions_matches_plain_arithmetic() {
        // Two key/value heads per position; the head at offset `hd` is the one attended to.
        for hd in [8usize, 32, 64, 128] {
            let stride = 2 * hd;
            let value = |p: usize, d: usize, salt: f32| ((p * 31 + d * 7) as f32 * 0.013 + salt).sin();
            let cache = |positions: usize, salt: f32| -> Vec<f32> {
                (0..positions).flat_map(|p| (0..stride).map(move |d| value(p, d, salt))).collect()
            };
            let (prefix_keys, prefix_values) = (cache(5, 0.1), cache(5, 0.2));
            let (own_keys, own_values) = (cache(3, 0.3), cache(3, 0.4));
            let q: Vec<f32> = (0..hd).map(|d| (d as f32 * 0.07).cos()).collect();
            let segments = [
                Segment { keys: &prefix_keys, values: &prefix_values, positions: 5 },
                Segment { keys: &own_keys, values: &own_values, positions: 2 },
            ];
            let mut o = vec![7.0; hd];
            super::attend(&q, &segments, KvLayout { stride, offset: hd }, 0.125, &mut Vec::new(), &mut o);
            let head = |cache: &[f32], p: usize| cache[p * stride + hd..p * stride + 2 * hd].to_vec();
            let keys: Vec<Vec<f32>> =
                (0..5).map(|p| head(&prefix_keys, p)).chain((0..2).map(|p| head(&own_keys, p))).collect();
            let values: Vec<Vec<f32>> =
                (0..5).map(|p| head(&prefix_values, p)).chain((0..2).map(|p| head(&own_values, p))).collect();
            let expected = reference(&q, &keys, &values, 0.125);
            for (d, (got, want)) in o.iter().zip(&expected).enumerate() {
                assert!((f64::from(*got) - want).abs() < 1e-5, "head size {hd}, value {d}: {got} vs {want}");
            }
        }
    }
}
