//! Exact binary arithmetic for the validator.
//!
//! Every finite `f64` is a dyadic rational `m * 2^e` with an integer `m`, and
//! sums, differences and products of dyadic rationals are dyadic again. So the
//! containment and disjointness inequalities, which only need `+`, `-` and
//! `*`, can be decided with big-integer arithmetic and no rounding at all.
//! This is cheaper than `BigRational` (no gcd normalisation, no division).

use std::cmp::Ordering;
use std::ops::{Add, Mul, Neg, Sub};

use num_bigint::{BigInt, BigUint, Sign};
use num_traits::{ToPrimitive, Zero};

/// The exponent of the least significant bit of a subnormal `f64`.
const MIN_EXP: i64 = -1074;
/// Significand bits of an `f64`, counting the implicit leading one.
const PRECISION: u64 = 53;

/// The exact value `mant * 2^exp`.
///
/// Not normalised: the same value has many representations, so equality and
/// ordering are implemented on the value (via the sign of the difference),
/// never derived from the fields.
#[derive(Clone, Debug)]
pub(crate) struct Dyadic {
    mant: BigInt,
    exp: i64,
}

impl Dyadic {
    pub(crate) fn zero() -> Self {
        Self { mant: BigInt::zero(), exp: 0 }
    }

    /// The exact value of a finite `f64`.
    ///
    /// # Panics
    /// If `x` is NaN or infinite; callers check finiteness first because a
    /// non-finite number is an offence of its own, not a value to compare.
    pub(crate) fn from_f64(x: f64) -> Self {
        assert!(x.is_finite(), "Dyadic::from_f64 called with {x}");
        let bits = x.to_bits();
        let negative = bits >> 63 == 1;
        let biased = ((bits >> 52) & 0x7ff) as i64;
        let fraction = bits & ((1u64 << 52) - 1);
        // Subnormals have no implicit bit and the same scale as the smallest normals.
        let (mant, exp) = if biased == 0 { (fraction, MIN_EXP) } else { (fraction | (1u64 << 52), biased - 1075) };
        let mant = BigInt::from(mant);
        Self { mant: if negative { -mant } else { mant }, exp }
    }

    pub(crate) fn is_negative(&self) -> bool {
        self.mant.sign() == Sign::Minus
    }

    pub(crate) fn abs(&self) -> Self {
        Self { mant: BigInt::from(self.mant.magnitude().clone()), exp: self.exp }
    }

    /// Both mantissas scaled to the smaller of the two exponents.
    fn aligned(&self, other: &Self) -> (BigInt, BigInt, i64) {
        let exp = self.exp.min(other.exp);
        let scale = |d: &Self| -> BigInt { &d.mant << ((d.exp - exp) as usize) };
        (scale(self), scale(other), exp)
    }

    /// `self * 2^k`, exact.
    #[cfg(test)]
    fn scaled_by_pow2(&self, k: i64) -> Self {
        Self { mant: self.mant.clone(), exp: self.exp + k }
    }

    /// The `f64` nearest to this value, ties to even (IEEE 754
    /// round-to-nearest); values beyond the largest finite `f64` round to
    /// infinity exactly as a hardware operation would.
    pub(crate) fn to_f64(&self) -> f64 {
        if self.mant.is_zero() {
            return 0.0;
        }
        let negative = self.is_negative();
        let magnitude = self.mant.magnitude();
        let bits = magnitude.bits() as i64;
        // Drop enough low bits to keep at most 53 significant bits, and never
        // let the result's last bit fall below 2^-1074 (the subnormal grid).
        let drop = (bits - PRECISION as i64).max(MIN_EXP - self.exp);
        let (q, exp) = if drop <= 0 {
            (magnitude.clone(), self.exp)
        } else {
            (round_shift_right(magnitude, drop as u64), self.exp + drop)
        };
        let value = if q.bits() as i64 + exp > 1024 {
            f64::INFINITY
        } else {
            // q has at most 53 bits (54 only as exactly 2^53), so this is exact.
            ldexp_exact(q.to_u64().expect("at most 54 bits") as f64, exp)
        };
        if negative { -value } else { value }
    }
}

/// `m / 2^k` rounded to the nearest integer, ties to even.
fn round_shift_right(m: &BigUint, k: u64) -> BigUint {
    let q = m >> k;
    let remainder = m - (&q << k);
    let half = BigUint::from(1u8) << (k - 1);
    match remainder.cmp(&half) {
        Ordering::Greater => q + 1u8,
        Ordering::Equal if q.bit(0) => q + 1u8,
        _ => q,
    }
}

/// `q * 2^exp` for a result that is exactly representable (or overflows to
/// infinity). Applied in steps whose intermediate values stay normal, so no
/// step rounds.
fn ldexp_exact(q: f64, mut exp: i64) -> f64 {
    let mut value = q;
    while exp > 1000 {
        value *= pow2(1000);
        exp -= 1000;
    }
    while exp < -1000 {
        value *= pow2(-1000);
        exp += 1000;
    }
    value * pow2(exp)
}

/// `2^k` for `k` in the normal exponent range.
fn pow2(k: i64) -> f64 {
    debug_assert!((-1022..=1023).contains(&k));
    f64::from_bits(((k + 1023) as u64) << 52)
}

impl Add for &Dyadic {
    type Output = Dyadic;
    fn add(self, rhs: &Dyadic) -> Dyadic {
        let (a, b, exp) = self.aligned(rhs);
        Dyadic { mant: a + b, exp }
    }
}

impl Sub for &Dyadic {
    type Output = Dyadic;
    fn sub(self, rhs: &Dyadic) -> Dyadic {
        let (a, b, exp) = self.aligned(rhs);
        Dyadic { mant: a - b, exp }
    }
}

impl Mul for &Dyadic {
    type Output = Dyadic;
    fn mul(self, rhs: &Dyadic) -> Dyadic {
        Dyadic { mant: &self.mant * &rhs.mant, exp: self.exp + rhs.exp }
    }
}

impl Neg for &Dyadic {
    type Output = Dyadic;
    fn neg(self) -> Dyadic {
        Dyadic { mant: -&self.mant, exp: self.exp }
    }
}

impl PartialEq for Dyadic {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Dyadic {}

impl PartialOrd for Dyadic {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Dyadic {
    fn cmp(&self, other: &Self) -> Ordering {
        let (a, b, _) = self.aligned(other);
        a.cmp(&b)
    }
}

impl std::iter::Sum for Dyadic {
    fn sum<I: Iterator<Item = Dyadic>>(iter: I) -> Dyadic {
        iter.fold(Dyadic::zero(), |acc, x| &acc + &x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(x: f64) -> Dyadic {
        Dyadic::from_f64(x)
    }

    #[test]
    fn round_trips_every_kind_of_f64() {
        let samples = [
            0.0,
            -0.0,
            1.0,
            -1.5,
            0.1,
            f64::MAX,
            f64::MIN_POSITIVE,
            f64::from_bits(1),
            -f64::from_bits(0x000f_ffff_ffff_ffff),
            std::f64::consts::PI,
            1e300,
            -1e-300,
        ];
        for x in samples {
            assert_eq!(d(x).to_f64().to_bits(), (x + 0.0).to_bits(), "{x}");
        }
    }

    #[test]
    fn arithmetic_is_exact_where_f64_is_not() {
        // 0.1 + 0.2 != 0.3 in binary, and the exact values say by how much.
        let sum = &d(0.1) + &d(0.2);
        assert!(sum > d(0.3));
        assert_eq!(sum.to_f64(), 0.1 + 0.2);
        // (1 + 2^-52)^2 = 1 + 2^-51 + 2^-104: the last term is lost in f64.
        let x = d(1.0 + f64::EPSILON);
        let square = &x * &x;
        assert!(square > d(1.0 + 2.0 * f64::EPSILON));
        assert_eq!(square.to_f64(), 1.0 + 2.0 * f64::EPSILON);
        assert_eq!((&d(3.0) - &d(5.0)).to_f64(), -2.0);
        assert_eq!((-&d(2.5)).to_f64(), -2.5);
    }

    #[test]
    fn rounding_ties_go_to_even() {
        // 1 + 2^-53 is halfway between 1 and 1 + 2^-52: rounds to 1 (even).
        let tie_down = &d(1.0) + &d(2f64.powi(-53));
        assert_eq!(tie_down.to_f64(), 1.0);
        // 1 + 3 * 2^-53 is halfway between 1 + 2^-52 and 1 + 2^-51: rounds up.
        let tie_up = &d(1.0) + &d(3.0 * 2f64.powi(-53));
        assert_eq!(tie_up.to_f64(), 1.0 + 2.0 * f64::EPSILON);
        // Just above the tie rounds up.
        let above = &tie_down + &d(2f64.powi(-100));
        assert_eq!(above.to_f64(), 1.0 + f64::EPSILON);
    }

    #[test]
    fn rounding_handles_subnormals_and_overflow() {
        let tiny = d(f64::from_bits(1));
        // Half the smallest subnormal is a tie between 0 and it: rounds to 0.
        assert_eq!(tiny.scaled_by_pow2(-1).to_f64(), 0.0);
        // Three halves is a tie between 1 and 2 units: rounds to 2 (even).
        let three_halves = (&tiny + &tiny.scaled_by_pow2(-1)).to_f64();
        assert_eq!(three_halves, f64::from_bits(2));
        // MAX + half an ulp is a tie that rounds to even, i.e. overflows.
        let half_ulp = d(2f64.powi(970));
        assert_eq!((&d(f64::MAX) + &half_ulp).to_f64(), f64::INFINITY);
        let below = &half_ulp - &d(2f64.powi(900));
        assert_eq!((&d(f64::MAX) + &below).to_f64(), f64::MAX);
        assert_eq!((-&(&d(f64::MAX) + &d(f64::MAX))).to_f64(), f64::NEG_INFINITY);
    }

    #[test]
    fn ordering_is_by_value_not_representation() {
        let a = d(0.5);
        let b = d(0.25).scaled_by_pow2(1);
        assert_eq!(a, b);
        assert!(d(-1.0) < d(-0.5));
        assert_eq!(d(0.0), d(-0.0));
        assert!(d(-2.0).is_negative() && !d(0.0).is_negative());
        assert_eq!(d(-2.0).abs(), d(2.0));
    }
}
