//! A Q8_0 matrix product for x86-64 with AVX2, FMA and F16C, used instead of candle's when the
//! CPU has them.
//!
//! It computes exactly what candle's AVX2 `vec_dot_q8_0_q8_0` computes, value for value (the
//! activation row quantized to Q8_0 the way candle's `BlockQ8_0::from_float` does it, then per
//! block `fma(d_w * d_x, float(sum of i8 products), acc)` into eight lanes, summed the same way),
//! but without candle's per-block out-of-line f16 conversions and spilled accumulator, and with
//! four weight rows per pass over the activation row. Each output still comes from one weight
//! row and one activation row alone, in a fixed order, so a row's results do not depend on how
//! many rows are in the product.

#![allow(unsafe_code)]

const BLOCK: usize = 32;
/// Bytes of one GGUF Q8_0 block: an f16 scale and 32 signed bytes.
const BLOCK_BYTES: usize = 2 + BLOCK;
/// Activation rows processed against one group of weight rows before moving to the next group,
/// so the group stays in L1 while the rows stream past it.
const ROW_TILE: usize = 16;

/// A Q8_0 weight matrix `[n, k]` with its scales already widened to f32 (exactly).
#[derive(Debug)]
pub(super) struct Q8Matrix {
    n: usize,
    k: usize,
    /// `[n, k]` quantized weights.
    qs: Vec<i8>,
    /// `[n, k / 32]` block scales.
    scales: Vec<f32>,
}

/// Whether this CPU can run [`Q8Matrix`] products.
pub(super) fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("fma")
            && std::arch::is_x86_feature_detected!("f16c")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

impl Q8Matrix {
    /// From GGUF Q8_0 block data of an `[n, k]` matrix; `None` where the CPU lacks the features
    /// or the data does not fit the shape.
    pub(super) fn from_gguf_bytes(data: &[u8], n: usize, k: usize) -> Option<Self> {
        if !available() || k == 0 || !k.is_multiple_of(BLOCK) || data.len() != n * (k / BLOCK) * BLOCK_BYTES {
            return None;
        }
        let mut qs = Vec::with_capacity(n * k);
        let mut scales = Vec::with_capacity(n * k / BLOCK);
        for block in data.chunks_exact(BLOCK_BYTES) {
            scales.push(f16_bits_to_f32(u16::from_le_bytes([block[0], block[1]])));
            qs.extend(block[2..].iter().map(|&b| b as i8));
        }
        Some(Q8Matrix { n, k, qs, scales })
    }

    /// Rows `ids` of the matrix, dequantized (`[ids.len(), k]`): a block's values times its
    /// scale, as candle dequantizes Q8_0, so a tied embedding looked up here equals the file's.
    pub(super) fn rows(&self, ids: &[u32]) -> Vec<f32> {
        let (k, blocks) = (self.k, self.k / BLOCK);
        let mut out = Vec::with_capacity(ids.len() * k);
        for &id in ids {
            let id = id as usize;
            let (qs, scales) = (&self.qs[id * k..(id + 1) * k], &self.scales[id * blocks..(id + 1) * blocks]);
            for (block, &d) in qs.chunks_exact(BLOCK).zip(scales) {
                out.extend(block.iter().map(|&q| q as f32 * d));
            }
        }
        out
    }

    /// `input` (`[rows, k]`) times this matrix transposed: `[rows, n]`.
    pub(super) fn forward(&self, input: &[f32], rows: usize) -> Vec<f32> {
        let (n, k) = (self.n, self.k);
        assert_eq!(input.len(), rows * k, "Q8Matrix::forward: input is not [{rows}, {k}]");
        let blocks = k / BLOCK;
        let mut x_qs = vec![0i8; rows * k];
        let mut x_scales = vec![0f32; rows * blocks];
        quantize_rows(input, &mut x_qs, &mut x_scales);
        let mut out = vec![0f32; rows * n];
        let groups = n.div_ceil(4);
        let tiles = rows.div_ceil(ROW_TILE);
        let out_ptr = SendPtr(out.as_mut_ptr());
        let (x_qs, x_scales) = (&x_qs[..], &x_scales[..]);
        candle_core::utils::barrier_pool().execute_chunked(tiles * groups, |items| {
            let out_ptr = &out_ptr;
            for item in items {
                let (tile, group) = (item / groups, item % groups);
                let col = group * 4;
                let width = (n - col).min(4);
                for row in tile * ROW_TILE..rows.min((tile + 1) * ROW_TILE) {
                    let xq = &x_qs[row * k..(row + 1) * k];
                    let xd = &x_scales[row * blocks..(row + 1) * blocks];
                    let mut result = [0f32; 4];
                    if width == 4 {
                        result = self.dot4(col, xq, xd);
                    } else {
                        for (c, r) in result.iter_mut().enumerate().take(width) {
                            *r = self.dot1(col + c, xq, xd);
                        }
                    }
                    // SAFETY: `row < rows` and `col + width <= n`, so these elements are inside
                    // `out` (`rows * n`), and each (row, column) belongs to exactly one work item,
                    // so no two threads write the same element; `out` outlives the pool call.
                    unsafe {
                        let dst = out_ptr.0.add(row * n + col);
                        for (c, &r) in result.iter().enumerate().take(width) {
                            *dst.add(c) = r;
                        }
                    }
                }
            }
        });
        out
    }

    fn dot4(&self, col: usize, xq: &[i8], xd: &[f32]) -> [f32; 4] {
        let (k, blocks) = (self.k, self.k / BLOCK);
        let wq = &self.qs[col * k..(col + 4) * k];
        let wd = &self.scales[col * blocks..(col + 4) * blocks];
        assert!(xq.len() == k && xd.len() == blocks);
        #[cfg(target_arch = "x86_64")]
        // SAFETY: a Q8Matrix exists only where `available()` found AVX2, FMA and F16C, and the
        // slices have the lengths the kernel reads (checked above).
        unsafe {
            x86::dot4(blocks, wq, wd, xq, xd)
        }
        #[cfg(not(target_arch = "x86_64"))]
        unreachable!("Q8Matrix is only built on x86-64")
    }

    fn dot1(&self, col: usize, xq: &[i8], xd: &[f32]) -> f32 {
        let (k, blocks) = (self.k, self.k / BLOCK);
        let wq = &self.qs[col * k..(col + 1) * k];
        let wd = &self.scales[col * blocks..(col + 1) * blocks];
        assert!(xq.len() == k && xd.len() == blocks);
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as in `dot4`.
        unsafe {
            x86::dot1(blocks, wq, wd, xq, xd)
        }
        #[cfg(not(target_arch = "x86_64"))]
        unreachable!("Q8Matrix is only built on x86-64")
    }
}

struct SendPtr(*mut f32);
// SAFETY: the pointer is only written through at disjoint elements (see `forward`).
unsafe impl Sync for SendPtr {}
unsafe impl Send for SendPtr {}

/// Quantizes each 32-value block as candle's `BlockQ8_0::from_float`: `d = amax / 127` rounded
/// to f16, values `round(x / d)` (with the unrounded `d`).
fn quantize_rows(input: &[f32], qs: &mut [i8], scales: &mut [f32]) {
    for ((x, q), d_out) in input.chunks_exact(BLOCK).zip(qs.chunks_exact_mut(BLOCK)).zip(scales.iter_mut()) {
        let mut amax = 0f32;
        for &v in x {
            amax = amax.max(v.abs());
        }
        let d = amax / ((1 << 7) - 1) as f32;
        let id = if d != 0f32 { 1. / d } else { 0. };
        *d_out = f16_bits_to_f32(f32_to_f16_bits(d));
        for (q, &v) in q.iter_mut().zip(x) {
            *q = f32::round(v * id) as i8;
        }
    }
}

fn f16_bits_to_f32(bits: u16) -> f32 {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: only reached from a Q8Matrix, which exists only where F16C was detected.
    unsafe {
        x86::f16_to_f32(bits)
    }
    #[cfg(not(target_arch = "x86_64"))]
    unreachable!("Q8Matrix is only built on x86-64")
}

fn f32_to_f16_bits(value: f32) -> u16 {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: as in `f16_bits_to_f32`.
    unsafe {
        x86::f32_to_f16(value)
    }
    #[cfg(not(target_arch = "x86_64"))]
    unreachable!("Q8Matrix is only built on x86-64")
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use super::BLOCK;

    #[target_feature(enable = "f16c")]
    pub(super) fn f16_to_f32(bits: u16) -> f32 {
        _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(bits as i32)))
    }

    /// Round to nearest even, as the `half` crate (and so candle) does.
    #[target_feature(enable = "f16c")]
    pub(super) fn f32_to_f16(value: f32) -> u16 {
        _mm_extract_epi16::<0>(_mm_cvtps_ph::<_MM_FROUND_TO_NEAREST_INT>(_mm_set_ss(value))) as u16
    }

    /// candle's `hsum_float_8`.
    #[target_feature(enable = "avx2,fma")]
    fn hsum(x: __m256) -> f32 {
        let res = _mm256_extractf128_ps(x, 1);
        let res = _mm_add_ps(res, _mm256_castps256_ps128(x));
        let res = _mm_add_ps(res, _mm_movehl_ps(res, res));
        let res = _mm_add_ss(res, _mm_movehdup_ps(res));
        _mm_cvtss_f32(res)
    }

    /// Float sums of pairs of i8 products, as candle's `mul_sum_i8_pairs_float`.
    #[target_feature(enable = "avx2,fma")]
    fn products(x: __m256i, y: __m256i) -> __m256 {
        let ax = _mm256_sign_epi8(x, x);
        let sy = _mm256_sign_epi8(y, x);
        let dot = _mm256_maddubs_epi16(ax, sy);
        _mm256_cvtepi32_ps(_mm256_madd_epi16(_mm256_set1_epi16(1), dot))
    }

    /// Dot products of four consecutive weight rows (`wq`: `[4, blocks * 32]`, `wd`: `[4,
    /// blocks]`) with one quantized activation row.
    ///
    /// # Safety
    /// The CPU must have AVX2 and FMA; `wq.len() == 4 * blocks * 32`, `wd.len() == 4 * blocks`,
    /// `xq.len() == blocks * 32`, `xd.len() == blocks`.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn dot4(blocks: usize, wq: &[i8], wd: &[f32], xq: &[i8], xd: &[f32]) -> [f32; 4] {
        let k = blocks * BLOCK;
        debug_assert!(wq.len() == 4 * k && wd.len() == 4 * blocks && xq.len() == k && xd.len() == blocks);
        let (w0, w1, w2, w3) = (wq.as_ptr(), wq[k..].as_ptr(), wq[2 * k..].as_ptr(), wq[3 * k..].as_ptr());
        let (d0, d1, d2, d3) = (&wd[..blocks], &wd[blocks..2 * blocks], &wd[2 * blocks..3 * blocks], &wd[3 * blocks..]);
        let mut acc = [_mm256_setzero_ps(); 4];
        for b in 0..blocks {
            let offset = b * BLOCK;
            // SAFETY: `offset + 32 <= k` and each row pointer has `k` bytes behind it.
            let (y, x0, x1, x2, x3) = unsafe {
                (
                    _mm256_loadu_si256(xq.as_ptr().add(offset) as *const __m256i),
                    _mm256_loadu_si256(w0.add(offset) as *const __m256i),
                    _mm256_loadu_si256(w1.add(offset) as *const __m256i),
                    _mm256_loadu_si256(w2.add(offset) as *const __m256i),
                    _mm256_loadu_si256(w3.add(offset) as *const __m256i),
                )
            };
            // The next four rows' block, for when this group is done: a single stream costs the
            // hardware prefetcher a while to pick up, and rows are short (k bytes).
            for row in 4..8 {
                _mm_prefetch::<_MM_HINT_T0>(w0.wrapping_add(row * k + offset));
            }
            let yd = xd[b];
            acc[0] = _mm256_fmadd_ps(_mm256_set1_ps(d0[b] * yd), products(x0, y), acc[0]);
            acc[1] = _mm256_fmadd_ps(_mm256_set1_ps(d1[b] * yd), products(x1, y), acc[1]);
            acc[2] = _mm256_fmadd_ps(_mm256_set1_ps(d2[b] * yd), products(x2, y), acc[2]);
            acc[3] = _mm256_fmadd_ps(_mm256_set1_ps(d3[b] * yd), products(x3, y), acc[3]);
        }
        [hsum(acc[0]), hsum(acc[1]), hsum(acc[2]), hsum(acc[3])]
    }

    /// One weight row's dot product with one quantized activation row.
    ///
    /// # Safety
    /// As [`dot4`], with one weight row.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn dot1(blocks: usize, wq: &[i8], wd: &[f32], xq: &[i8], xd: &[f32]) -> f32 {
        let k = blocks * BLOCK;
        debug_assert!(wq.len() == k && wd.len() == blocks && xq.len() == k && xd.len() == blocks);
        let mut acc = _mm256_setzero_ps();
        for b in 0..blocks {
            let offset = b * BLOCK;
            // SAFETY: `offset + 32 <= k` for both rows.
            let (y, x) = unsafe {
                (
                    _mm256_loadu_si256(xq.as_ptr().add(offset) as *const __m256i),
                    _mm256_loadu_si256(wq.as_ptr().add(offset) as *const __m256i),
                )
            };
            acc = _mm256_fmadd_ps(_mm256_set1_ps(wd[b] * xd[b]), products(x, y), acc);
        }
        hsum(acc)
    }
}

#[cfg(test)]
mod tests {
    use candle_core::quantized::{GgmlDType, QMatMul, QTensor};
    use candle_core::{Device, Module, Tensor};
    use rand::{Rng, SeedableRng};

    use super::*;

    /// Our kernel against candle's quantized matmul on the same Q8_0 weights: bit-identical, for
    /// single rows and batches, and for widths that leave 1–3 columns after the groups of four.
    #[test]
    fn the_kernel_equals_candles_q8_0_matmul_bit_for_bit() {
        if !available() {
            eprintln!("skipped: this CPU lacks AVX2/FMA/F16C, so the kernel is not used");
            return;
        }
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(3);
        for (rows, k, n) in [(1, 64, 8), (1, 96, 7), (3, 64, 13), (8, 128, 21), (17, 32, 6), (40, 64, 50)] {
            let weights: Vec<f32> = (0..n * k).map(|_| rng.random_range(-1.0f32..1.0)).collect();
            let input: Vec<f32> = (0..rows * k).map(|_| rng.random_range(-2.0f32..2.0)).collect();
            let tensor = Tensor::from_vec(weights, (n, k), &Device::Cpu).unwrap_or_else(|e| panic!("{e}"));
            let quantized = QTensor::quantize(&tensor, GgmlDType::Q8_0).unwrap_or_else(|e| panic!("{e}"));
            let bytes = quantized.data().unwrap_or_else(|e| panic!("{e}")).to_vec();
            let ours = Q8Matrix::from_gguf_bytes(&bytes, n, k).unwrap_or_else(|| panic!("no Q8 matrix for {n}x{k}"));
            let dequantized: Vec<f32> = quantized
                .dequantize(&Device::Cpu)
                .and_then(|t| t.flatten_all())
                .and_then(|t| t.to_vec1())
                .unwrap_or_else(|e| panic!("{e}"));
            let candle = QMatMul::from_qtensor(quantized).unwrap_or_else(|e| panic!("{e}"));
            let x = Tensor::from_vec(input.clone(), (rows, k), &Device::Cpu).unwrap_or_else(|e| panic!("{e}"));
            let expected: Vec<f32> = candle
                .forward(&x)
                .and_then(|y| y.flatten_all())
                .and_then(|y| y.to_vec1())
                .unwrap_or_else(|e| panic!("{e}"));
            let ids: Vec<u32> = (0..n as u32).rev().collect();
            let looked_up = ours.rows(&ids);
            for (i, &id) in ids.iter().enumerate() {
                let (ours, theirs) =
                    (&looked_up[i * k..(i + 1) * k], &dequantized[id as usize * k..(id as usize + 1) * k]);
                assert!(ours.iter().zip(theirs).all(|(a, b)| a.to_bits() == b.to_bits()), "row {id} of {n}x{k}");
            }
            let got = ours.forward(&input, rows);
            assert_eq!(got.len(), expected.len());
            for (i, (a, b)) in got.iter().zip(&expected).enumerate() {
                assert_eq!(a.to_bits(), b.to_bits(), "rows {rows} k {k} n {n}: element {i}: {a} vs {b}");
            }
        }
    }
}
