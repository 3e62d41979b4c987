//! The DDL reader over arbitrary statements: never a panic; what it follows applies to a table
//! without a panic either.
#![no_main]

use libfuzzer_sys::fuzz_target;
use obsync::schema::catalog::{CatalogColumn, CatalogTable};
use obsync::schema::ddl::{self, Ddl};

fuzz_target!(|data: &[u8]| {
    let Ok(sql) = std::str::from_utf8(data) else {
        return;
    };
    if let Ddl::Alter(_, changes, _) = ddl::parse(sql, "db") {
        let table = CatalogTable {
            columns: ["id", "a", "b"]
                .iter()
                .map(|n| CatalogColumn {
                    name: n.to_string(),
                    data_type: "varchar".into(),
                    column_type: "varchar(10)".into(),
                    nullable: true,
                    collation_id: 8,
                })
                .collect(),
            primary_key: vec![0],
            default_collation: 8,
        };
        let _ = ddl::apply(&table, &changes);
    }
});
