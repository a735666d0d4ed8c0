//! Short-time Fourier transform and its inverse, matching librosa's `stft`/`istft` with
//! `center=True`, `pad_mode="constant"` and a periodic Hann window centred in the FFT frame.
use super::{AudioConfig, SpectrogramError};
use realfft::num_complex::Complex32;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};
use std::sync::Arc;

/// A complex spectrogram stored frame-major: `data[frame * n_freqs + bin]`.
#[derive(Debug, Clone, Default)]
pub struct Spectrum {
    /// Number of frames.
    pub frames: usize,
    /// Bins per frame (n_fft / 2 + 1).
    pub n_freqs: usize,
    /// The complex values, frame-major.
    pub data: Vec<Complex32>,
}

impl Spectrum {
    /// A zeroed spectrum of the given shape.
    pub fn zeros(frames: usize, n_freqs: usize) -> Self {
        Self {
            frames,
            n_freqs,
            data: vec![Complex32::new(0.0, 0.0); frames * n_freqs],
        }
    }

    /// Resizes to the given shape, keeping the allocation when it is big enough.
    pub fn reshape(&mut self, frames: usize, n_freqs: usize) {
        self.frames = frames;
        self.n_freqs = n_freqs;
        self.data.resize(frames * n_freqs, Complex32::new(0.0, 0.0));
    }

    /// One frame's bins.
    pub fn frame(&self, t: usize) -> &[Complex32] {
        &self.data[t * self.n_freqs..(t + 1) * self.n_freqs]
    }
}

/// A planned STFT with its scratch buffers, reusable across calls without reallocating.
pub struct Stft {
    n_fft: usize,
    hop: usize,
    window: Vec<f32>,
    forward: Arc<dyn RealToComplex<f32>>,
    inverse: Arc<dyn ComplexToReal<f32>>,
    time: Vec<f32>,
    bins: Vec<Complex32>,
    scratch: Vec<Complex32>,
    /// Window-sum-square normalisation, cached for the last frame count used by `inverse`.
    wss: (usize, Vec<f32>),
}

impl Stft {
    /// Plans the transforms for `config` (n_fft, hop_length, win_length).
    pub fn new(config: &AudioConfig) -> Result<Self, SpectrogramError> {
        config.validate()?;
        let n_fft = config.n_fft;
        let mut planner = RealFftPlanner::<f32>::new();
        let forward = planner.plan_fft_forward(n_fft);
        let inverse = planner.plan_fft_inverse(n_fft);
        let scratch_len = forward.get_scratch_len().max(inverse.get_scratch_len());
        Ok(Self {
            n_fft,
            hop: config.hop_length,
            window: hann_padded(config.win_length, n_fft),
            time: forward.make_input_vec(),
            bins: forward.make_output_vec(),
            scratch: vec![Complex32::new(0.0, 0.0); scratch_len],
            forward,
            inverse,
            wss: (0, Vec::new()),
        })
    }

    /// Bins per frame.
    pub fn n_freqs(&self) -> usize {
        self.n_fft / 2 + 1
    }

    /// Forward STFT of `samples` into `out` (1 + len / hop frames, zero-padded by n_fft / 2).
    pub fn forward(&mut self, samples: &[f32], out: &mut Spectrum) {
        let frames = 1 + samples.len() / self.hop;
        let n_freqs = self.n_freqs();
        out.reshape(frames, n_freqs);
        let half = (self.n_fft / 2) as isize;
        for t in 0..frames {
            let origin = (t * self.hop) as isize - half;
            if origin >= 0 && origin as usize + self.n_fft <= samples.len() {
                // Interior frames (all but a few): a straight, vectorisable multiply.
                let src = &samples[origin as usize..origin as usize + self.n_fft];
                for ((x, s), w) in self.time.iter_mut().zip(src).zip(&self.window) {
                    *x = s * w;
                }
            } else {
                for (j, (x, w)) in self.time.iter_mut().zip(&self.window).enumerate() {
                    let i = origin + j as isize;
                    let inside = i >= 0 && (i as usize) < samples.len();
                    *x = if inside { samples[i as usize] * w } else { 0.0 };
                }
            }
            let dst = &mut out.data[t * n_freqs..(t + 1) * n_freqs];
            // Lengths are fixed by the plan, so the only possible error cannot happen here.
            let _ = self
                .forward
                .process_with_scratch(&mut self.time, dst, &mut self.scratch);
        }
    }

    /// Inverse STFT (overlap-add with window-sum-square normalisation), trimmed like librosa's
    /// centred `istft(length=...)` and zero-padded up to `length`.
    pub fn inverse(&mut self, spectrum: &Spectrum, length: usize, out: &mut Vec<f32>) {
        let half = self.n_fft / 2;
        // librosa drops frames that cannot reach the requested length.
        let frames = spectrum.frames.min((length + 2 * half).div_ceil(self.hop));
        let full = self.n_fft + self.hop * frames.saturating_sub(1);
        self.ensure_wss(frames, full);
        out.clear();
        out.resize(full, 0.0);
        let scale = 1.0 / self.n_fft as f32;
        for t in 0..frames {
            self.bins.copy_from_slice(spectrum.frame(t));
            // A real signal's DC and Nyquist bins are real; realfft rejects anything else.
            self.bins[0].im = 0.0;
            if let Some(last) = self.bins.last_mut() {
                last.im = 0.0;
            }
            let _ = self.inverse.process_with_scratch(
                &mut self.bins,
                &mut self.time,
                &mut self.scratch,
            );
            let dst = &mut out[t * self.hop..t * self.hop + self.n_fft];
            for ((y, x), w) in dst.iter_mut().zip(&self.time).zip(&self.window) {
                *y += x * w * scale;
            }
        }
        for (y, &norm) in out.iter_mut().zip(&self.wss.1) {
            if norm > f32::MIN_POSITIVE {
                *y /= norm;
            }
        }
        let end = (half + length).min(out.len());
        out.copy_within(half.min(end)..end, 0);
        out.truncate(end.saturating_sub(half));
        out.resize(length, 0.0);
    }

    fn ensure_wss(&mut self, frames: usize, full: usize) {
        if self.wss.0 == frames && self.wss.1.len() == full {
            return;
        }
        let mut wss = vec![0.0f32; full];
        for t in 0..frames {
            for (acc, w) in wss[t * self.hop..t * self.hop + self.n_fft]
                .iter_mut()
                .zip(&self.window)
            {
                *acc += w * w;
            }
        }
        self.wss = (frames, wss);
    }
}

/// A periodic Hann window of `win_length`, zero-padded symmetrically to `n_fft` (librosa's
/// `get_window("hann", win_length, fftbins=True)` + `pad_center`).
fn hann_padded(win_length: usize, n_fft: usize) -> Vec<f32> {
    let mut window = vec![0.0f32; n_fft];
    let left = (n_fft - win_length) / 2;
    for (n, w) in window[left..left + win_length].iter_mut().enumerate() {
        let phase = 2.0 * std::f64::consts::PI * n as f64 / win_length as f64;
        *w = (0.5 - 0.5 * phase.cos()) as f32;
    }
    window
}
