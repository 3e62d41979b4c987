//! A reader of the DDL statements that change a table's columns, so schemas without table-map
//! metadata follow the binlog in stream order instead of asking `information_schema` (which
//! already shows later versions when obsync is behind).
//!
//! Understood: `CREATE TABLE` (column definitions, primary key, default charset; `LIKE`),
//! `ALTER TABLE` (`ADD`/`DROP`/`CHANGE`/`MODIFY`/`RENAME COLUMN`, `FIRST`/`AFTER`, `RENAME TO`,
//! `ADD`/`DROP PRIMARY KEY`; index, constraint and table options are ignored), `RENAME TABLE`,
//! `DROP TABLE`. Invariant: [`parse`] never guesses; a statement it cannot follow that touches a
//! table comes back as [`Ddl::Unknown`] naming the table, so the caller re-reads it from the
//! catalog instead of decoding with a wrong schema. That includes a character column whose charset
//! the statement does not give (a CREATE without a table charset takes its database's default) or
//! names one this reader does not know; a column added or redefined by ALTER without its own takes
//! the table's default, and [`apply`] declines when that default is unknown.

use super::catalog::{CatalogColumn, CatalogTable};
use super::charset::BINARY_COLLATION;

/// A table name as written: database (or the statement's default) and table.
pub type Name = (String, String);

/// What a DDL statement does to table schemas.
#[derive(Debug, Clone, PartialEq)]
pub enum Ddl {
    /// A table is created with these columns.
    Create(Name, CatalogTable),
    /// A table is created like another.
    CreateLike(Name, Name),
    /// `ALTER TABLE` with these changes, then possibly renamed.
    Alter(Name, Vec<Change>, Option<Name>),
    /// Tables renamed, in order.
    Rename(Vec<(Name, Name)>),
    /// Tables dropped.
    Drop(Vec<Name>),
    /// Touches this table in a way this reader does not follow.
    Unknown(Name),
    /// Changes no table's columns (DML-free statements, indexes, databases, ...).
    Other,
}

/// One change of an `ALTER TABLE`.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// Add a column at a place.
    Add(CatalogColumn, Place),
    /// Drop a column.
    Drop(String),
    /// Replace column `old` by a new definition (CHANGE, MODIFY), possibly moving it.
    Replace(String, CatalogColumn, Place),
    /// Rename a column.
    RenameColumn(String, String),
    /// Set the primary key.
    PrimaryKey(Vec<String>),
    /// Drop the primary key.
    DropPrimaryKey,
}

/// Where an added or changed column goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// At the end (ADD) or where it was (CHANGE, MODIFY).
    Default,
    /// First.
    First,
    /// After this column.
    After(String),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Quoted(String),
    Str(String),
    Num(String),
    Punct(char),
}

fn lex(sql: &str) -> Option<Vec<Tok>> {
    let mut out = Vec::new();
    let c: Vec<char> = sql.chars().collect();
    let mut i = 0;
    while i < c.len() {
        let ch = c[i];
        if ch.is_whitespace() {
            i += 1;
        } else if ch == '#' || (ch == '-' && c.get(i + 1) == Some(&'-')) {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if ch == '/' && c.get(i + 1) == Some(&'*') {
            // `/*!50100 ... */` executable comments: keep their content.
            let exec = c.get(i + 2) == Some(&'!');
            i += 2;
            if exec {
                i += 1;
                while i < c.len() && c[i].is_ascii_digit() {
                    i += 1;
                }
                continue;
            }
            while i + 1 < c.len() && !(c[i] == '*' && c[i + 1] == '/') {
                i += 1;
            }
            i += 2;
        } else if ch == '*' && c.get(i + 1) == Some(&'/') {
            i += 2;
        } else if ch == '`' || ch == '\'' || ch == '"' {
            let mut s = String::new();
            i += 1;
            loop {
                let x = *c.get(i)?;
                if x == ch && c.get(i + 1) == Some(&ch) {
                    s.push(ch);
                    i += 2;
                } else if x == ch {
                    i += 1;
                    break;
                } else if x == '\\' && ch != '`' {
                    s.push(*c.get(i + 1)?);
                    i += 2;
                } else {
                    s.push(x);
                    i += 1;
                }
            }
            out.push(if ch == '`' {
                Tok::Quoted(s)
            } else {
                Tok::Str(s)
            });
        } else if ch.is_ascii_digit() {
            let start = i;
            while i < c.len() && (c[i].is_ascii_alphanumeric() || c[i] == '.') {
                i += 1;
            }
            out.push(Tok::Num(c[start..i].iter().collect()));
        } else if ch.is_alphanumeric() || ch == '_' || ch == '$' || !ch.is_ascii() {
            let start = i;
            while i < c.len()
                && (c[i].is_alphanumeric() || c[i] == '_' || c[i] == '$' || !c[i].is_ascii())
            {
                i += 1;
            }
            out.push(Tok::Word(c[start..i].iter().collect()));
        } else {
            out.push(Tok::Punct(ch));
            i += 1;
        }
    }
    Some(out)
}

struct P {
    t: Vec<Tok>,
    i: usize,
}

impl P {
    fn peek(&self) -> Option<&Tok> {
        self.t.get(self.i)
    }
    fn kw(&self, w: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(x)) if x.eq_ignore_ascii_case(w))
    }
    fn eat(&mut self, w: &str) -> bool {
        let yes = self.kw(w);
        if yes {
            self.i += 1;
        }
        yes
    }
    fn punct(&mut self, p: char) -> bool {
        let yes = self.peek() == Some(&Tok::Punct(p));
        if yes {
            self.i += 1;
        }
        yes
    }
    fn ident(&mut self) -> Option<String> {
        match self.t.get(self.i)? {
            Tok::Word(w) | Tok::Quoted(w) | Tok::Str(w) => {
                let w = w.clone();
                self.i += 1;
                Some(w)
            }
            _ => None,
        }
    }
    fn name(&mut self, default_db: &str) -> Option<Name> {
        let first = self.ident()?;
        if self.punct('.') {
            Some((first, self.ident()?))
        } else {
            Some((default_db.to_string(), first))
        }
    }
    /// Skips to the end of the current item: a top-level `,` or `)` (not consumed), or the end.
    fn skip_item(&mut self) {
        let mut depth = 0usize;
        while let Some(t) = self.peek() {
            match t {
                Tok::Punct('(') => depth += 1,
                Tok::Punct(')') if depth == 0 => return,
                Tok::Punct(')') => depth -= 1,
                Tok::Punct(',') if depth == 0 => return,
                _ => {}
            }
            self.i += 1;
        }
    }
    fn paren_names(&mut self) -> Option<Vec<String>> {
        if !self.punct('(') {
            return None;
        }
        let mut out = Vec::new();
        loop {
            out.push(self.ident()?);
            // Prefix lengths and ASC/DESC.
            self.skip_item();
            if self.punct(')') {
                return Some(out);
            }
            if !self.punct(',') {
                return None;
            }
        }
    }
}

/// Collation id of a character set's default collation; `None` for a character set no server
/// defines (the DDL is then not followed and the table is read from the catalog: a guessed
/// charset would garble its text).
fn charset_id(charset: &str) -> Option<u16> {
    super::charset::default_collation(charset)
}

/// Collation id of a collation (any of the same character set decodes the same); `None` when
/// its character set is unknown.
fn collation_id(collation: &str) -> Option<u16> {
    super::charset::collation_by_name(collation)
}

/// The collation of a character column added by `ALTER TABLE` without its own: the table's
/// default, resolved by [`apply`] from the table's description.
pub const TABLE_DEFAULT_COLLATION: u16 = u16::MAX;

/// Parses a column definition (after its name): type, UNSIGNED, charset, collation, NULL;
/// returns the column and whether it was declared PRIMARY KEY inline.
///
/// `table_charset` is the table's default collation for character columns without their own;
/// `None` when the statement does not say (a column needing it makes the DDL not followed).
fn column(p: &mut P, name: String, table_charset: Option<u16>) -> Option<(CatalogColumn, bool)> {
    let data_type = match p.ident()?.to_ascii_lowercase().as_str() {
        "integer" => "int".to_string(),
        "bool" | "boolean" => "tinyint".to_string(),
        "dec" | "numeric" | "fixed" => "decimal".to_string(),
        "real" => "double".to_string(),
        t => t.to_string(),
    };
    if data_type == "double" {
        p.eat("precision");
    }
    let mut column_type = data_type.clone();
    if p.peek() == Some(&Tok::Punct('(')) {
        p.i += 1;
        let mut args = Vec::new();
        loop {
            match p.peek()? {
                Tok::Num(n) => args.push(n.clone()),
                Tok::Str(s) => args.push(format!("'{}'", s.replace('\'', "''"))),
                _ => return None,
            }
            p.i += 1;
            if p.punct(')') {
                break;
            }
            if !p.punct(',') {
                return None;
            }
        }
        column_type = format!("{data_type}({})", args.join(","));
    }
    let mut unsigned = false;
    let mut charset: Option<u16> = None;
    let mut nullable = true;
    let mut primary = false;
    loop {
        if p.eat("unsigned") {
            unsigned = true;
        } else if p.kw("character") || p.kw("charset") {
            p.eat("character");
            p.eat("set");
            p.eat("charset");
            charset = Some(charset_id(&p.ident()?)?);
        } else if p.eat("collate") {
            charset = Some(collation_id(&p.ident()?)?);
        } else if p.eat("not") {
            if p.eat("null") {
                nullable = false;
            }
        } else if p.eat("primary") {
            p.eat("key");
            nullable = false;
            primary = true;
        } else if p.kw("first")
            || p.kw("after")
            || matches!(
                p.peek(),
                None | Some(Tok::Punct(',')) | Some(Tok::Punct(')'))
            )
        {
            break;
        } else {
            // DEFAULT, COMMENT, AUTO_INCREMENT, GENERATED ..., CHECK (...), INVISIBLE, ...
            if p.peek() == Some(&Tok::Punct('(')) {
                let mut depth = 0usize;
                while let Some(t) = p.peek() {
                    match t {
                        Tok::Punct('(') => depth += 1,
                        Tok::Punct(')') => {
                            depth -= 1;
                            if depth == 0 {
                                p.i += 1;
                                break;
                            }
                        }
                        _ => {}
                    }
                    p.i += 1;
                }
            } else {
                p.i += 1;
            }
        }
    }
    if unsigned {
        column_type.push_str(" unsigned");
    }
    let string_type = matches!(
        data_type.as_str(),
        "char" | "varchar" | "tinytext" | "text" | "mediumtext" | "longtext" | "enum" | "set"
    );
    let binary_type = matches!(
        data_type.as_str(),
        "binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob"
    );
    let collation_id = if binary_type {
        BINARY_COLLATION
    } else if string_type {
        charset.or(table_charset)?
    } else if data_type == "json" {
        charset.unwrap_or(45)
    } else {
        0
    };
    Some((
        CatalogColumn {
            name,
            data_type,
            column_type,
            nullable,
            collation_id,
        },
        primary,
    ))
}

fn place(p: &mut P) -> Place {
    if p.eat("first") {
        Place::First
    } else if p.eat("after") {
        p.ident().map(Place::After).unwrap_or(Place::Default)
    } else {
        Place::Default
    }
}

/// Reads a statement; `default_db` is the QUERY event's current database.
pub fn parse(sql: &str, default_db: &str) -> Ddl {
    let Some(t) = lex(sql) else {
        return Ddl::Other;
    };
    let mut p = P { t, i: 0 };
    if p.eat("create") {
        p.eat("or");
        p.eat("replace");
        p.eat("temporary");
        if !p.eat("table") {
            return Ddl::Other;
        }
        if p.eat("if") {
            p.eat("not");
            p.eat("exists");
        }
        let Some(name) = p.name(default_db) else {
            return Ddl::Other;
        };
        return create(&mut p, name.clone(), default_db).unwrap_or(Ddl::Unknown(name));
    }
    if p.eat("alter") {
        p.eat("online");
        p.eat("ignore");
        if !p.eat("table") {
            return Ddl::Other;
        }
        let Some(name) = p.name(default_db) else {
            return Ddl::Other;
        };
        return alter(&mut p, name.clone(), default_db).unwrap_or(Ddl::Unknown(name));
    }
    if p.eat("rename") {
        if !p.eat("table") {
            return Ddl::Other;
        }
        let mut pairs = Vec::new();
        loop {
            let (Some(from), true, Some(to)) =
                (p.name(default_db), p.eat("to"), p.name(default_db))
            else {
                return Ddl::Other;
            };
            pairs.push((from, to));
            if !p.punct(',') {
                break;
            }
        }
        return Ddl::Rename(pairs);
    }
    if p.eat("drop") {
        p.eat("temporary");
        if !p.eat("table") {
            return Ddl::Other;
        }
        if p.eat("if") {
            p.eat("exists");
        }
        let mut names = Vec::new();
        while let Some(n) = p.name(default_db) {
            names.push(n);
            if !p.punct(',') {
                break;
            }
        }
        return Ddl::Drop(names);
    }
    Ddl::Other
}

fn create(p: &mut P, name: Name, default_db: &str) -> Option<Ddl> {
    if p.eat("like") {
        return Some(Ddl::CreateLike(name, p.name(default_db)?));
    }
    if p.punct('(') && p.eat("like") {
        return Some(Ddl::CreateLike(name, p.name(default_db)?));
    }
    if p.t.get(p.i.wrapping_sub(1)) != Some(&Tok::Punct('(')) {
        return None;
    }
    // Column definitions first, then the table's default charset from its options.
    let body_start = p.i;
    let mut depth = 1usize;
    while depth > 0 {
        match p.peek()? {
            Tok::Punct('(') => depth += 1,
            Tok::Punct(')') => depth -= 1,
            _ => {}
        }
        p.i += 1;
    }
    let body_end = p.i - 1;
    // Without its own, a table takes its database's default, which the statement does not say.
    let mut table_charset = None;
    while p.peek().is_some() {
        if p.eat("charset") || (p.eat("character") && p.eat("set")) {
            p.punct('=');
            table_charset = Some(charset_id(&p.ident()?)?);
        } else if p.eat("collate") {
            p.punct('=');
            table_charset = Some(collation_id(&p.ident()?)?);
        } else if p.kw("as") || p.kw("select") {
            return None;
        } else {
            p.i += 1;
        }
    }
    let mut q = P {
        t: p.t[body_start..body_end].to_vec(),
        i: 0,
    };
    let mut columns: Vec<CatalogColumn> = Vec::new();
    let mut primary: Vec<String> = Vec::new();
    loop {
        if q.eat("constraint")
            && !q.kw("primary")
            && !q.kw("unique")
            && !q.kw("foreign")
            && !q.kw("check")
        {
            q.ident();
        }
        if q.eat("primary") {
            q.eat("key");
            primary = q.paren_names()?;
            q.skip_item();
        } else if [
            "key", "index", "unique", "fulltext", "spatial", "foreign", "check", "period",
        ]
        .iter()
        .any(|k| q.kw(k))
        {
            q.skip_item();
        } else {
            let col = q.ident()?;
            let (c, inline_primary) = column(&mut q, col.clone(), table_charset)?;
            if inline_primary {
                primary = vec![col];
            }
            q.skip_item();
            columns.push(c);
        }
        if !q.punct(',') {
            break;
        }
    }
    if q.peek().is_some() || columns.is_empty() {
        return None;
    }
    let primary_key = primary
        .iter()
        .filter_map(|k| columns.iter().position(|c| &c.name == k))
        .collect();
    Some(Ddl::Create(
        name,
        CatalogTable {
            columns,
            primary_key,
            default_collation: table_charset.unwrap_or(0),
        },
    ))
}

fn alter(p: &mut P, name: Name, default_db: &str) -> Option<Ddl> {
    let mut changes = Vec::new();
    let mut rename = None;
    loop {
        if p.peek().is_none() {
            break;
        }
        if p.eat("add") {
            if p.eat("primary") {
                p.eat("key");
                changes.push(Change::PrimaryKey(p.paren_names()?));
                p.skip_item();
            } else if [
                "key",
                "index",
                "unique",
                "fulltext",
                "spatial",
                "foreign",
                "constraint",
                "check",
                "partition",
            ]
            .iter()
            .any(|k| p.kw(k))
            {
                p.skip_item();
            } else {
                p.eat("column");
                if p.eat("if") {
                    p.eat("not");
                    p.eat("exists");
                }
                if p.punct('(') {
                    loop {
                        let col = p.ident()?;
                        let (c, _) = column(p, col, Some(TABLE_DEFAULT_COLLATION))?;
                        p.skip_item();
                        changes.push(Change::Add(c, Place::Default));
                        if p.punct(')') {
                            break;
                        }
                        if !p.punct(',') {
                            return None;
                        }
                    }
                } else {
                    let col = p.ident()?;
                    let (c, _) = column(p, col, Some(TABLE_DEFAULT_COLLATION))?;
                    let at = place(p);
                    p.skip_item();
                    changes.push(Change::Add(c, at));
                }
            }
        } else if p.eat("drop") {
            if p.eat("primary") {
                p.eat("key");
                changes.push(Change::DropPrimaryKey);
            } else if [
                "key",
                "index",
                "foreign",
                "constraint",
                "check",
                "partition",
            ]
            .iter()
            .any(|k| p.kw(k))
            {
                p.skip_item();
            } else {
                p.eat("column");
                if p.eat("if") {
                    p.eat("exists");
                }
                changes.push(Change::Drop(p.ident()?));
                p.skip_item();
            }
        } else if p.kw("change") || p.kw("modify") {
            // CHANGE old new <definition>, MODIFY col <definition>: both replace a column.
            let renames = p.eat("change");
            p.eat("modify");
            p.eat("column");
            if p.eat("if") {
                p.eat("exists");
            }
            let old = p.ident()?;
            let new = if renames { p.ident()? } else { old.clone() };
            let (c, _) = column(p, new, Some(TABLE_DEFAULT_COLLATION))?;
            let at = place(p);
            p.skip_item();
            changes.push(Change::Replace(old, c, at));
        } else if p.eat("rename") {
            if p.eat("column") {
                let from = p.ident()?;
                if !p.eat("to") {
                    return None;
                }
                changes.push(Change::RenameColumn(from, p.ident()?));
            } else if p.kw("index") || p.kw("key") {
                p.skip_item();
            } else {
                if !p.eat("to") {
                    p.eat("as");
                }
                rename = Some(p.name(default_db)?);
            }
        } else if p.kw("alter")
            || p.kw("engine")
            || p.kw("comment")
            || p.kw("auto_increment")
            || p.kw("row_format")
            || p.kw("algorithm")
            || p.kw("lock")
            || p.kw("force")
            || p.kw("key_block_size")
            || p.kw("stats_persistent")
        {
            // ALTER COLUMN ... SET DEFAULT and table options change no row image.
            p.skip_item();
        } else {
            // CONVERT TO CHARACTER SET, ORDER BY, partitioning, ...: not followed.
            return None;
        }
        if !p.punct(',') {
            break;
        }
    }
    Some(Ddl::Alter(name, changes, rename))
}

/// Applies an `ALTER TABLE`'s changes to a table; `None` when a change names a missing column.
pub fn apply(table: &CatalogTable, changes: &[Change]) -> Option<CatalogTable> {
    let mut cols = table.columns.clone();
    let mut key: Vec<String> = table
        .primary_key
        .iter()
        .filter_map(|&i| cols.get(i).map(|c| c.name.clone()))
        .collect();
    let index_of =
        |cols: &[CatalogColumn], n: &str| cols.iter().position(|c| c.name.eq_ignore_ascii_case(n));
    let insert_at =
        |cols: &mut Vec<CatalogColumn>, c: CatalogColumn, at: &Place, default: usize| {
            let pos = match at {
                Place::First => Some(0),
                Place::After(a) => index_of(cols, a).map(|i| i + 1),
                Place::Default => Some(default),
            }?;
            cols.insert(pos.min(cols.len()), c);
            Some(())
        };
    // A character column defined without its own charset takes the table's default, and
    // without a known default the change is not followed.
    let resolved = |c: &CatalogColumn| -> Option<CatalogColumn> {
        let mut c = c.clone();
        if c.collation_id == TABLE_DEFAULT_COLLATION {
            if table.default_collation == 0 {
                return None;
            }
            c.collation_id = table.default_collation;
        }
        Some(c)
    };
    for change in changes {
        match change {
            Change::Add(c, at) => {
                let end = cols.len();
                insert_at(&mut cols, resolved(c)?, at, end)?;
            }
            Change::Drop(n) => {
                let i = index_of(&cols, n)?;
                cols.remove(i);
                key.retain(|k| !k.eq_ignore_ascii_case(n));
            }
            Change::Replace(old, c, at) => {
                let i = index_of(&cols, old)?;
                cols.remove(i);
                insert_at(&mut cols, resolved(c)?, at, i)?;
                for k in &mut key {
                    if k.eq_ignore_ascii_case(old) {
                        k.clone_from(&c.name);
                    }
                }
            }
            Change::RenameColumn(from, to) => {
                let i = index_of(&cols, from)?;
                if let Some(c) = cols.get_mut(i) {
                    c.name.clone_from(to);
                }
                for k in &mut key {
                    if k.eq_ignore_ascii_case(from) {
                        k.clone_from(to);
                    }
                }
            }
            Change::PrimaryKey(k) => key.clone_from(k),
            Change::DropPrimaryKey => key.clear(),
        }
    }
    let primary_key = key.iter().filter_map(|k| index_of(&cols, k)).collect();
    Some(CatalogTable {
        columns: cols,
        primary_key,
        default_collation: table.default_collation,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(t: &CatalogTable) -> Vec<&str> {
        t.columns.iter().map(|c| c.name.as_str()).collect()
    }

    fn created(sql: &str) -> CatalogTable {
        match parse(sql, "db") {
            Ddl::Create(_, t) => t,
            other => panic!("{sql}: {other:?}"),
        }
    }

    #[test]
    fn creates_tables_with_types_keys_and_charsets() {
        let t = created(
            "CREATE TABLE IF NOT EXISTS `订单` (\n  id INT UNSIGNED NOT NULL AUTO_INCREMENT,\n  `名称` VARCHAR(20) CHARACTER SET latin1 DEFAULT 'a,b' COMMENT 'x(y)',\n  e ENUM('r','g''s') NOT NULL, b VARBINARY(4), d DECIMAL(65,30), j JSON,\n  g INT GENERATED ALWAYS AS (id + 1) VIRTUAL,\n  PRIMARY KEY (id), KEY k (`名称`(5)), CONSTRAINT c CHECK (id > 0)\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 /*!50100 PARTITION BY HASH (id) */",
        );
        assert_eq!(names(&t), ["id", "名称", "e", "b", "d", "j", "g"]);
        assert_eq!(t.primary_key, [0]);
        assert_eq!(t.columns[0].column_type, "int unsigned");
        assert!(t.columns[0].unsigned() && !t.columns[0].nullable);
        assert_eq!(t.columns[1].collation_id, 8);
        assert_eq!(t.columns[2].members(), ["r", "g's"]);
        assert_eq!(t.columns[3].collation_id, BINARY_COLLATION);
        assert_eq!(t.columns[4].column_type, "decimal(65,30)");
        let inline = created("create table t (k bigint primary key, v text) charset latin1");
        assert_eq!(inline.primary_key, [0]);
        assert_eq!(inline.columns[1].collation_id, 8);
        assert_eq!(
            parse("CREATE TABLE a.t2 LIKE t", "db"),
            Ddl::CreateLike(("a".into(), "t2".into()), ("db".into(), "t".into()))
        );
        assert_eq!(
            parse("CREATE TABLE t AS SELECT 1", "db"),
            Ddl::Unknown(("db".into(), "t".into()))
        );
    }

    #[test]
    fn alters_columns_in_place() {
        let t =
            created("CREATE TABLE t (id INT PRIMARY KEY, a INT, b TEXT, c INT) CHARSET utf8mb4");
        let Ddl::Alter(name, changes, rename) = parse(
            "ALTER TABLE `db`.t ADD COLUMN x VARCHAR(8) DEFAULT 'x' AFTER id, DROP COLUMN b, CHANGE a a2 BIGINT FIRST, MODIFY c INT UNSIGNED, RENAME COLUMN id TO ident, ADD INDEX i (c), ALGORITHM=INPLACE, RENAME TO t9",
            "other",
        ) else {
            panic!()
        };
        assert_eq!(name, ("db".into(), "t".into()));
        assert_eq!(rename, Some(("other".into(), "t9".into())));
        let after = apply(&t, &changes).unwrap();
        assert_eq!(names(&after), ["a2", "ident", "x", "c"]);
        assert_eq!(after.primary_key, [1]);
        assert_eq!(after.columns[0].data_type, "bigint");
        assert!(after.columns[3].unsigned());
        let Ddl::Alter(_, add_two, _) = parse(
            "alter table t add (p int, q int), add primary key (p, q)",
            "db",
        ) else {
            panic!()
        };
        let two = apply(&t, &add_two).unwrap();
        assert_eq!(names(&two), ["id", "a", "b", "c", "p", "q"]);
        assert_eq!(two.primary_key, [4, 5]);
        // A missing column: not applied.
        let Ddl::Alter(_, bad, _) = parse("ALTER TABLE t DROP COLUMN nope", "db") else {
            panic!()
        };
        assert_eq!(apply(&t, &bad), None);
    }

    #[test]
    fn character_columns_take_the_charset_the_ddl_or_the_table_says() {
        let latin1 = created("CREATE TABLE t (id INT PRIMARY KEY, a INT) DEFAULT CHARSET=latin1");
        assert_eq!(latin1.default_collation, 8);
        let alter = |sql: &str, t: &CatalogTable| match parse(sql, "db") {
            Ddl::Alter(_, changes, _) => apply(t, &changes),
            other => panic!("{sql}: {other:?}"),
        };
        // Added or redefined without a charset: the table's default, not utf8mb4.
        let added = alter(
            "ALTER TABLE t ADD COLUMN v VARCHAR(10), ADD w TEXT CHARACTER SET gbk",
            &latin1,
        )
        .unwrap();
        assert_eq!(added.columns[2].collation_id, 8);
        assert_eq!(added.columns[3].collation_id, 28);
        assert_eq!(added.default_collation, 8);
        let modified = alter("ALTER TABLE t MODIFY v VARCHAR(20)", &added).unwrap();
        assert_eq!(modified.columns[2].collation_id, 8);
        let utf16 = alter("ALTER TABLE t ADD u CHAR(2) CHARACTER SET utf16", &latin1).unwrap();
        assert_eq!(utf16.columns[2].collation_id, 54);
        // Numbers need no charset: followed whatever the default.
        let unknown_default = CatalogTable {
            default_collation: 0,
            ..latin1.clone()
        };
        assert!(alter("ALTER TABLE t ADD n BIGINT", &unknown_default).is_some());
        // A character column on a table whose default is unknown: not followed (the catalog
        // is read), never guessed.
        assert_eq!(
            alter("ALTER TABLE t ADD v VARCHAR(10)", &unknown_default),
            None
        );
        // The database's default is not in the statement, nor is an unknown charset's id.
        for sql in [
            "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(10))",
            "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(10) CHARACTER SET koi9)",
            "ALTER TABLE t ADD v VARCHAR(10) CHARACTER SET koi9",
        ] {
            assert_eq!(
                parse(sql, "db"),
                Ddl::Unknown(("db".into(), "t".into())),
                "{sql}"
            );
        }
        let numbers = created("CREATE TABLE t (id INT PRIMARY KEY, b VARBINARY(4))");
        assert_eq!(numbers.default_collation, 0);
        assert_eq!(numbers.columns[1].collation_id, BINARY_COLLATION);
    }

    #[test]
    fn renames_drops_and_the_rest() {
        assert_eq!(
            parse("RENAME TABLE a TO b, x.c TO `新`", "db"),
            Ddl::Rename(vec![
                (("db".into(), "a".into()), ("db".into(), "b".into())),
                (("x".into(), "c".into()), ("db".into(), "新".into()))
            ])
        );
        assert_eq!(
            parse(
                "DROP TABLE IF EXISTS a, b.c /* generated by server */",
                "db"
            ),
            Ddl::Drop(vec![("db".into(), "a".into()), ("b".into(), "c".into())])
        );
        assert_eq!(
            parse("ALTER TABLE t CONVERT TO CHARACTER SET latin1", "db"),
            Ddl::Unknown(("db".into(), "t".into()))
        );
        for other in [
            "CREATE INDEX i ON t (a)",
            "CREATE DATABASE d",
            "TRUNCATE t",
            "GRANT ALL ON *.* TO x",
            "COMMIT",
        ] {
            assert_eq!(parse(other, "db"), Ddl::Other, "{other}");
        }
    }

    #[test]
    fn never_panics_on_garbage() {
        for s in [
            "CREATE TABLE",
            "CREATE TABLE t (",
            "ALTER TABLE t ADD",
            "ALTER TABLE t CHANGE a",
            "RENAME TABLE a",
            "CREATE TABLE t (a INT(",
            "'",
            "`",
            "/*",
            "CREATE TABLE t (a ENUM('x)",
        ] {
            let _ = parse(s, "db");
        }
    }
}
