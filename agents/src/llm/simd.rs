//! Attention of one query head against a sequence's cached keys and values, and the SwiGLU
//! activation, in AVX2 with FMA where the CPU has them (the head's output held in registers over
//! all positions, exponentials eight at a time) and portable Rust otherwise. The choice is made once per process, so every row of every batch takes the
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

/// `silu(gate) * up` into `out` (all three the same length): `gate / (1 + exp(-gate)) * up`.
pub(super) fn silu_mul(gate: &[f32], up: &[f32], out: &mut [f32]) {
    assert!(gate.len() == up.len() && up.len() == out.len(), "silu_mul: mismatched lengths");
    #[cfg(target_arch = "x86_64")]
    if avx2_fma() {
        // SAFETY: the CPU has AVX2 and FMA (checked above).
        return unsafe { x86::silu_mul(gate, up, out) };
    }
    for ((o, g), u) in out.iter_mut().zip(gate).zip(up) {
        *o = g / (1.0 + (-g).exp()) * u;
    }
}

/// `Σ exp(v - max)` over `values` (each at most `max`), the exponentials eight at a time in AVX2
/// where available and summed in f64.
pub(super) fn sum_exp_below(values: &[f32], max: f32) -> f64 {
    #[cfg(target_arch = "x86_64")]
    if avx2_fma() {
        // SAFETY: the CPU has AVX2 and FMA (checked above).
        return unsafe { x86::sum_exp_below(values, max) };
    }
    values.iter().map(|&v| f64::from(v - max).exp()).sum()
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

    use super::{KvLayout, Segment};

    /// [`super::attend`] for heads of `8 * L` values: a query in `L` registers, four positions'
    /// scores at a time (four FMA chains, reduced together), the exponentials eight at a time,
    /// and the output accumulated in `L` registers over every position, divided by the sum once
    /// and stored once. Each score is reduced by the same tree whichever positions share its
    /// pass, so a row's output does not depend on how its positions are split into segments.
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
            let scale = _mm_set1_ps(scale);
            for segment in segments {
                let key = |p: usize| segment.keys.as_ptr().add(p * layout.stride + layout.offset);
                let mut p = 0;
                while p < segment.positions {
                    // A pass short of four positions repeats its last one.
                    let n = (segment.positions - p).min(4);
                    let keys = [key(p), key(p + 1.min(n - 1)), key(p + 2.min(n - 1)), key(p + 3.min(n - 1))];
                    let mut acc = keys.map(|k| _mm256_mul_ps(query[0], _mm256_loadu_ps(k)));
                    for (l, lane) in query.iter().enumerate().skip(1) {
                        for (acc, k) in acc.iter_mut().zip(keys) {
                            *acc = _mm256_fmadd_ps(*lane, _mm256_loadu_ps(k.add(8 * l)), *acc);
                        }
                    }
                    let mut four = [0f32; 4];
                    _mm_storeu_ps(four.as_mut_ptr(), _mm_mul_ps(horizontal_sums(acc), scale));
                    scores.extend_from_slice(&four[..n]);
                    p += n;
                }
            }
            let sum = softmax_numerators(scores);
            let mut out = [_mm256_setzero_ps(); L];
            let mut t = 0;
            for segment in segments {
                for p in 0..segment.positions {
                    let v = segment.values.as_ptr().add(p * layout.stride + layout.offset);
                    let weight = _mm256_set1_ps(scores[t]);
                    for (l, lane) in out.iter_mut().enumerate() {
                        *lane = _mm256_fmadd_ps(weight, _mm256_loadu_ps(v.add(8 * l)), *lane);
                    }
                    t += 1;
                }
            }
            let sum = _mm256_set1_ps(sum);
            for (l, lane) in out.iter().enumerate() {
                _mm256_storeu_ps(o.as_mut_ptr().add(8 * l), _mm256_div_ps(*lane, sum));
            }
        }
    }

    /// The horizontal sums of four vectors, each by the same tree: `((v0 + v1) + (v2 + v3)) +
    /// ((v4 + v5) + (v6 + v7))`.
    #[target_feature(enable = "avx2,fma")]
    fn horizontal_sums(v: [__m256; 4]) -> __m128 {
        let pairs = _mm256_hadd_ps(_mm256_hadd_ps(v[0], v[1]), _mm256_hadd_ps(v[2], v[3]));
        _mm_add_ps(_mm256_castps256_ps128(pairs), _mm256_extractf128_ps(pairs, 1))
    }

    /// [`super::softmax_numerators`] with the exponentials eight at a time ([`exp`]) and eight
    /// running sums, added by a fixed tree at the end.
    #[target_feature(enable = "avx2,fma")]
    pub(super) fn softmax_numerators(scores: &mut [f32]) -> f32 {
        let max = _mm256_set1_ps(scores.iter().fold(f32::NEG_INFINITY, |m, &s| m.max(s)));
        let mut sums = _mm256_setzero_ps();
        for chunk in scores.chunks_mut(8) {
            let mut lanes = [0f32; 8];
            lanes[..chunk.len()].copy_from_slice(chunk);
            // SAFETY: `lanes` holds eight values.
            let e = unsafe { exp(_mm256_sub_ps(_mm256_loadu_ps(lanes.as_ptr()), max)) };
            // SAFETY: as above.
            unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), e) };
            chunk.copy_from_slice(&lanes[..chunk.len()]);
            // Lanes past the chunk's end add nothing.
            lanes[chunk.len()..].fill(0.0);
            // SAFETY: as above.
            sums = _mm256_add_ps(sums, unsafe { _mm256_loadu_ps(lanes.as_ptr()) });
        }
        _mm_cvtss_f32(horizontal_sums([sums; 4]))
    }

    /// [`super::sum_exp_below`]: [`exp`] eight at a time, each widened to f64 and added into
    /// eight running sums, which are added in a fixed order at the end. A short last chunk is
    /// padded with `-inf`, whose exponential is 0.
    ///
    /// # Safety
    /// The CPU must have AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn sum_exp_below(values: &[f32], max: f32) -> f64 {
        let max = _mm256_set1_ps(max);
        let (mut low, mut high) = (_mm256_setzero_pd(), _mm256_setzero_pd());
        for chunk in values.chunks(8) {
            let mut lanes = [f32::NEG_INFINITY; 8];
            lanes[..chunk.len()].copy_from_slice(chunk);
            // SAFETY: `lanes` holds eight values; the CPU has AVX2 and FMA.
            let e = unsafe { exp(_mm256_sub_ps(_mm256_loadu_ps(lanes.as_ptr()), max)) };
            low = _mm256_add_pd(low, _mm256_cvtps_pd(_mm256_castps256_ps128(e)));
            high = _mm256_add_pd(high, _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
        }
        let mut sums = [0f64; 8];
        // SAFETY: `sums` holds eight values.
        unsafe {
            _mm256_storeu_pd(sums.as_mut_ptr(), low);
            _mm256_storeu_pd(sums.as_mut_ptr().add(4), high);
        }
        sums.iter().sum()
    }

    /// `silu(gate) * up`, eight values at a time: `gate / (1 + exp(-gate)) * up`.
    ///
    /// # Safety
    /// The CPU must have AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn silu_mul(gate: &[f32], up: &[f32], out: &mut [f32]) {
        let one = _mm256_set1_ps(1.0);
        let (gates, ups, outs) = (gate.chunks_exact(8), up.chunks_exact(8), out.chunks_exact_mut(8));
        let tail = gates.remainder().len();
        for ((g, u), o) in gates.zip(ups).zip(outs) {
            // SAFETY: each chunk holds eight values.
            unsafe {
                let g = _mm256_loadu_ps(g.as_ptr());
                let silu = _mm256_div_ps(g, _mm256_add_ps(one, exp(_mm256_sub_ps(_mm256_setzero_ps(), g))));
                _mm256_storeu_ps(o.as_mut_ptr(), _mm256_mul_ps(silu, _mm256_loadu_ps(u.as_ptr())));
            }
        }
        let start = gate.len() - tail;
        for ((g, u), o) in gate[start..].iter().zip(&up[start..]).zip(&mut out[start..]) {
            *o = g / (1.0 + (-g).exp()) * u;
        }
    }

    /// `exp` of eight values, after Cephes' `expf`: `x = n ln 2 + r`, a degree-5 polynomial in
    /// `r`, times `2^n`; within a few units in the last place over the range where the result is
    /// a normal float. Inputs are clamped to [-88.376, 88], so large ones give about 1.7e38 and
    /// very negative ones 0.
    ///
    /// # Safety
    /// The CPU must have AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn exp(x: __m256) -> __m256 {
        let x = _mm256_max_ps(_mm256_min_ps(x, _mm256_set1_ps(88.0)), _mm256_set1_ps(-88.376_26));
        let n = _mm256_floor_ps(_mm256_fmadd_ps(x, _mm256_set1_ps(std::f32::consts::LOG2_E), _mm256_set1_ps(0.5)));
        // ln 2 in two parts, so that `n * ln 2` is subtracted without losing `r`'s low bits.
        let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693_359_4), x);
        let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.121_944_4e-4), r);
        let mut p = _mm256_set1_ps(1.987_569_1e-4);
        for c in [1.398_199_9e-3, 8.333_452e-3, 4.166_579_6e-2, 0.166_666_65, 0.5] {
            p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(c));
        }
        let y = _mm256_add_ps(_mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r), _mm256_set1_ps(1.0));
        let two_n = _mm256_slli_epi32::<23>(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)));
        _mm256_mul_ps(y, _mm256_castsi256_ps(two_n))
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

    /// However a row's positions are split between a prefix and its own cache, the output is the
    /// same bits: the prefix cache relies on it.
    #[test]
    fn splitting_the_positions_into_segments_changes_no_bit() {
        let (hd, positions) = (64usize, 23usize);
        let value = |i: usize, salt: f32| ((i * 37 % 101) as f32 * 0.021 + salt).sin();
        let keys: Vec<f32> = (0..positions * hd).map(|i| value(i, 0.3)).collect();
        let values: Vec<f32> = (0..positions * hd).map(|i| value(i, 0.7)).collect();
        let q: Vec<f32> = (0..hd).map(|d| value(d, 1.1)).collect();
        let layout = KvLayout { stride: hd, offset: 0 };
        let run = |split: usize| {
            let (prefix, own) = (split * hd, positions - split);
            let segments = [
                Segment { keys: &keys[..prefix], values: &values[..prefix], positions: split },
                Segment { keys: &keys[prefix..], values: &values[prefix..], positions: own },
            ];
            let mut o = vec![0.0f32; hd];
            super::attend(&q, &segments, layout, 0.125, &mut Vec::new(), &mut o);
            o.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        };
        let whole = run(0);
        for split in 1..positions {
            assert_eq!(run(split), whole, "split after {split} positions");
        }
    }

    #[test]
    fn the_activation_matches_plain_arithmetic() {
        let gate: Vec<f32> = (0..37).map(|i| (i as f32 - 18.0) * 0.9).chain([-120.0, 95.0, 0.0]).collect();
        let up: Vec<f32> = (0..gate.len()).map(|i| 1.0 + i as f32 * 0.01).collect();
        let mut out = vec![0.0f32; gate.len()];
        super::silu_mul(&gate, &up, &mut out);
        for ((g, u), o) in gate.iter().zip(&up).zip(&out) {
            let (g, u) = (f64::from(*g), f64::from(*u));
            let want = g / (1.0 + (-g).exp()) * u;
            assert!((f64::from(*o) - want).abs() <= 1e-6 * want.abs().max(1e-3), "silu({g}) * {u}: {o} vs {want}");
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn vector_exp_is_within_a_few_ulp() {
        if !super::avx2_fma() {
            eprintln!("skipped: this CPU lacks AVX2/FMA");
            return;
        }
        let mut worst = 0f64;
        for i in 0..20_000 {
            let x = -87.0 + i as f32 * (87.0 + 87.0) / 20_000.0;
            let mut lanes = [0f32; 8];
            // SAFETY: the CPU has AVX2 and FMA (checked above); `lanes` holds eight values.
            unsafe {
                use std::arch::x86_64::*;
                _mm256_storeu_ps(lanes.as_mut_ptr(), super::x86::exp(_mm256_set1_ps(x)));
            }
            let want = f64::from(x).exp();
            let ulp = f64::from(f32::EPSILON) * want;
            worst = worst.max((f64::from(lanes[0]) - want).abs() / ulp);
        }
        assert!(worst < 4.0, "worst error {worst} ulp");
    }

    #[test]
    fn the_sum_of_exponentials_matches_plain_arithmetic() {
        for len in [1usize, 7, 8, 9, 1000, 49_153] {
            let values: Vec<f32> = (0..len).map(|i| ((i * 7919 % 1000) as f32 * 0.03 - 25.0).min(4.0)).collect();
            let max = values.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
            let want: f64 = values.iter().map(|&v| f64::from(v - max).exp()).sum();
            let got = super::sum_exp_below(&values, max);
            assert!((got - want).abs() <= 1e-6 * want, "{len} values: {got} vs {want}");
        }
    }
}
