//! A Q8_0 matrix product for x86-64 with AVX2, FMA and F16C (and AVX-512 VNNI where present),
//! used instead of candle's when the CPU has them.
//!
//! It computes exactly what candle's AVX2 `vec_dot_q8_0_q8_0` computes, value for value (the
//! activation row quantized to Q8_0 the way candle's `BlockQ8_0::from_float` does it, then per
//! block `fma(d_w * d_x, float(sum of i8 products), acc)` into eight lanes, summed the same way),
//! but without candle's per-block out-of-line f16 conversions and spilled accumulator. Weight rows
//! are stored in groups of four, block by block, so one pass reads a group as a single stream and
//! serves one or two activation rows from each load. Each output still comes from one weight row
//! and one activation row alone, in a fixed order, so a row's results do not depend on how many
//! rows are in the product or which of them it is paired with.
//!
//! Where the CPU has AVX-512 (F, BW) and VNNI, the same sums come from a kernel that holds two
//! weight rows' blocks in one 512-bit register and forms the products in one `vpdpbusd` where AVX2
//! needs two multiplies. Integer block sums are exact and the eight partial sums per block are the
//! same lanes, so both kernels give the same bits (tested): answers do not depend on the CPU.

#![allow(unsafe_code)]

const BLOCK: usize = 32;
/// Bytes of one GGUF Q8_0 block: an f16 scale and 32 signed bytes.
const BLOCK_BYTES: usize = 2 + BLOCK;
/// Weight rows stored together, block by block (see [`Q8Matrix`]).
const GROUP: usize = 4;
/// Activation rows processed against one group of weight rows before moving to the next group,
/// so the group stays in L1 while the rows stream past it.
const ROW_TILE: usize = 16;

/// A Q8_0 weight matrix `[n, k]` with its scales already widened to f32 (exactly), its rows in
/// groups of four: for each group, block by block, the four rows' 32 bytes one after another (and
/// their four scales likewise). The last group is padded with zero rows, whose outputs are dropped.
#[derive(Debug)]
pub(super) struct Q8Matrix {
    n: usize,
    k: usize,
    /// `[groups, k / 32, 4, 32]` quantized weights.
    qs: Vec<i8>,
    /// `[groups, k / 32, 4]` block scales.
    scales: Vec<f32>,
    kernel: Kernel,
}

/// Which instructions compute the block products (same results on each).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kernel {
    Avx2,
    Avx512Vnni,
}

impl Kernel {
    /// The fastest this CPU runs.
    fn detect() -> Kernel {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("avx512vnni")
        {
            return Kernel::Avx512Vnni;
        }
        Kernel::Avx2
    }
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
        let blocks = k / BLOCK;
        let padded = n.div_ceil(GROUP) * GROUP;
        let mut qs = vec![0i8; padded * k];
        let mut scales = vec![0f32; padded * blocks];
        for (row, bytes) in data.chunks_exact(blocks * BLOCK_BYTES).enumerate() {
            for (b, block) in bytes.chunks_exact(BLOCK_BYTES).enumerate() {
                let at = Self::block_index(blocks, row, b);
                scales[at] = f16_bits_to_f32(u16::from_le_bytes([block[0], block[1]]));
                for (q, &byte) in qs[at * BLOCK..(at + 1) * BLOCK].iter_mut().zip(&block[2..]) {
                    *q = byte as i8;
                }
            }
        }
        Some(Q8Matrix { n, k, qs, scales, kernel: Kernel::detect() })
    }

    /// Where block `b` of weight row `row` sits, counted in blocks (its scale's index).
    fn block_index(blocks: usize, row: usize, b: usize) -> usize {
        ((row / GROUP) * blocks + b) * GROUP + row % GROUP
    }

    /// Rows `ids` of the matrix, dequantized (`[ids.len(), k]`): a block's values times its
    /// scale, as candle dequantizes Q8_0, so a tied embedding looked up here equals the file's.
    pub(super) fn rows(&self, ids: &[u32]) -> Vec<f32> {
        let blocks = self.k / BLOCK;
        let mut out = Vec::with_capacity(ids.len() * self.k);
        for &id in ids {
            for b in 0..blocks {
                let at = Self::block_index(blocks, id as usize, b);
                let d = self.scales[at];
                out.extend(self.qs[at * BLOCK..(at + 1) * BLOCK].iter().map(|&q| q as f32 * d));
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
        let groups = n.div_ceil(GROUP);
        let tiles = rows.div_ceil(ROW_TILE);
        let out_ptr = SendPtr(out.as_mut_ptr());
        let (x_qs, x_scales) = (&x_qs[..], &x_scales[..]);
        candle_core::utils::barrier_pool().execute_chunked(tiles * groups, |items| {
            let out_ptr = &out_ptr;
            for item in items {
                let (tile, group) = (item / groups, item % groups);
                let col = group * GROUP;
                let width = (n - col).min(GROUP);
                let wq = &self.qs[group * blocks * GROUP * BLOCK..(group + 1) * blocks * GROUP * BLOCK];
                let wd = &self.scales[group * blocks * GROUP..(group + 1) * blocks * GROUP];
                let kernel = self.kernel;
                let x_row = |row: usize| (&x_qs[row * k..(row + 1) * k], &x_scales[row * blocks..(row + 1) * blocks]);
                let tile_rows = tile * ROW_TILE..rows.min((tile + 1) * ROW_TILE);
                // Rows in pairs, each weight block read once for both; a lone last row alone.
                let mut row = tile_rows.start;
                while row < tile_rows.end {
                    let paired = if row + 1 < tile_rows.end { 2 } else { 1 };
                    // Prefetching the next group pays only on the first pass over this one;
                    // later passes find it in L1.
                    let prefetch = row == tile_rows.start && group + 1 < groups;
                    let results = if paired == 2 {
                        dot4x2(kernel, blocks, wq, wd, [x_row(row), x_row(row + 1)], prefetch)
                    } else {
                        let (xq, xd) = x_row(row);
                        [dot4(kernel, blocks, wq, wd, xq, xd, prefetch), [0f32; GROUP]]
                    };
                    for (r, result) in results.iter().enumerate().take(paired) {
                        // SAFETY: `row + r < rows` and `col + width <= n`, so these elements are
                        // inside `out` (`rows * n`), and each (row, column) belongs to exactly one
                        // work item, so no two threads write the same element; `out` outlives the
                        // pool call.
                        unsafe {
                            let dst = out_ptr.0.add((row + r) * n + col);
                            for (c, &value) in result.iter().enumerate().take(width) {
                                *dst.add(c) = value;
                            }
                        }
                    }
                    row += paired;
                }
            }
        });
        out
    }
}

/// A group's four weight rows (`wq`, `wd` as laid out in [`Q8Matrix`]) against one quantized
/// activation row.
fn dot4(kernel: Kernel, blocks: usize, wq: &[i8], wd: &[f32], xq: &[i8], xd: &[f32], prefetch: bool) -> [f32; GROUP] {
    assert!(wq.len() == blocks * GROUP * BLOCK && wd.len() == blocks * GROUP);
    assert!(xq.len() == blocks * BLOCK && xd.len() == blocks);
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a Q8Matrix exists only where `available()` found AVX2, FMA and F16C, and holds
    // `Kernel::Avx512Vnni` only where `Kernel::detect` found AVX-512 F, BW and VNNI; the slices
    // have the lengths the kernels read (checked above); the prefetched addresses are only hints.
    unsafe {
        let (wq, wd, xq, xd) = (wq.as_ptr(), wd.as_ptr(), xq.as_ptr(), xd.as_ptr());
        match (kernel, prefetch) {
            (Kernel::Avx2, true) => x86::dot4::<true>(blocks, wq, wd, xq, xd),
            (Kernel::Avx2, false) => x86::dot4::<false>(blocks, wq, wd, xq, xd),
            (Kernel::Avx512Vnni, true) => x86::wide::dot4::<true>(blocks, wq, wd, xq, xd),
            (Kernel::Avx512Vnni, false) => x86::wide::dot4::<false>(blocks, wq, wd, xq, xd),
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    unreachable!("Q8Matrix is only built on x86-64")
}

/// [`dot4`] for two activation rows: `[row][column]`.
fn dot4x2(
    kernel: Kernel,
    blocks: usize,
    wq: &[i8],
    wd: &[f32],
    x: [(&[i8], &[f32]); 2],
    prefetch: bool,
) -> [[f32; GROUP]; 2] {
    assert!(wq.len() == blocks * GROUP * BLOCK && wd.len() == blocks * GROUP);
    assert!(x.iter().all(|(xq, xd)| xq.len() == blocks * BLOCK && xd.len() == blocks));
    let [(x0, d0), (x1, d1)] = x;
    #[cfg(target_arch = "x86_64")]
    // SAFETY: as in `dot4`.
    unsafe {
        let (wq, wd) = (wq.as_ptr(), wd.as_ptr());
        let rows = [(x0.as_ptr(), d0.as_ptr()), (x1.as_ptr(), d1.as_ptr())];
        match (kernel, prefetch) {
            (Kernel::Avx2, true) => x86::dot4x2::<true>(blocks, wq, wd, rows),
            (Kernel::Avx2, false) => x86::dot4x2::<false>(blocks, wq, wd, rows),
            (Kernel::Avx512Vnni, true) => x86::wide::dot4x2::<true>(blocks, wq, wd, rows),
            (Kernel::Avx512Vnni, false) => x86::wide::dot4x2::<false>(blocks, wq, wd, rows),
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    unreachable!("Q8Matrix is only built on x86-64")
}

struct SendPtr(*mut f32);
// SAFETY: the pointer is only written through at disjoint elements (see `forward`).
unsafe impl Sync for SendPtr {}
unsafe impl Send for SendPtr {}

/// Quantizes each 32-value block as candle's `BlockQ8_0::from_float`: `d = amax / 127` rounded
/// to f16, values `round(x / d)` (with the unrounded `d`), in AVX2 (a Q8Matrix exists only where
/// the CPU has it), with the same results as [`quantize_rows_portably`].
fn quantize_rows(input: &[f32], qs: &mut [i8], scales: &mut [f32]) {
    assert!(input.len() == qs.len() && input.len() == scales.len() * BLOCK, "quantize_rows: mismatched buffers");
    #[cfg(target_arch = "x86_64")]
    for ((x, q), d_out) in input.chunks_exact(BLOCK).zip(qs.chunks_exact_mut(BLOCK)).zip(scales.iter_mut()) {
        // SAFETY: only reached from a Q8Matrix, which exists only where AVX2 and F16C were
        // detected; the chunks hold one block each.
        unsafe { *d_out = x86::quantize_block(x, q) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    quantize_rows_portably(input, qs, scales);
}

/// [`quantize_rows`] in plain Rust, as candle writes it.
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
fn quantize_rows_portably(input: &[f32], qs: &mut [i8], scales: &mut [f32]) {
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

    use super::{BLOCK, GROUP};

    /// Bytes of one block of a group: four rows' 32 bytes.
    const GROUP_BLOCK: usize = GROUP * BLOCK;

    #[target_feature(enable = "f16c")]
    pub(super) fn f16_to_f32(bits: u16) -> f32 {
        _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(bits as i32)))
    }

    /// Round to nearest even, as the `half` crate (and so candle) does.
    #[target_feature(enable = "f16c")]
    pub(super) fn f32_to_f16(value: f32) -> u16 {
        _mm_extract_epi16::<0>(_mm_cvtps_ph::<_MM_FROUND_TO_NEAREST_INT>(_mm_set_ss(value))) as u16
    }

    /// One block of [`super::quantize_rows_portably`]: its f16-rounded scale, the 32 values into
    /// `q`. `f32::round` rounds halves away from zero: truncate, then step away from zero where
    /// the dropped fraction (exact, `x - trunc(x)`) is at least a half.
    ///
    /// # Safety
    /// The CPU must have AVX2 and F16C; `x` and `q` hold 32 values.
    #[target_feature(enable = "avx2,fma,f16c")]
    pub(super) unsafe fn quantize_block(x: &[f32], q: &mut [i8]) -> f32 {
        debug_assert!(x.len() == BLOCK && q.len() == BLOCK);
        // SAFETY: `x` holds four vectors of eight.
        let v = unsafe { [0, 8, 16, 24].map(|at| _mm256_loadu_ps(x.as_ptr().add(at))) };
        let magnitude = _mm256_set1_ps(f32::from_bits(0x7fff_ffff));
        let mut amax = _mm256_setzero_ps();
        for v in v {
            amax = _mm256_max_ps(amax, _mm256_and_ps(v, magnitude));
        }
        let amax = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps(amax, 1));
        let amax = _mm_max_ps(amax, _mm_movehl_ps(amax, amax));
        let amax = _mm_cvtss_f32(_mm_max_ss(amax, _mm_movehdup_ps(amax)));
        let d = amax / ((1 << 7) - 1) as f32;
        let id = _mm256_set1_ps(if d != 0f32 { 1. / d } else { 0. });
        let (half, one, sign) = (_mm256_set1_ps(0.5), _mm256_set1_ps(1.0), _mm256_set1_ps(-0.0));
        let rounded = v.map(|v| {
            let scaled = _mm256_mul_ps(v, id);
            let truncated = _mm256_round_ps::<{ _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC }>(scaled);
            let fraction = _mm256_and_ps(_mm256_sub_ps(scaled, truncated), magnitude);
            let away = _mm256_or_ps(_mm256_and_ps(scaled, sign), one);
            let step = _mm256_and_ps(_mm256_cmp_ps::<_CMP_GE_OQ>(fraction, half), away);
            _mm256_cvtps_epi32(_mm256_add_ps(truncated, step))
        });
        // i32 -> i16 -> i8 packs interleave 128-bit lanes; the permutation puts them back in order.
        let words = [_mm256_packs_epi32(rounded[0], rounded[1]), _mm256_packs_epi32(rounded[2], rounded[3])];
        let bytes = _mm256_packs_epi16(words[0], words[1]);
        let ordered = _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        // SAFETY: `q` holds 32 bytes.
        unsafe { _mm256_storeu_si256(q.as_mut_ptr() as *mut __m256i, ordered) };
        f16_to_f32(f32_to_f16(d))
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

    /// candle's `mul_sum_i8_pairs_float(w, y)` given `magnitude == sign(w, w)`: float sums of
    /// pairs of i8 products.
    #[target_feature(enable = "avx2,fma")]
    fn products(magnitude: __m256i, w: __m256i, y: __m256i) -> __m256 {
        let dot = _mm256_maddubs_epi16(magnitude, _mm256_sign_epi8(y, w));
        _mm256_cvtepi32_ps(_mm256_madd_epi16(_mm256_set1_epi16(1), dot))
    }

    /// Hints that the next group's block `b` will be read soon: one pass over a group is short
    /// (`k` bytes a row), too short for the hardware prefetcher to catch up on its own.
    #[target_feature(enable = "avx2,fma")]
    fn prefetch_next_group(wq: *const i8, blocks: usize, b: usize) {
        let next = wq.wrapping_add((blocks + b) * GROUP_BLOCK);
        _mm_prefetch::<_MM_HINT_T0>(next);
        _mm_prefetch::<_MM_HINT_T0>(next.wrapping_add(64));
    }

    /// Dot products of a group's four weight rows with one quantized activation row.
    ///
    /// # Safety
    /// The CPU must have AVX2 and FMA; `wq` must point at `blocks * 128` bytes (a group, laid
    /// out as in `Q8Matrix`), `wd` at `blocks * 4` scales, `xq` at `blocks * 32` bytes and `xd`
    /// at `blocks` scales.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn dot4<const PREFETCH: bool>(
        blocks: usize,
        wq: *const i8,
        wd: *const f32,
        xq: *const i8,
        xd: *const f32,
    ) -> [f32; GROUP] {
        let mut acc = [_mm256_setzero_ps(); GROUP];
        for b in 0..blocks {
            // SAFETY: block `b < blocks` of the group and of the row are inside what the caller
            // vouched for.
            unsafe {
                let w = wq.add(b * GROUP_BLOCK);
                let y = _mm256_loadu_si256(xq.add(b * BLOCK) as *const __m256i);
                let yd = *xd.add(b);
                if PREFETCH {
                    prefetch_next_group(wq, blocks, b);
                }
                for (j, acc) in acc.iter_mut().enumerate() {
                    let wj = _mm256_loadu_si256(w.add(j * BLOCK) as *const __m256i);
                    let scale = _mm256_set1_ps(*wd.add(b * GROUP + j) * yd);
                    *acc = _mm256_fmadd_ps(scale, products(_mm256_sign_epi8(wj, wj), wj, y), *acc);
                }
            }
        }
        [hsum(acc[0]), hsum(acc[1]), hsum(acc[2]), hsum(acc[3])]
    }

    /// [`dot4`] for two activation rows at once: each weight block is loaded, and its magnitude
    /// taken, once for both, and the eight scales of a block are formed in two vector products.
    /// Every (weight row, activation row) pair accumulates exactly as in [`dot4`], so the results
    /// are the same bits.
    ///
    /// # Safety
    /// As [`dot4`], for each of the two activation rows.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn dot4x2<const PREFETCH: bool>(
        blocks: usize,
        wq: *const i8,
        wd: *const f32,
        x: [(*const i8, *const f32); 2],
    ) -> [[f32; GROUP]; 2] {
        let [(x0, xd0), (x1, xd1)] = x;
        let mut acc0 = [_mm256_setzero_ps(); GROUP];
        let mut acc1 = [_mm256_setzero_ps(); GROUP];
        let mut scales = [0f32; 2 * GROUP];
        for b in 0..blocks {
            // SAFETY: block `b < blocks` of the group and of both rows are inside what the caller
            // vouched for; `scales` holds eight floats.
            unsafe {
                let w = wq.add(b * GROUP_BLOCK);
                if PREFETCH {
                    prefetch_next_group(wq, blocks, b);
                }
                let dw = _mm_loadu_ps(wd.add(b * GROUP));
                _mm_storeu_ps(scales.as_mut_ptr(), _mm_mul_ps(dw, _mm_set1_ps(*xd0.add(b))));
                _mm_storeu_ps(scales.as_mut_ptr().add(GROUP), _mm_mul_ps(dw, _mm_set1_ps(*xd1.add(b))));
                let y0 = _mm256_loadu_si256(x0.add(b * BLOCK) as *const __m256i);
                let y1 = _mm256_loadu_si256(x1.add(b * BLOCK) as *const __m256i);
                for j in 0..GROUP {
                    let wj = _mm256_loadu_si256(w.add(j * BLOCK) as *const __m256i);
                    let magnitude = _mm256_sign_epi8(wj, wj);
                    let s0 = _mm256_broadcast_ss(&*scales.as_ptr().add(j));
                    acc0[j] = _mm256_fmadd_ps(s0, products(magnitude, wj, y0), acc0[j]);
                    let s1 = _mm256_broadcast_ss(&*scales.as_ptr().add(GROUP + j));
                    acc1[j] = _mm256_fmadd_ps(s1, products(magnitude, wj, y1), acc1[j]);
                }
            }
        }
        [
            [hsum(acc0[0]), hsum(acc0[1]), hsum(acc0[2]), hsum(acc0[3])],
            [hsum(acc1[0]), hsum(acc1[1]), hsum(acc1[2]), hsum(acc1[3])],
        ]
    }

    /// The kernels with AVX-512 and VNNI: a group's block is two 512-bit registers, rows 0–1 and
    /// 2–3, against the activation block repeated in both halves. Each half's eight lanes hold
    /// exactly the AVX2 kernel's eight partial sums and accumulators, so every output is the same.
    pub(in super::super) mod wide {
        use std::arch::x86_64::*;

        use super::super::{BLOCK, GROUP};
        use super::{GROUP_BLOCK, hsum, prefetch_next_group};

        /// Sums of four i8 products per 32-bit lane as floats: `|w|` (unsigned) times `y` with
        /// `w`'s sign, as AVX2's `maddubs` + `madd` give them (no partial sum can saturate, as
        /// `|w|, |y| <= 128`), in one `vpdpbusd`. Where `w` is zero, `|w|` makes the product zero,
        /// as `sign` does.
        #[target_feature(enable = "avx512f,avx512bw,avx512vnni,avx2,fma")]
        fn products(magnitude: __m512i, negative: __mmask64, y: __m512i) -> __m512 {
            let zero = _mm512_setzero_si512();
            let signed = _mm512_mask_sub_epi8(y, negative, zero, y);
            _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(zero, magnitude, signed))
        }

        /// A block's weight scales times the activation's, each over its row's eight lanes:
        /// rows 0–1, then rows 2–3.
        #[target_feature(enable = "avx512f,avx2,fma")]
        fn block_scales(dw: __m128, yd: f32) -> [__m512; 2] {
            let products = _mm512_castps128_ps512(_mm_mul_ps(dw, _mm_set1_ps(yd)));
            let rows01 = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
            let rows23 = _mm512_setr_epi32(2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
            [_mm512_permutexvar_ps(rows01, products), _mm512_permutexvar_ps(rows23, products)]
        }

        /// Each half's horizontal sum, as the AVX2 kernel sums its accumulator.
        #[target_feature(enable = "avx512f,avx2,fma")]
        fn half_sums(acc: __m512) -> [f32; 2] {
            let high = _mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(acc)));
            [hsum(_mm512_castps512_ps256(acc)), hsum(high)]
        }

        /// The two halves of a group's block `b`: `(|w|, w < 0)` for rows 0–1 and rows 2–3.
        ///
        /// # Safety
        /// `w` points at a group's block (128 bytes).
        #[target_feature(enable = "avx512f,avx512bw,avx2,fma")]
        unsafe fn weight_halves(w: *const i8) -> [(__m512i, __mmask64); 2] {
            [0, 2 * BLOCK].map(|at| {
                // SAFETY: `at + 64 <= 128` bytes of the block the caller vouched for.
                let half = unsafe { _mm512_loadu_si512(w.add(at) as *const __m512i) };
                (_mm512_abs_epi8(half), _mm512_movepi8_mask(half))
            })
        }

        /// The activation block `b` of a row, in both halves of a register.
        ///
        /// # Safety
        /// `x` points at a row's `blocks * 32` bytes, `b < blocks`.
        #[target_feature(enable = "avx512f,avx2,fma")]
        unsafe fn activation(x: *const i8, b: usize) -> __m512i {
            // SAFETY: as the caller vouched.
            _mm512_broadcast_i64x4(unsafe { _mm256_loadu_si256(x.add(b * BLOCK) as *const __m256i) })
        }

        /// [`super::dot4`] with AVX-512 and VNNI.
        ///
        /// # Safety
        /// As [`super::dot4`], and the CPU must have AVX-512 F, BW and VNNI.
        #[target_feature(enable = "avx512f,avx512bw,avx512vnni,avx2,fma")]
        pub(in super::super::super) unsafe fn dot4<const PREFETCH: bool>(
            blocks: usize,
            wq: *const i8,
            wd: *const f32,
            xq: *const i8,
            xd: *const f32,
        ) -> [f32; GROUP] {
            let mut acc = [_mm512_setzero_ps(); 2];
            for b in 0..blocks {
                // SAFETY: block `b < blocks` of the group and of the row are inside what the
                // caller vouched for.
                unsafe {
                    if PREFETCH {
                        prefetch_next_group(wq, blocks, b);
                    }
                    let y = activation(xq, b);
                    let scales = block_scales(_mm_loadu_ps(wd.add(b * GROUP)), *xd.add(b));
                    let halves = weight_halves(wq.add(b * GROUP_BLOCK));
                    for h in 0..2 {
                        let (magnitude, negative) = halves[h];
                        acc[h] = _mm512_fmadd_ps(scales[h], products(magnitude, negative, y), acc[h]);
                    }
                }
            }
            let ([w0, w1], [w2, w3]) = (half_sums(acc[0]), half_sums(acc[1]));
            [w0, w1, w2, w3]
        }

        /// [`super::dot4x2`] with AVX-512 and VNNI: each weight half's magnitude and signs are
        /// taken once for both activation rows.
        ///
        /// # Safety
        /// As [`super::dot4x2`], and the CPU must have AVX-512 F, BW and VNNI.
        #[target_feature(enable = "avx512f,avx512bw,avx512vnni,avx2,fma")]
        pub(in super::super::super) unsafe fn dot4x2<const PREFETCH: bool>(
            blocks: usize,
            wq: *const i8,
            wd: *const f32,
            x: [(*const i8, *const f32); 2],
        ) -> [[f32; GROUP]; 2] {
            let mut acc = [[_mm512_setzero_ps(); 2]; 2];
            for b in 0..blocks {
                // SAFETY: block `b < blocks` of the group and of both rows are inside what the
                // caller vouched for.
                unsafe {
                    if PREFETCH {
                        prefetch_next_group(wq, blocks, b);
                    }
                    let dw = _mm_loadu_ps(wd.add(b * GROUP));
                    let halves = weight_halves(wq.add(b * GROUP_BLOCK));
                    for (r, &(xq, xd)) in x.iter().enumerate() {
                        let y = activation(xq, b);
                        let scales = block_scales(dw, *xd.add(b));
                        for h in 0..2 {
                            let (magnitude, negative) = halves[h];
                            acc[r][h] = _mm512_fmadd_ps(scales[h], products(magnitude, negative, y), acc[r][h]);
                        }
                    }
                }
            }
            acc.map(|[low, high]| {
                let ([w0, w1], [w2, w3]) = (half_sums(low), half_sums(high));
                [w0, w1, w2, w3]
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use candle_core::quantized::{GgmlDType, QMatMul, QTensor};
    use candle_core::{Device, Module, Tensor};
    use rand::{Rng, SeedableRng};

    use super::*;

    /// Whether this CPU runs the kernel; says the test is skipped where it does not.
    fn kernel_runs_here() -> bool {
        if !available() {
            eprintln!("skipped: this CPU lacks AVX2/FMA/F16C, so the kernel is not used");
        }
        available()
    }

    fn assert_same_bits(got: &[f32], expected: &[f32], what: &str) {
        assert_eq!(got.len(), expected.len(), "{what}: lengths");
        for (i, (a, b)) in got.iter().zip(expected).enumerate() {
            assert_eq!(a.to_bits(), b.to_bits(), "{what}: element {i}: {a} vs {b}");
        }
    }

    /// The vector quantizer against the plain one, on random blocks and on blocks built to hit
    /// exact halves (both signs), zeros and an all-zero block.
    #[test]
    fn vector_quantization_equals_candles_rounding() {
        if !kernel_runs_here() {
            return;
        }
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(5);
        let mut input: Vec<f32> = (0..64 * BLOCK).map(|_| rng.random_range(-3.0f32..3.0)).collect();
        // amax 127 makes the scale 1, so these values are exact halves after scaling.
        for (i, v) in input[..BLOCK].iter_mut().enumerate() {
            *v = if i == 0 { 127.0 } else { (i as f32 - 16.0) + 0.5 };
        }
        input[BLOCK..2 * BLOCK].fill(0.0);
        let blocks = input.len() / BLOCK;
        let (mut ours, mut plain) =
            ((vec![0i8; input.len()], vec![0f32; blocks]), (vec![0i8; input.len()], vec![0f32; blocks]));
        quantize_rows(&input, &mut ours.0, &mut ours.1);
        quantize_rows_portably(&input, &mut plain.0, &mut plain.1);
        assert_eq!(ours.0, plain.0);
        assert!(ours.1.iter().zip(&plain.1).all(|(a, b)| a.to_bits() == b.to_bits()));
        assert_eq!(&ours.0[1..4], &[-15, -14, -13], "halves round away from zero");
        assert_eq!(&ours.0[17..20], &[2, 3, 4], "halves round away from zero");
    }

    /// The AVX-512 VNNI kernel against the AVX2 one on the same matrices: the same bits, one row
    /// or many (pairs and a lone last row), with weights at the extremes (-128, -127, 0, 127),
    /// and widths that leave 1–3 columns after the groups of four.
    #[test]
    fn both_kernels_give_the_same_bits() {
        if !kernel_runs_here() || Kernel::detect() != Kernel::Avx512Vnni {
            eprintln!("skipped: this CPU lacks AVX-512 VNNI, so only the AVX2 kernel runs");
            return;
        }
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(11);
        for (rows, k, n) in [(1, 32, 4), (1, 96, 7), (2, 64, 9), (5, 128, 13), (17, 64, 6), (33, 256, 22)] {
            let blocks = k / BLOCK;
            let mut bytes = Vec::with_capacity(n * blocks * BLOCK_BYTES);
            for _ in 0..n * blocks {
                let scale = f32_to_f16_bits(rng.random_range(0.001f32..0.05));
                bytes.extend_from_slice(&scale.to_le_bytes());
                for i in 0..BLOCK {
                    let q: i8 = match rng.random_range(0..8) {
                        0 => [-128, -127, 0, 127][i % 4],
                        _ => rng.random(),
                    };
                    bytes.push(q as u8);
                }
            }
            let mut matrix =
                Q8Matrix::from_gguf_bytes(&bytes, n, k).unwrap_or_else(|| panic!("no Q8 matrix for {n}x{k}"));
            let input: Vec<f32> = (0..rows * k).map(|_| rng.random_range(-4.0f32..4.0)).collect();
            let wide = matrix.forward(&input, rows);
            matrix.kernel = Kernel::Avx2;
            let narrow = matrix.forward(&input, rows);
            assert_same_bits(&wide, &narrow, &format!("rows {rows} k {k} n {n}"));
        }
    }

    /// Our kernel against candle's quantized matmul on the same Q8_0 weights: bit-identical, for
    /// single rows and batches, and for widths that leave 1–3 columns after the groups of four.
    #[test]
    fn the_kernel_equals_candles_q8_0_matmul_bit_for_bit() {
        if !kernel_runs_here() {
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
            assert_same_bits(&ours.forward(&input, rows), &expected, &format!("rows {rows} k {k} n {n}"));
        }
    }
}
