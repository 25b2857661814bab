//! A plain, per-pixel reference implementation of the background model.
//!
//! Each pixel owns a `Vec` of modes kept in descending weight order and the update reads
//! like the description in docs/design.md §5. It is slow and meant to be obviously correct: the
//! fast [`crate::model::BackgroundModel`] must produce the same masks (tests check this on
//! random frames).

// Index loops mirror the maths (lanes, modes, matrix entries) more clearly here.
#![allow(clippy::needless_range_loop)]

use crate::error::{Error, Result};
use crate::model::{illumination_gain, quantise, Method, ModelParams};
use crate::pixel::{sg_vec, zivkovic_pixel, Coef, Mode, MASK_SHADOW};

/// The reference background model. Same constructor arguments and results as
/// [`crate::model::BackgroundModel`], one pixel at a time on one thread.
#[derive(Clone, Debug)]
pub struct ReferenceModel {
    params: ModelParams,
    width: usize,
    height: usize,
    channels: usize,
    pixels: Vec<Vec<Mode>>,
    frames: u64,
    ratios: Vec<f32>,
    score: Vec<u8>,
    slow: Vec<u8>,
    run: Vec<u32>,
    blink: Vec<f32>,
}

impl ReferenceModel {
    /// A model for `width`×`height` frames with `channels` (1 or 3) channels.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for bad parameters or sizes.
    pub fn new(params: &ModelParams, width: usize, height: usize, channels: usize) -> Result<Self> {
        params.validate()?;
        if width == 0 || height == 0 || (channels != 1 && channels != 3) {
            return Err(Error::param(
                "frame shape",
                format!("{width}x{height}x{channels}"),
                "must be non-empty with 1 or 3 channels",
            ));
        }
        Ok(ReferenceModel {
            params: params.clone(),
            width,
            height,
            channels,
            pixels: vec![Vec::new(); width * height],
            frames: 0,
            ratios: Vec::new(),
            score: vec![0; width * height],
            slow: vec![0; width * height],
            run: vec![0; width * height],
            blink: vec![0.0; width * height],
        })
    }

    /// The modes of pixel (x, y), strongest first.
    pub fn pixel_modes(&self, x: usize, y: usize) -> &[Mode] {
        &self.pixels[y * self.width + x]
    }

    /// Updates the model with `frame` and writes the mask (0 / 127 / 255).
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] when a buffer's length does not fit.
    pub fn apply(&mut self, frame: &[u8], mask: &mut [u8]) -> Result<()> {
        let (w, h, c) = (self.width, self.height, self.channels);
        if frame.len() != w * h * c || mask.len() != w * h {
            return Err(Error::ShapeMismatch {
                expected: format!("{w}x{h}x{c} frame and {w}x{h} mask"),
                got: format!("{} and {} bytes", frame.len(), mask.len()),
            });
        }
        let gain = if self.params.illumination_compensation && self.frames > 0 {
            let pixels = &self.pixels;
            illumination_gain(frame, w, h, c, &mut self.ratios, |y, x| {
                pixels[y * w + x]
                    .first()
                    .map(|m| m.mean.iter().fold(0.0f32, |s, &v| s + v))
            })
        } else {
            1.0
        };
        self.frames += 1;
        let fast = Coef::new(&self.params, self.params.alpha(self.frames), gain, c);
        let slow = fast.slowed();
        for (i, modes) in self.pixels.iter_mut().enumerate() {
            let coef = if self.slow[i] != 0 { slow } else { fast };
            let x: Vec<f32> = frame[i * c..(i + 1) * c]
                .iter()
                .map(|&v| v as f32 * coef.inv_gain)
                .collect();
            let (m, d2min) = match (self.params.method, c) {
                (Method::Zivkovic, _) => zivkovic_pixel(modes, &x, &coef),
                (Method::StaufferGrimson, 1) => sg_vec::<1>(modes, &x, &coef),
                _ => sg_vec::<3>(modes, &x, &coef),
            };
            mask[i] = m;
            self.score[i] = match m {
                MASK_SHADOW => 0,
                _ => quantise(d2min, coef.qscale),
            };
        }
        if self.params.support_radius > 0 {
            crate::post::support_mask(
                &self.score,
                mask,
                w,
                h,
                self.params.support_radius,
                self.params.support_threshold_q(),
                self.params.support_floor_q(),
                &mut Vec::new(),
            );
        }
        if self.params.displacement {
            let pixels = &self.pixels;
            crate::model::displace(
                frame,
                mask,
                w,
                h,
                c,
                fast.inv_gain,
                fast.tb * self.params.displacement_threshold,
                &mut Vec::new(),
                |j, mu| {
                    let md = pixels[j].first()?;
                    for (d, &v) in mu.iter_mut().zip(&md.mean) {
                        *d = v;
                    }
                    Some(md.variance)
                },
            );
        }
        if self.params.propagation_rate > 0.0 && self.params.method == Method::Zivkovic {
            let pk = Coef::new(
                &self.params,
                self.params.alpha(self.frames) * self.params.propagation_rate,
                gain,
                c,
            );
            let pixels = &mut self.pixels;
            crate::model::propagate(frame, mask, w, h, c, fast.inv_gain, |i, x| {
                zivkovic_pixel(&mut pixels[i], x, &pk);
            });
        }
        if self.params.foreground_rate < 1.0 {
            crate::model::feedback(
                mask,
                &mut self.run,
                &mut self.blink,
                &mut self.slow,
                self.params.foreground_hold,
                self.params.foreground_blink_limit,
            );
        }
        Ok(())
    }
}
