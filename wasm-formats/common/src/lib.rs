//! What the built-in OMS formats share (OMS spec §1.2–§1.7): the Default / DefaultExtendColumnType
//! layout, key columns and values, type names (upper case, lower case, `java.sql.Types`), image
//! writers with change detection, and wall-clock rendering. A plain library: the format crates
//! wrap it and export the ABI, so it can be shared without duplicate exports.

pub mod default;
pub mod image;
pub mod keys;
pub mod time;
pub mod types;
