//! Safe strided matrix views over `matrixmultiply`'s GEMM microkernels.
//!
//! `matrixmultiply` packs panels and runs register-blocked kernels chosen at
//! run time (AVX2+FMA or AVX on x86-64), so the chunked products run at the
//! core's SIMD width even in a build for the baseline `x86-64` target. Its
//! entry points take raw pointers and strides; [`MatRef`] checks every index
//! they can reach against its slice first, which is what makes [`gemm`] safe.

use crate::float::Float;

/// Scalars `matrixmultiply` has kernels for.
pub trait GemmFloat: Float {
    /// `C <- alpha A B + beta C` through `matrixmultiply`.
    ///
    /// # Safety
    /// Every element the shapes and strides address must lie inside the
    /// allocations behind `a`, `b` and `c`, and `c` must not alias `a` or `b`.
    #[allow(clippy::too_many_arguments)]
    unsafe fn gemm_raw(
        m: usize,
        k: usize,
        n: usize,
        alpha: Self,
        a: (*const Self, isize, isize),
        b: (*const Self, isize, isize),
        beta: Self,
        c: (*mut Self, isize, isize),
    );
}

impl GemmFloat for f32 {
    unsafe fn gemm_raw(
        m: usize,
        k: usize,
        n: usize,
        alpha: f32,
        a: (*const f32, isize, isize),
        b: (*const f32, isize, isize),
        beta: f32,
        c: (*mut f32, isize, isize),
    ) {
        // SAFETY: forwarded from this function's contract.
        unsafe { matrixmultiply::sgemm(m, k, n, alpha, a.0, a.1, a.2, b.0, b.1, b.2, beta, c.0, c.1, c.2) }
    }
}

impl GemmFloat for f64 {
    unsafe fn gemm_raw(
        m: usize,
        k: usize,
        n: usize,
        alpha: f64,
        a: (*const f64, isize, isize),
        b: (*const f64, isize, isize),
        beta: f64,
        c: (*mut f64, isize, isize),
    ) {
        // SAFETY: forwarded from this function's contract.
        unsafe { matrixmultiply::dgemm(m, k, n, alpha, a.0, a.1, a.2, b.0, b.1, b.2, beta, c.0, c.1, c.2) }
    }
}

/// A read-only `rows x cols` matrix whose element `(i, j)` is
/// `data[i * row_stride + j * col_stride]`.
#[derive(Debug, Clone, Copy)]
pub struct MatRef<'a, F> {
    data: &'a [F],
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

impl<'a, F> MatRef<'a, F> {
    /// A dense row-major matrix; panics when `data` is shorter than `rows * cols`.
    pub fn row_major(data: &'a [F], rows: usize, cols: usize) -> Self {
        assert!(data.len() >= rows * cols, "{} elements cannot hold a {rows}x{cols} matrix", data.len());
        Self { data, rows, cols, row_stride: cols, col_stride: 1 }
    }

    /// The transpose, as a view of the same storage.
    pub fn t(self) -> Self {
        Self { rows: self.cols, cols: self.rows, row_stride: self.col_stride, col_stride: self.row_stride, ..self }
    }
}

/// `C <- alpha A B + beta C` with `C` dense row-major `A.rows x B.cols`.
/// With `beta == 0` the old contents of `C` are never read.
pub fn gemm<F: GemmFloat>(alpha: F, a: MatRef<'_, F>, b: MatRef<'_, F>, beta: F, c: &mut [F]) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert_eq!(b.rows, k, "inner dimensions differ: {m}x{k} times {}x{n}", b.rows);
    assert_eq!(c.len(), m * n, "output has {} elements, expected {m}x{n}", c.len());
    // `row_major` bounds the dense extent and `t` only swaps strides, so
    // every addressed element is inside its slice.
    let raw = |x: MatRef<'_, F>| (x.data.as_ptr(), x.row_stride as isize, x.col_stride as isize);
    // SAFETY: the views' indices are in bounds (above), `c` is a distinct
    // `&mut` borrow so it aliases neither input, and its extent is checked.
    unsafe { F::gemm_raw(m, k, n, alpha, raw(a), raw(b), beta, (c.as_mut_ptr(), n as isize, 1)) }
}

#[cfg(test)]
mod tests {
    use super::{MatRef, gemm};
    use crate::reference::linalg::{gemm_nn, gemm_tn};
    use crate::splitmix::SplitMix64;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// The microkernel path against the reference's plain GEMMs, for
        /// `A B` and `A^T B`, with `beta` both zero (C uninitialised garbage
        /// must not leak in) and one.
        #[test]
        fn matches_reference_gemm(seed in any::<u64>(), m in 1usize..40, p in 1usize..40, n in 1usize..40, accumulate in any::<bool>()) {
            let mut rng = SplitMix64::new(seed);
            let a = rng.uniform_vec(m * p);
            let at = rng.uniform_vec(p * m);
            let b = rng.uniform_vec(p * n);
            let c0 = if accumulate { rng.uniform_vec(m * n) } else { vec![f64::NAN; m * n] };
            let base = if accumulate { c0.clone() } else { vec![0.0; m * n] };
            let beta = if accumulate { 1.0 } else { 0.0 };

            let (mut got, mut want) = (c0.clone(), base.clone());
            gemm(0.5, MatRef::row_major(&a, m, p), MatRef::row_major(&b, p, n), beta, &mut got);
            gemm_nn(0.5, m, p, n, &a, &b, &mut want);
            let err = got.iter().zip(&want).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max);
            prop_assert!(err < 1e-12, "A B: {}", err);

            let (mut got, mut want) = (c0, base);
            gemm(-2.0, MatRef::row_major(&at, p, m).t(), MatRef::row_major(&b, p, n), beta, &mut got);
            gemm_tn(-2.0, m, p, n, &at, &b, &mut want);
            let err = got.iter().zip(&want).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max);
            prop_assert!(err < 1e-12, "A^T B: {}", err);
        }
    }

    #[test]
    #[should_panic(expected = "inner dimensions differ")]
    fn rejects_mismatched_shapes() {
        let x = [0.0f32; 6];
        let mut c = [0.0f32; 4];
        gemm(1.0, MatRef::row_major(&x, 2, 3), MatRef::row_major(&x, 2, 3), 0.0, &mut c);
    }
}
