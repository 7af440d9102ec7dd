//! DeltaNet and Gated DeltaNet kernels: the baseline of the paper's
//! architecture task.
//!
//! * [`reference`] holds CPU implementations generic over `f32`/`f64`: the
//!   token-by-token recurrence (the ground truth), the chunked WY form that
//!   fast kernels use, and the chunked backward pass.
//! * [`cpu`] holds the fast CPU forward passes (heads in parallel with
//!   rayon, chunk products on `matrixmultiply`'s GEMM microkernels), each
//!   tested against its reference.
//! * [`gpu`] holds the CUDA forward kernels, compiled at run time with NVRTC
//!   and launched through `cudarc`, which loads the driver at run time so
//!   everything builds and tests run on machines without a GPU.
//!
//! Layout everywhere is row-major `[B, T, H, D]` for `q`, `k`, `v`,
//! `[B, T, H]` for `beta` and `g`, and `[B, H, Dk, Dv]` for states.

pub mod cpu;
pub mod error;
pub mod float;
pub mod gpu;
pub mod reference;
pub mod shape;
pub mod splitmix;

pub use error::KernelError;
pub use float::Float;
pub use shape::Dims;
