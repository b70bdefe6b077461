//! Search's forward pass: a frozen copy of a [`Network`]'s weights, evaluated with small safe-Rust
//! kernels whose arithmetic for a position never depends on the other positions in the batch.
//!
//! Why not candle here: (1) batch invariance — candle's matrix products pick their kernel and
//! blocking from the batch size, so a position's logits differ in the last bits between batch 1
//! and batch 256 (measured: 5 of 7 logits of a connect four resnet); (2) cost — candle-core 0.11
//! asks `num_cpus::get_physical()`, which parses `/proc/cpuinfo`, on every matrix product (and
//! for every image of a convolution) unless `RAYON_NUM_THREADS` is set, about 40 µs each on a
//! 2-core VM, more than a whole small-network evaluation here; (3) threads — these kernels run
//! in the calling thread and nowhere else, so the thread budget is whatever threads call them.
//!
//! Every output is `bias + Σ x·w` summed in eight interleaved partial sums in a fixed order
//! ([`dot_rows`]), the same code whether 1 or 4 rows are in flight, and Rust never reassociates
//! or contracts floating-point operations, so each row's bits are fixed by its own input.
//! Activations are stored cell-major (`[cell][channel]`), so a 3×3 convolution is a dense layer
//! over each cell's 3×3×C patch.

use super::{Architecture, Body, Network, NetworkError};

/// Partial sums per dot product (two SSE registers, one AVX register).
const LANES: usize = 8;

/// Which compiled copy of the dense kernel runs: the same Rust code built for the x86-64
/// baseline (SSE2) or with AVX2, chosen once by what the CPU reports. Both give the same bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Kernels(Compiled);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Compiled {
    Portable,
    #[cfg(target_arch = "x86_64")]
    Avx2,
}

impl Kernels {
    /// The widest kernels this CPU runs.
    pub fn detect() -> Kernels {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") {
            return Kernels(Compiled::Avx2);
        }
        Kernels(Compiled::Portable)
    }

    /// The baseline build, on every CPU (to compare against the detected one).
    pub fn portable() -> Kernels {
        Kernels(Compiled::Portable)
    }

    /// `avx2` or `portable`.
    pub fn name(self) -> &'static str {
        match self.0 {
            Compiled::Portable => "portable",
            #[cfg(target_arch = "x86_64")]
            Compiled::Avx2 => "avx2",
        }
    }
}
/// Rows a dense layer processes together, sharing each weight load.
const ROW_BLOCK: usize = 4;
/// Positions processed together layer by layer, bounding the scratch memory.
const CHUNK: usize = 16;

/// A fully connected layer: `weight` is `[outputs][inputs]` row-major.
#[derive(Clone, Debug)]
struct Dense {
    inputs: usize,
    weight: Vec<f32>,
    bias: Vec<f32>,
}

impl Dense {
    fn outputs(&self) -> usize {
        self.bias.len()
    }

    /// `out[r][o] = bias[o] + input[r] · weight[o]` for each row of `input`, with `kernels`.
    fn apply(&self, kernels: Kernels, input: &[f32], out: &mut Vec<f32>) {
        match kernels.0 {
            #[cfg(target_arch = "x86_64")]
            Compiled::Avx2 => {
                // SAFETY: `Compiled::Avx2` is only made by `Kernels::detect`, after the CPU
                // reported AVX2.
                #[allow(unsafe_code)]
                unsafe {
                    self.apply_avx2(input, out)
                }
            }
            Compiled::Portable => self.apply_with::<PortableDot>(input, out),
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn apply_avx2(&self, input: &[f32], out: &mut Vec<f32>) {
        self.apply_with::<Avx2Dot>(input, out)
    }

    #[inline(always)]
    fn apply_with<D: Dot>(&self, input: &[f32], out: &mut Vec<f32>) {
        let (k, outputs) = (self.inputs, self.outputs());
        let rows = input.len() / k;
        out.clear();
        out.resize(rows * outputs, 0.0);
        let mut row = 0;
        while row + ROW_BLOCK <= rows {
            let xs: [&[f32]; ROW_BLOCK] = std::array::from_fn(|j| &input[(row + j) * k..(row + j + 1) * k]);
            for (o, w) in self.weight.chunks_exact(k).enumerate() {
                let sums = D::dot(xs, w);
                for (j, sum) in sums.iter().enumerate() {
                    out[(row + j) * outputs + o] = sum + self.bias[o];
                }
            }
            row += ROW_BLOCK;
        }
        for row in row..rows {
            let x = [&input[row * k..(row + 1) * k]];
            for (o, w) in self.weight.chunks_exact(k).enumerate() {
                out[row * outputs + o] = D::dot(x, w)[0] + self.bias[o];
            }
        }
    }
}

/// `R` dot products of rows against one weight row, each as [`dot_rows`] defines it.
trait Dot {
    fn dot<const R: usize>(xs: [&[f32]; R], w: &[f32]) -> [f32; R];
}

struct PortableDot;

impl Dot for PortableDot {
    #[inline(always)]
    fn dot<const R: usize>(xs: [&[f32]; R], w: &[f32]) -> [f32; R] {
        dot_rows(xs, w)
    }
}

#[cfg(target_arch = "x86_64")]
struct Avx2Dot;

#[cfg(target_arch = "x86_64")]
impl Dot for Avx2Dot {
    #[inline(always)]
    fn dot<const R: usize>(xs: [&[f32]; R], w: &[f32]) -> [f32; R] {
        // SAFETY: only `Dense::apply_avx2` uses `Avx2Dot`, and it runs only where the CPU has AVX2.
        #[allow(unsafe_code)]
        unsafe {
            dot_rows_avx2(xs, w)
        }
    }
}

/// [`dot_rows`] with the eight partial sums in one 256-bit register: the same multiplications,
/// additions (no FMA) and final order, so the same bits.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[allow(unsafe_code)]
fn dot_rows_avx2<const R: usize>(xs: [&[f32]; R], w: &[f32]) -> [f32; R] {
    use std::arch::x86_64::{
        __m256, _mm256_add_ps, _mm256_loadu_ps, _mm256_mul_ps, _mm256_setzero_ps, _mm256_storeu_ps,
    };
    let k = w.len();
    assert!(xs.iter().all(|x| x.len() == k), "every row has the weight row's length");
    let full = k - k % LANES;
    let mut partial: [__m256; R] = [_mm256_setzero_ps(); R];
    let mut at = 0;
    while at < full {
        // SAFETY: `at + LANES <= full <= k`, the length of `w` and of every row.
        let w8 = unsafe { _mm256_loadu_ps(w.as_ptr().add(at)) };
        for (x, partial) in xs.iter().zip(partial.iter_mut()) {
            let x8 = unsafe { _mm256_loadu_ps(x.as_ptr().add(at)) };
            *partial = _mm256_add_ps(*partial, _mm256_mul_ps(x8, w8));
        }
        at += LANES;
    }
    let mut sums = [0.0f32; R];
    for r in 0..R {
        let mut p = [0.0f32; LANES];
        // SAFETY: `p` holds eight floats.
        unsafe { _mm256_storeu_ps(p.as_mut_ptr(), partial[r]) };
        let mut sum = ((p[0] + p[4]) + (p[1] + p[5])) + ((p[2] + p[6]) + (p[3] + p[7]));
        for i in full..k {
            sum += xs[r][i] * w[i];
        }
        sums[r] = sum;
    }
    sums
}

/// `R` dot products against one weight row. Each row's sum is computed with the same operations in
/// the same order whatever `R` is: that is what makes inference batch-invariant.
#[inline(always)]
fn dot_rows<const R: usize>(xs: [&[f32]; R], w: &[f32]) -> [f32; R] {
    let k = w.len();
    let full = k - k % LANES;
    let mut partial = [[0.0f32; LANES]; R];
    let mut rows = xs.map(|x| x[..full].chunks_exact(LANES));
    for wc in w[..full].chunks_exact(LANES) {
        let w8 = lanes(wc);
        for (row, partial) in rows.iter_mut().zip(partial.iter_mut()) {
            let x8 = lanes(row.next().unwrap_or(wc));
            for lane in 0..LANES {
                partial[lane] += x8[lane] * w8[lane];
            }
        }
    }
    let mut sums = [0.0f32; R];
    for r in 0..R {
        let p = &partial[r];
        let mut sum = ((p[0] + p[4]) + (p[1] + p[5])) + ((p[2] + p[6]) + (p[3] + p[7]));
        for i in full..k {
            sum += xs[r][i] * w[i];
        }
        sums[r] = sum;
    }
    sums
}

/// A chunk from `chunks_exact(LANES)` as an array, so the lane loop compiles to vector operations.
#[inline(always)]
fn lanes(chunk: &[f32]) -> [f32; LANES] {
    std::array::from_fn(|lane| chunk[lane])
}

fn relu(values: &mut [f32]) {
    for v in values {
        *v = v.max(0.0);
    }
}

/// The layers of a residual net, weights reordered for cell-major activations.
#[derive(Clone, Debug)]
struct Residual {
    planes: usize,
    rows: usize,
    columns: usize,
    /// 3×3 convolutions as dense layers over `[ky][kx][channel]` patches.
    stem: Dense,
    blocks: Vec<(Dense, Dense)>,
    /// 1×1 convolutions: dense layers over one cell's channels.
    policy_conv: Dense,
    policy_fc: Dense,
    value_conv: Dense,
    value_fc1: Dense,
    value_fc2: Dense,
    norms: Option<Norms>,
}

/// A layer norm's per-channel scale and shift.
#[derive(Clone, Debug)]
struct LayerNorm {
    scale: Vec<f32>,
    shift: Vec<f32>,
}

impl LayerNorm {
    fn of(norm: &super::Norm) -> Result<LayerNorm, NetworkError> {
        Ok(LayerNorm { scale: values_of(&norm.scale)?, shift: values_of(&norm.shift)? })
    }

    /// Normalises each image of cell-major `values` (`[image][cell][channel]`) over all its values,
    /// in a fixed order per image (so batch-invariant), then scales and shifts each channel.
    fn apply(&self, values: &mut [f32], per_image: usize) {
        let channels = self.scale.len();
        for image in values.chunks_exact_mut(per_image) {
            let count = image.len() as f32;
            let mean = image.iter().sum::<f32>() / count;
            let variance = image.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / count;
            let spread = (variance + super::NORM_EPSILON).sqrt();
            for (index, v) in image.iter_mut().enumerate() {
                let channel = index % channels;
                *v = (*v - mean) / spread * self.scale[channel] + self.shift[channel];
            }
        }
    }
}

/// The norms of a resnet with `norm=true`.
#[derive(Clone, Debug)]
struct Norms {
    stem: LayerNorm,
    blocks: Vec<(LayerNorm, LayerNorm)>,
    policy: LayerNorm,
    value: LayerNorm,
}

/// Applies `norm`, when there is one, to `values` of `per_image` floats per image.
fn maybe_norm(norm: Option<&LayerNorm>, values: &mut [f32], per_image: usize) {
    if let Some(norm) = norm {
        norm.apply(values, per_image);
    }
}

#[derive(Clone, Debug)]
enum Layers {
    Mlp { hidden: Vec<Dense>, policy: Dense, value: Dense },
    Resnet(Box<Residual>),
}

/// A network's weights frozen for search. Cheap to share (`Arc`) between game workers.
#[derive(Clone, Debug)]
pub struct InferenceNet {
    architecture: Architecture,
    observation_size: usize,
    actions: usize,
    layers: Layers,
    kernels: Kernels,
}

/// Reusable buffers for [`InferenceNet::infer`]; one per thread that evaluates.
#[derive(Clone, Debug, Default)]
pub struct Scratch {
    a: Vec<f32>,
    b: Vec<f32>,
    c: Vec<f32>,
    patches: Vec<f32>,
}

impl InferenceNet {
    /// A copy of `network`'s current weights (later training of the network does not change it).
    pub fn from_network(network: &Network) -> Result<InferenceNet, NetworkError> {
        let layers = match &network.body {
            Body::Mlp { hidden, policy, value } => Layers::Mlp {
                hidden: hidden.iter().map(dense).collect::<Result<_, _>>()?,
                policy: dense(policy)?,
                value: dense(value)?,
            },
            Body::Resnet { planes, stem, blocks, policy_conv, policy_fc, value_conv, value_fc1, value_fc2, norms } => {
                Layers::Resnet(Box::new(Residual {
                    planes: planes[0],
                    rows: planes[1],
                    columns: planes[2],
                    stem: conv(stem)?,
                    blocks: blocks
                        .iter()
                        .map(|(a, b)| Ok((conv(a)?, conv(b)?)))
                        .collect::<Result<_, NetworkError>>()?,
                    policy_conv: conv(policy_conv)?,
                    policy_fc: dense(policy_fc)?,
                    value_conv: conv(value_conv)?,
                    value_fc1: dense(value_fc1)?,
                    value_fc2: dense(value_fc2)?,
                    norms: match norms {
                        Some(n) => Some(Norms {
                            stem: LayerNorm::of(&n.stem)?,
                            blocks: n
                                .blocks
                                .iter()
                                .map(|(a, b)| Ok((LayerNorm::of(a)?, LayerNorm::of(b)?)))
                                .collect::<Result<_, NetworkError>>()?,
                            policy: LayerNorm::of(&n.policy)?,
                            value: LayerNorm::of(&n.value)?,
                        }),
                        None => None,
                    },
                }))
            }
        };
        Ok(InferenceNet {
            architecture: network.architecture,
            observation_size: network.observation_size,
            actions: network.actions,
            layers,
            kernels: Kernels::detect(),
        })
    }

    /// The same weights evaluated with `kernels` (they give the same bits; only speed differs).
    pub fn with_kernels(mut self, kernels: Kernels) -> InferenceNet {
        self.kernels = kernels;
        self
    }

    /// The kernels [`InferenceNet::infer`] runs.
    pub fn kernels(&self) -> Kernels {
        self.kernels
    }

    pub fn architecture(&self) -> Architecture {
        self.architecture
    }

    /// Floats per observation.
    pub fn observation_size(&self) -> usize {
        self.observation_size
    }

    /// Policy logits per position.
    pub fn actions(&self) -> usize {
        self.actions
    }

    /// Writes the policy logits (`actions` per position) and values (tanh, in [-1, 1]) of the
    /// positions in `observations` (`observation_size` floats each) into `logits` and `values`.
    /// A position's results are bit-identical whatever else is in `observations`.
    pub fn infer(
        &self,
        scratch: &mut Scratch,
        observations: &[f32],
        logits: &mut [f32],
        values: &mut [f32],
    ) -> Result<(), NetworkError> {
        let rows = observations.len() / self.observation_size;
        if rows * self.observation_size != observations.len()
            || logits.len() != rows * self.actions
            || values.len() != rows
        {
            return Err(NetworkError::BadInput(format!(
                "{} observation floats, {} logits and {} values do not make whole positions of {} floats and {} actions",
                observations.len(),
                logits.len(),
                values.len(),
                self.observation_size,
                self.actions
            )));
        }
        let chunks = observations
            .chunks(CHUNK * self.observation_size)
            .zip(logits.chunks_mut(CHUNK * self.actions))
            .zip(values.chunks_mut(CHUNK));
        for ((observations, logits), values) in chunks {
            match &self.layers {
                Layers::Mlp { hidden, policy, value } => {
                    mlp(self.kernels, hidden, policy, value, scratch, observations, logits, values)
                }
                Layers::Resnet(net) => net.infer(self.kernels, scratch, observations, logits, values),
            }
        }
        Ok(())
    }
}

#[allow(clippy::too_many_arguments)]
fn mlp(
    kernels: Kernels,
    hidden: &[Dense],
    policy: &Dense,
    value: &Dense,
    scratch: &mut Scratch,
    observations: &[f32],
    logits: &mut [f32],
    values: &mut [f32],
) {
    let Scratch { a, b, .. } = scratch;
    a.clear();
    a.extend_from_slice(observations);
    for layer in hidden {
        layer.apply(kernels, a, b);
        relu(b);
        std::mem::swap(a, b);
    }
    policy.apply(kernels, a, b);
    logits.copy_from_slice(b);
    value.apply(kernels, a, b);
    for (out, v) in values.iter_mut().zip(b.iter()) {
        *out = v.tanh();
    }
}

impl Residual {
    fn cells(&self) -> usize {
        self.rows * self.columns
    }

    fn infer(
        &self,
        kernels: Kernels,
        scratch: &mut Scratch,
        observations: &[f32],
        logits: &mut [f32],
        values: &mut [f32],
    ) {
        let cells = self.cells();
        let images = values.len();
        let Scratch { a, b, c, patches } = scratch;
        // Observations are [plane][row][column]; activations are [image][cell][channel].
        a.clear();
        a.resize(observations.len(), 0.0);
        for (image, observation) in observations.chunks_exact(self.planes * cells).enumerate() {
            for plane in 0..self.planes {
                for cell in 0..cells {
                    a[(image * cells + cell) * self.planes + plane] = observation[plane * cells + cell];
                }
            }
        }
        let channels = self.stem.outputs();
        let norms = self.norms.as_ref();
        self.conv3x3(kernels, &self.stem, self.planes, a, patches, b);
        maybe_norm(norms.map(|n| &n.stem), b, cells * channels);
        relu(b);
        std::mem::swap(a, b);
        for (index, (first, second)) in self.blocks.iter().enumerate() {
            let block_norms = norms.map(|n| &n.blocks[index]);
            self.conv3x3(kernels, first, channels, a, patches, b);
            maybe_norm(block_norms.map(|(n, _)| n), b, cells * channels);
            relu(b);
            self.conv3x3(kernels, second, channels, b, patches, c);
            maybe_norm(block_norms.map(|(_, n)| n), c, cells * channels);
            for (x, branch) in a.iter_mut().zip(c.iter()) {
                *x = (*x + branch).max(0.0);
            }
        }

        // Policy head: a 1×1 conv to 2 planes, flattened plane-major as candle's reshape does.
        self.policy_conv.apply(kernels, a, b);
        maybe_norm(norms.map(|n| &n.policy), b, cells * 2);
        relu(b);
        c.clear();
        c.resize(images * 2 * cells, 0.0);
        for image in 0..images {
            for cell in 0..cells {
                for plane in 0..2 {
                    c[image * 2 * cells + plane * cells + cell] = b[(image * cells + cell) * 2 + plane];
                }
            }
        }
        self.policy_fc.apply(kernels, c, b);
        logits.copy_from_slice(b);

        // Value head: a 1×1 conv to 1 plane (cell-major is plane-major for one plane), two dense.
        self.value_conv.apply(kernels, a, c);
        maybe_norm(norms.map(|n| &n.value), c, cells);
        relu(c);
        self.value_fc1.apply(kernels, c, b);
        relu(b);
        self.value_fc2.apply(kernels, b, c);
        for (out, v) in values.iter_mut().zip(c.iter()) {
            *out = v.tanh();
        }
    }

    /// A 3×3 convolution with zero padding: gathers each cell's `[ky][kx][channel]` patch, then
    /// applies `layer` to every patch.
    fn conv3x3(
        &self,
        kernels: Kernels,
        layer: &Dense,
        channels: usize,
        input: &[f32],
        patches: &mut Vec<f32>,
        out: &mut Vec<f32>,
    ) {
        let (rows, columns, cells) = (self.rows, self.columns, self.cells());
        let patch = 9 * channels;
        let images = input.len() / (cells * channels);
        patches.clear();
        patches.resize(images * cells * patch, 0.0);
        for image in 0..images {
            let source = &input[image * cells * channels..(image + 1) * cells * channels];
            for row in 0..rows {
                for column in 0..columns {
                    let at = ((image * cells) + row * columns + column) * patch;
                    for ky in 0..3 {
                        let Some(y) = (row + ky).checked_sub(1).filter(|&y| y < rows) else { continue };
                        for kx in 0..3 {
                            let Some(x) = (column + kx).checked_sub(1).filter(|&x| x < columns) else { continue };
                            let from = (y * columns + x) * channels;
                            let to = at + (ky * 3 + kx) * channels;
                            patches[to..to + channels].copy_from_slice(&source[from..from + channels]);
                        }
                    }
                }
            }
        }
        layer.apply(kernels, patches, out);
    }
}

fn values_of(tensor: &candle_core::Tensor) -> Result<Vec<f32>, NetworkError> {
    Ok(tensor.flatten_all()?.to_vec1::<f32>()?)
}

fn bias_of(bias: Option<&candle_core::Tensor>, outputs: usize) -> Result<Vec<f32>, NetworkError> {
    match bias {
        Some(bias) => values_of(bias),
        None => Ok(vec![0.0; outputs]),
    }
}

fn dense(layer: &candle_nn::Linear) -> Result<Dense, NetworkError> {
    let (outputs, inputs) = layer.weight().dims2()?;
    Ok(Dense { inputs, weight: values_of(layer.weight())?, bias: bias_of(layer.bias(), outputs)? })
}

/// A convolution's weights `[out][in][ky][kx]` reordered to `[out][ky][kx][in]` (patch order).
fn conv(layer: &candle_nn::Conv2d) -> Result<Dense, NetworkError> {
    let (outputs, inputs, kh, kw) = layer.weight().dims4()?;
    let source = values_of(layer.weight())?;
    let mut weight = vec![0.0; source.len()];
    for o in 0..outputs {
        for i in 0..inputs {
            for y in 0..kh {
                for x in 0..kw {
                    weight[((o * kh + y) * kw + x) * inputs + i] = source[((o * inputs + i) * kh + y) * kw + x];
                }
            }
        }
    }
    Ok(Dense { inputs: inputs * kh * kw, weight, bias: bias_of(layer.bias(), outputs)? })
}
