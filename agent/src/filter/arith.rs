//! Arithmetic on filter values and the day number of a date key, shared by operators
//! (`eval.rs`) and functions (`func.rs`).
//!
//! Invariants: never panics: integers and decimals stay exact while the result fits, then fall
//! back to doubles; division or modulo by zero is NULL (as in MySQL); a non-finite double is NULL.

use obsync_sdk::render::days_from_civil;

use super::parse::BinOp;
use super::value::{V, align, exact, when_fields};

/// Arithmetic: exact for integers and decimals while it fits, doubles otherwise.
pub fn arith(op: BinOp, a: V, b: V) -> V {
    if a == V::Null || b == V::Null {
        return V::Null;
    }
    if let (Some((am, as_)), Some((bm, bs))) = (exact(&a), exact(&b))
        && let Some(v) = exact_arith(op, am, as_, bm, bs)
    {
        return v;
    }
    let (Some(x), Some(y)) = (a.to_f64(), b.to_f64()) else {
        return V::Null;
    };
    let r = match op {
        BinOp::Add => x + y,
        BinOp::Sub => x - y,
        BinOp::Mul => x * y,
        BinOp::Div if y != 0.0 => x / y,
        BinOp::IntDiv if y != 0.0 => return V::Int((x / y).trunc() as i128),
        BinOp::Mod if y != 0.0 => x % y,
        _ => return V::Null,
    };
    if r.is_finite() { V::Dbl(r) } else { V::Null }
}

/// Exact arithmetic; `None` when the result needs a double (overflow, or `/` on decimals).
fn exact_arith(op: BinOp, am: i128, as_: u32, bm: i128, bs: u32) -> Option<V> {
    let dec = |m: i128, s: u32| if s == 0 { V::Int(m) } else { V::Dec(m, s) };
    match op {
        BinOp::Add | BinOp::Sub | BinOp::Mod | BinOp::IntDiv => {
            let (x, y) = align(am, as_, bm, bs)?;
            let s = as_.max(bs);
            Some(match op {
                BinOp::Add => dec(x.checked_add(y)?, s),
                BinOp::Sub => dec(x.checked_sub(y)?, s),
                BinOp::Mod if y == 0 => V::Null,
                BinOp::Mod => dec(x.checked_rem(y)?, s),
                _ if y == 0 => V::Null,
                _ => V::Int(x.checked_div(y)?),
            })
        }
        BinOp::Mul => {
            let s = as_ + bs;
            if s > 30 {
                return None;
            }
            Some(dec(am.checked_mul(bm)?, s))
        }
        _ => {
            if bm == 0 {
                return Some(V::Null);
            }
            None
        }
    }
}

/// Days since 1970-01-01 of a date key's date part (for date functions).
pub fn key_days(k: i128) -> i64 {
    let [y, m, d, ..] = when_fields(k);
    days_from_civil(y, m, d)
}
