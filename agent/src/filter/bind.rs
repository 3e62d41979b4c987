//! Binding a parsed filter to a table: column names to row-image slots, functions to their
//! arities, and the static type checks that catch mistakes before the first row.

use super::FilterError;
use super::func::{FUNCTIONS, REFUSED};
use super::parse::{BinOp, Expr, Lit, TypedKind};
use super::value::{Kind, parse_datetime, parse_duration};
use crate::schema::catalog::ColumnFacts;

/// One column as a filter sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterColumn {
    /// The column name.
    pub name: String,
    /// The type family.
    pub kind: Kind,
    /// Whether its collation compares text case-insensitively.
    pub case_insensitive: bool,
}

impl FilterColumn {
    /// The column as the catalog describes it; binary columns never compare case-insensitively.
    pub fn from_catalog(facts: ColumnFacts) -> FilterColumn {
        let kind = FilterColumn::kind_of_data_type(&facts.data_type);
        FilterColumn {
            name: facts.name,
            kind,
            case_insensitive: kind != Kind::Binary && facts.case_insensitive,
        }
    }

    /// Maps an `information_schema.COLUMNS.DATA_TYPE` value (e.g. `varchar`, `datetime`).
    pub fn kind_of_data_type(data_type: &str) -> Kind {
        match data_type.to_ascii_lowercase().as_str() {
            "tinyint" | "smallint" | "mediumint" | "int" | "integer" | "bigint" | "year"
            | "bit" | "bool" | "boolean" => Kind::Integer,
            "decimal" | "numeric" => Kind::Decimal,
            "float" | "double" | "real" => Kind::Float,
            "date" => Kind::Date,
            "datetime" => Kind::DateTime,
            "timestamp" => Kind::Timestamp,
            "time" => Kind::Time,
            "binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob"
            | "geometry" | "point" | "linestring" | "polygon" => Kind::Binary,
            _ => Kind::Text,
        }
    }

    /// Maps the SDK's column type family.
    pub fn kind_of_column_type(t: obsync_sdk::ColumnType) -> Kind {
        use obsync_sdk::ColumnType as C;
        match t {
            C::TinyInt | C::SmallInt | C::MediumInt | C::Int | C::BigInt | C::Year | C::Bit => {
                Kind::Integer
            }
            C::Decimal => Kind::Decimal,
            C::Float | C::Double => Kind::Float,
            C::Date => Kind::Date,
            C::DateTime => Kind::DateTime,
            C::Timestamp => Kind::Timestamp,
            C::Time => Kind::Time,
            C::Binary | C::VarBinary | C::Blob | C::Geometry => Kind::Binary,
            C::Char | C::VarChar | C::Text | C::Enum | C::Set | C::Json => Kind::Text,
        }
    }
}

/// Resolves names and checks the expression in place.
pub fn bind(e: &mut Expr, columns: &[FilterColumn]) -> Result<(), FilterError> {
    match e {
        Expr::Column(c) => {
            let slot = columns.iter().position(|k| k.name == c.name).or_else(|| {
                let mut found = columns
                    .iter()
                    .enumerate()
                    .filter(|(_, k)| k.name.to_lowercase() == c.name.to_lowercase());
                match (found.next(), found.next()) {
                    (Some((i, _)), None) => Some(i),
                    _ => None,
                }
            });
            let Some(slot) = slot else {
                let known: Vec<&str> = columns.iter().map(|k| k.name.as_str()).collect();
                return Err(FilterError::at(
                    c.at,
                    format!(
                        "unknown column `{}` (the table has: {})",
                        c.name,
                        known.join(", ")
                    ),
                ));
            };
            c.slot = slot;
            c.kind = columns[slot].kind;
            c.case_insensitive = columns[slot].case_insensitive;
            Ok(())
        }
        Expr::Lit(Lit::Typed(kind, s)) => {
            let ok = match kind {
                TypedKind::Time => parse_duration(s).is_some(),
                _ => parse_datetime(s).is_some(),
            };
            if ok {
                Ok(())
            } else {
                Err(FilterError::at(
                    0,
                    format!("{s:?} is not a valid {kind:?} literal").to_lowercase(),
                ))
            }
        }
        Expr::Lit(_) => Ok(()),
        Expr::Not(x) | Expr::Neg(x) | Expr::Is(x, _, _) => bind(x, columns),
        Expr::Binary(op, l, r) => {
            bind(l, columns)?;
            bind(r, columns)?;
            if matches!(
                op,
                BinOp::Eq
                    | BinOp::NullSafeEq
                    | BinOp::Ne
                    | BinOp::Lt
                    | BinOp::Le
                    | BinOp::Gt
                    | BinOp::Ge
            ) {
                check_temporal(l, r)?;
                check_temporal(r, l)?;
            }
            Ok(())
        }
        Expr::In(x, list, _) => {
            bind(x, columns)?;
            for item in list.iter_mut() {
                bind(item, columns)?;
                check_temporal(x, item)?;
            }
            Ok(())
        }
        Expr::Between(x, lo, hi, _) => {
            bind(x, columns)?;
            bind(lo, columns)?;
            bind(hi, columns)?;
            check_temporal(x, lo)?;
            check_temporal(x, hi)
        }
        Expr::Like(x, p, esc, _) => {
            bind(x, columns)?;
            bind(p, columns)?;
            if let Some(esc) = esc {
                bind(esc, columns)?;
                match &**esc {
                    Expr::Lit(Lit::Str(s)) if s.chars().count() == 1 => {}
                    _ => {
                        return Err(FilterError::at(
                            0,
                            "ESCAPE takes a string of exactly one character",
                        ));
                    }
                }
            }
            Ok(())
        }
        Expr::Call(name, args, at) => {
            if REFUSED.contains(&name.as_str()) {
                return Err(FilterError::at(
                    *at,
                    format!(
                        "{name}() is not allowed: a filter must give the same answer when the binlog is replayed"
                    ),
                ));
            }
            let Some(&(_, min, max)) = FUNCTIONS.iter().find(|(n, _, _)| n == name) else {
                let known: Vec<&str> = FUNCTIONS.iter().map(|(n, _, _)| *n).collect();
                return Err(FilterError::at(
                    *at,
                    format!(
                        "unknown function {name}() (supported: {})",
                        known.join(", ")
                    ),
                ));
            };
            if args.len() < min || args.len() > max {
                let wanted = if min == max {
                    min.to_string()
                } else {
                    format!("{min} to {max}")
                };
                return Err(FilterError::at(
                    *at,
                    format!("{name}() takes {wanted} argument(s), not {}", args.len()),
                ));
            }
            for a in args.iter_mut() {
                bind(a, columns)?;
            }
            Ok(())
        }
    }
}

/// A string literal compared with a temporal column must read as a value of that type.
fn check_temporal(column: &Expr, other: &Expr) -> Result<(), FilterError> {
    let (Expr::Column(c), Expr::Lit(Lit::Str(s))) = (column, other) else {
        return Ok(());
    };
    let ok = match c.kind {
        Kind::Date | Kind::DateTime | Kind::Timestamp => parse_datetime(s).is_some(),
        Kind::Time => parse_duration(s).is_some(),
        _ => true,
    };
    if ok {
        Ok(())
    } else {
        Err(FilterError::at(
            c.at,
            format!(
                "column `{}` is a {} but {s:?} is not one (write 'YYYY-MM-DD', 'YYYY-MM-DD HH:MM:SS' or 'HH:MM:SS')",
                c.name,
                match c.kind {
                    Kind::Date => "date",
                    Kind::DateTime => "datetime",
                    Kind::Timestamp => "timestamp",
                    _ => "time",
                }
            ),
        ))
    }
}
