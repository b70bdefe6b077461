//! The store's two databases behind one small interface: an embedded SQLite file, or a PostgreSQL
//! server that many worker processes share. Queries are written once, with `?N` placeholders and
//! a few dialect tokens (`{now}`, `{now_ms}`, `{skip_locked}`), and values travel as [`Value`]s.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// Where a store lives: a SQLite file (the embedded default) or a PostgreSQL database.
#[derive(Clone, PartialEq, Eq)]
pub enum StoreLocation {
    Sqlite(PathBuf),
    /// A `postgres://` or `postgresql://` URL, kept as written (shown with its password hidden).
    Postgres(String),
}

impl StoreLocation {
    /// A file path, or a PostgreSQL URL when `text` starts with `postgres://` or `postgresql://`.
    pub fn parse(text: &str) -> StoreLocation {
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            StoreLocation::Postgres(text.to_string())
        } else {
            StoreLocation::Sqlite(PathBuf::from(text))
        }
    }

    /// The SQLite file, for a file store.
    pub fn file(&self) -> Option<&Path> {
        match self {
            StoreLocation::Sqlite(path) => Some(path),
            StoreLocation::Postgres(_) => None,
        }
    }

    pub fn is_shared(&self) -> bool {
        matches!(self, StoreLocation::Postgres(_))
    }

    /// Whether a store is there to read (a file that exists; a server is asked when connecting).
    pub fn exists(&self) -> bool {
        match self {
            StoreLocation::Sqlite(path) => path.exists(),
            StoreLocation::Postgres(_) => true,
        }
    }
}

impl FromStr for StoreLocation {
    type Err = std::convert::Infallible;

    fn from_str(text: &str) -> std::result::Result<Self, Self::Err> {
        Ok(StoreLocation::parse(text))
    }
}

impl From<&Path> for StoreLocation {
    fn from(path: &Path) -> Self {
        StoreLocation::Sqlite(path.to_path_buf())
    }
}

impl From<PathBuf> for StoreLocation {
    fn from(path: PathBuf) -> Self {
        StoreLocation::Sqlite(path)
    }
}

/// Shows a file's path, or the URL with any password replaced by `***`: locations appear in
/// errors and logs, passwords never do.
impl fmt::Display for StoreLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreLocation::Sqlite(path) => write!(f, "{}", path.display()),
            StoreLocation::Postgres(url) => f.write_str(&redact_url(url)),
        }
    }
}

impl fmt::Debug for StoreLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StoreLocation({self})")
    }
}

/// `postgres://user:secret@host/db?password=x` → `postgres://user:***@host/db?password=***`.
fn redact_url(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let (authority_end, _) = rest.char_indices().find(|&(_, c)| c == '/' || c == '?').unwrap_or((rest.len(), ' '));
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rsplit_once('@') {
        Some((credentials, host)) => match credentials.split_once(':') {
            Some((user, _)) => format!("{user}:***@{host}"),
            None => format!("{credentials}@{host}"),
        },
        None => authority.to_string(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let query: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
                    _ => pair.to_string(),
                })
                .collect();
            format!("{path}?{}", query.join("&"))
        }
        None => tail.to_string(),
    };
    format!("{scheme}://{authority}{tail}")
}

/// A value passed to or read from the database.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Bytes(Vec<u8>),
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}
impl From<u32> for Value {
    fn from(v: u32) -> Self {
        Value::Int(v.into())
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Int(v.into())
    }
}
impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Real(v)
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_string())
    }
}
impl From<&String> for Value {
    fn from(v: &String) -> Self {
        Value::Text(v.clone())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}
impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Self {
        Value::Bytes(v)
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

/// Builds a `&[Value]` parameter list: `params![id, name, None::<i64>]`.
macro_rules! params {
    ($($value:expr),* $(,)?) => { &[$($crate::store::backend::Value::from($value)),*] as &[$crate::store::backend::Value] };
}
pub(crate) use params;

/// One result row.
#[derive(Clone, Debug)]
pub struct Row(pub Vec<Value>);

impl Row {
    fn at(&self, column: usize) -> Result<&Value> {
        self.0.get(column).ok_or_else(|| Error::Invalid(format!("store: a row has no column {column}")))
    }

    fn mismatch(&self, column: usize, wanted: &str) -> Error {
        Error::Invalid(format!("store: column {column} holds {:?} where {wanted} was expected", self.0.get(column)))
    }

    pub fn int(&self, column: usize) -> Result<i64> {
        self.opt_int(column)?.ok_or_else(|| self.mismatch(column, "an integer"))
    }

    pub fn opt_int(&self, column: usize) -> Result<Option<i64>> {
        match self.at(column)? {
            Value::Null => Ok(None),
            Value::Int(v) => Ok(Some(*v)),
            _ => Err(self.mismatch(column, "an integer")),
        }
    }

    pub fn real(&self, column: usize) -> Result<f64> {
        match self.at(column)? {
            Value::Real(v) => Ok(*v),
            Value::Int(v) => Ok(*v as f64),
            _ => Err(self.mismatch(column, "a number")),
        }
    }

    pub fn text(&self, column: usize) -> Result<String> {
        self.opt_text(column)?.ok_or_else(|| self.mismatch(column, "text"))
    }

    pub fn bytes(&self, column: usize) -> Result<Vec<u8>> {
        match self.at(column)? {
            Value::Bytes(v) => Ok(v.clone()),
            _ => Err(self.mismatch(column, "bytes")),
        }
    }

    pub fn opt_text(&self, column: usize) -> Result<Option<String>> {
        match self.at(column)? {
            Value::Null => Ok(None),
            Value::Text(v) => Ok(Some(v.clone())),
            _ => Err(self.mismatch(column, "text")),
        }
    }
}

/// Which SQL a database speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// `sql` as this database reads it: `?N` → `$N` for PostgreSQL, and the tokens expanded.
    pub fn render(self, sql: &str) -> String {
        match self {
            Dialect::Sqlite => sql
                .replace("{now}", "strftime('%Y-%m-%dT%H:%M:%SZ', 'now')")
                .replace("{now_ms}", "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)")
                .replace("{skip_locked}", "")
                .replace("{id}", "INTEGER PRIMARY KEY")
                .replace("{int}", "INTEGER")
                .replace("{real}", "REAL")
                .replace("{bytes}", "BLOB")
                .replace("{without_rowid}", "WITHOUT ROWID"),
            Dialect::Postgres => {
                let mut out = String::with_capacity(sql.len() + 16);
                let mut chars = sql.chars().peekable();
                while let Some(c) = chars.next() {
                    if c == '?' && chars.peek().is_some_and(char::is_ascii_digit) {
                        out.push('$');
                    } else {
                        out.push(c);
                    }
                }
                out.replace("{now}", "to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')")
                    .replace("{now_ms}", "CAST(extract(epoch FROM clock_timestamp()) * 1000 AS BIGINT)")
                    .replace("{skip_locked}", "FOR UPDATE SKIP LOCKED")
                    .replace("{id}", "BIGSERIAL PRIMARY KEY")
                    .replace("{int}", "BIGINT")
                    .replace("{real}", "DOUBLE PRECISION")
                    .replace("{bytes}", "BYTEA")
                    .replace("{without_rowid}", "")
            }
        }
    }
}

/// Runs statements: a connection, or a transaction on one.
pub trait Sql {
    /// Runs one statement; the number of rows it changed.
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64>;
    /// Runs one statement; the rows it returned.
    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>>;
    /// Runs statements separated by `;`, without parameters.
    fn batch(&mut self, sql: &str) -> Result<()>;

    /// The first row, if any.
    fn query_opt(&mut self, sql: &str, params: &[Value]) -> Result<Option<Row>> {
        Ok(self.query(sql, params)?.into_iter().next())
    }

    /// The one integer a query returns (`count(*)`, an id).
    fn query_int(&mut self, sql: &str, params: &[Value]) -> Result<i64> {
        self.query_opt(sql, params)?.ok_or_else(|| Error::Invalid(format!("store: `{sql}` returned no row")))?.int(0)
    }
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self {
            Value::Null => ValueRef::Null,
            Value::Int(v) => ValueRef::Integer(*v),
            Value::Real(v) => ValueRef::Real(*v),
            Value::Text(v) => ValueRef::Text(v.as_bytes()),
            Value::Bytes(v) => ValueRef::Blob(v),
        }))
    }
}

/// A SQLite connection (or transaction, which dereferences to one).
struct SqliteSql<'a>(&'a rusqlite::Connection);

impl Sql for SqliteSql<'_> {
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64> {
        let mut statement = self.0.prepare_cached(&Dialect::Sqlite.render(sql))?;
        Ok(statement.execute(rusqlite::params_from_iter(params))? as u64)
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>> {
        use rusqlite::types::ValueRef;
        let mut statement = self.0.prepare_cached(&Dialect::Sqlite.render(sql))?;
        let columns = statement.column_count();
        let mut rows = statement.query(rusqlite::params_from_iter(params))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let mut values = Vec::with_capacity(columns);
            for column in 0..columns {
                values.push(match row.get_ref(column)? {
                    ValueRef::Null => Value::Null,
                    ValueRef::Integer(v) => Value::Int(v),
                    ValueRef::Real(v) => Value::Real(v),
                    ValueRef::Text(v) => Value::Text(String::from_utf8_lossy(v).into_owned()),
                    ValueRef::Blob(v) => Value::Bytes(v.to_vec()),
                });
            }
            out.push(Row(values));
        }
        Ok(out)
    }

    fn batch(&mut self, sql: &str) -> Result<()> {
        Ok(self.0.execute_batch(&Dialect::Sqlite.render(sql))?)
    }
}

impl postgres::types::ToSql for Value {
    fn to_sql(
        &self,
        ty: &postgres::types::Type,
        out: &mut bytes::BytesMut,
    ) -> std::result::Result<postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        use postgres::types::Type;
        match self {
            Value::Null => Ok(postgres::types::IsNull::Yes),
            Value::Int(v) => match *ty {
                Type::INT8 => v.to_sql(ty, out),
                Type::INT4 => i32::try_from(*v)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(*v)?.to_sql(ty, out),
                Type::FLOAT8 => (*v as f64).to_sql(ty, out),
                Type::BOOL => (*v != 0).to_sql(ty, out),
                _ => Err(format!("cannot pass an integer as {ty}").into()),
            },
            Value::Real(v) => match *ty {
                Type::FLOAT8 => v.to_sql(ty, out),
                Type::FLOAT4 => (*v as f32).to_sql(ty, out),
                _ => Err(format!("cannot pass a number as {ty}").into()),
            },
            Value::Text(v) => v.as_str().to_sql(ty, out),
            Value::Bytes(v) => v.as_slice().to_sql(ty, out),
        }
    }

    fn accepts(_: &postgres::types::Type) -> bool {
        true
    }

    postgres::types::to_sql_checked!();
}

/// A PostgreSQL connection or transaction, with the connection's prepared statements.
struct PgSql<'a, C: postgres::GenericClient> {
    client: &'a mut C,
    statements: &'a mut HashMap<String, postgres::Statement>,
}

impl<C: postgres::GenericClient> PgSql<'_, C> {
    fn statement(&mut self, sql: &str) -> Result<postgres::Statement> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.client.prepare(&Dialect::Postgres.render(sql))?;
        self.statements.insert(sql.to_string(), statement.clone());
        Ok(statement)
    }
}

fn pg_params(params: &[Value]) -> Vec<&(dyn postgres::types::ToSql + Sync)> {
    params.iter().map(|p| p as &(dyn postgres::types::ToSql + Sync)).collect()
}

impl<C: postgres::GenericClient> Sql for PgSql<'_, C> {
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64> {
        let statement = self.statement(sql)?;
        Ok(self.client.execute(&statement, &pg_params(params))?)
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>> {
        use postgres::types::Type;
        let statement = self.statement(sql)?;
        let rows = self.client.query(&statement, &pg_params(params))?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let mut values = Vec::with_capacity(row.len());
            for (column, info) in row.columns().iter().enumerate() {
                let ty = info.type_();
                let value = match *ty {
                    Type::INT8 => row.try_get::<_, Option<i64>>(column)?.map(Value::Int),
                    Type::INT4 => row.try_get::<_, Option<i32>>(column)?.map(|v| Value::Int(v.into())),
                    Type::INT2 => row.try_get::<_, Option<i16>>(column)?.map(|v| Value::Int(v.into())),
                    Type::BOOL => row.try_get::<_, Option<bool>>(column)?.map(|v| Value::Int(v.into())),
                    Type::FLOAT8 => row.try_get::<_, Option<f64>>(column)?.map(Value::Real),
                    Type::FLOAT4 => row.try_get::<_, Option<f32>>(column)?.map(|v| Value::Real(v.into())),
                    Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => {
                        row.try_get::<_, Option<String>>(column)?.map(Value::Text)
                    }
                    Type::BYTEA => row.try_get::<_, Option<Vec<u8>>>(column)?.map(Value::Bytes),
                    _ => {
                        return Err(Error::Invalid(format!(
                            "store: column `{}` has type {ty}, which the store does not read",
                            info.name()
                        )));
                    }
                };
                values.push(value.unwrap_or(Value::Null));
            }
            out.push(Row(values));
        }
        Ok(out)
    }

    fn batch(&mut self, sql: &str) -> Result<()> {
        Ok(self.client.batch_execute(&Dialect::Postgres.render(sql))?)
    }
}

/// How long a shared store keeps trying to reach a server that went away (a restart, a network
/// hiccup) before giving up.
const RECONNECT_FOR: Duration = Duration::from_secs(120);

/// An open database.
pub enum Db {
    Sqlite(rusqlite::Connection),
    Postgres(Box<PgConnection>),
}

/// A PostgreSQL connection with what is needed to reconnect to it.
pub struct PgConnection {
    config: postgres::Config,
    client: postgres::Client,
    statements: HashMap<String, postgres::Statement>,
}

impl fmt::Debug for Db {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Db::Sqlite(_) => f.write_str("Db::Sqlite"),
            Db::Postgres(_) => f.write_str("Db::Postgres"),
        }
    }
}

impl Db {
    pub fn dialect(&self) -> Dialect {
        match self {
            Db::Sqlite(_) => Dialect::Sqlite,
            Db::Postgres(_) => Dialect::Postgres,
        }
    }

    /// Connects to the PostgreSQL database of `url`: the password from the URL or `PGPASSWORD`,
    /// the user from the URL, `PGUSER` or the login name; TLS when the server offers it
    /// (`sslmode=require` in the URL insists on it).
    pub fn connect_postgres(url: &str) -> Result<Db> {
        let shown = redact_url(url);
        let mut config = postgres::Config::from_str(url)
            .map_err(|e| Error::Invalid(format!("store {shown}: not a PostgreSQL URL ({e})")))?;
        if config.get_password().is_none()
            && let Ok(password) = std::env::var("PGPASSWORD")
        {
            config.password(password);
        }
        if config.get_user().is_none()
            && let Ok(user) = std::env::var("PGUSER")
        {
            config.user(&user);
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        let client = pg_connect(&config)?;
        Ok(Db::Postgres(Box::new(PgConnection { config, client, statements: HashMap::new() })))
    }

    /// Runs `f` on the connection, outside a transaction.
    pub fn run<T>(&mut self, mut f: impl FnMut(&mut dyn Sql) -> Result<T>) -> Result<T> {
        match self {
            Db::Sqlite(conn) => f(&mut SqliteSql(conn)),
            Db::Postgres(pg) => pg.retrying(|client, statements| f(&mut PgSql { client, statements })),
        }
    }

    /// Runs `f` in a transaction, committed when it returns `Ok`. SQLite takes the write lock at
    /// the start (so two processes never deadlock upgrading a read lock).
    pub fn transaction<T>(&mut self, mut f: impl FnMut(&mut dyn Sql) -> Result<T>) -> Result<T> {
        match self {
            Db::Sqlite(conn) => {
                let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                let value = f(&mut SqliteSql(&tx))?;
                tx.commit()?;
                Ok(value)
            }
            Db::Postgres(pg) => pg.retrying(|client, statements| {
                let mut tx = client.transaction()?;
                let value = f(&mut PgSql { client: &mut tx, statements })?;
                tx.commit()?;
                Ok(value)
            }),
        }
    }
}

fn pg_connect(config: &postgres::Config) -> Result<postgres::Client> {
    let tls = tokio_postgres_rustls::MakeRustlsConnect::with_webpki_roots();
    Ok(config.connect(tls)?)
}

impl PgConnection {
    /// Runs `op`; when the connection was lost (the server restarted, the network dropped), it
    /// reconnects, retrying for up to [`RECONNECT_FOR`], and runs `op` again. Every write of the
    /// store is idempotent (a match is finished only while unfinished, inserts ignore what is
    /// there), so running one again after a lost answer changes nothing.
    fn retrying<T>(
        &mut self,
        mut op: impl FnMut(&mut postgres::Client, &mut HashMap<String, postgres::Statement>) -> Result<T>,
    ) -> Result<T> {
        let started = Instant::now();
        let mut wait = Duration::from_millis(100);
        loop {
            if !self.client.is_closed() {
                match op(&mut self.client, &mut self.statements) {
                    Ok(value) => return Ok(value),
                    Err(error) if !self.client.is_closed() && !connection_lost(&error) => return Err(error),
                    Err(error) if started.elapsed() > RECONNECT_FOR => return Err(error),
                    Err(_) => {}
                }
            }
            // Lost: reconnect (the prepared statements went with the old connection).
            loop {
                std::thread::sleep(wait);
                wait = (wait * 2).min(Duration::from_secs(2));
                match pg_connect(&self.config) {
                    Ok(client) => {
                        self.client = client;
                        self.statements.clear();
                        break;
                    }
                    Err(error) if started.elapsed() > RECONNECT_FOR => {
                        return Err(Error::Context {
                            context: format!("the database server did not answer for {} s", RECONNECT_FOR.as_secs()),
                            source: Box::new(error),
                        });
                    }
                    Err(_) => {}
                }
            }
        }
    }
}

/// Whether `error` says the server went away (rather than that the statement was wrong).
fn connection_lost(error: &Error) -> bool {
    let Error::Postgres(e) = error else { return false };
    if e.is_closed() {
        return true;
    }
    // Class 08 (connection exception), 57P01-57P03 (admin shutdown, crash shutdown, cannot connect now).
    e.code().is_some_and(|code| {
        let code = code.code();
        code.starts_with("08") || code.starts_with("57P")
    }) || std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_shown_without_their_password() {
        let shown = StoreLocation::parse("postgres://arena:s3cret@db.example:5433/runs?sslmode=require").to_string();
        assert_eq!(shown, "postgres://arena:***@db.example:5433/runs?sslmode=require");
        let shown = StoreLocation::parse("postgresql://arena@db/runs?password=s3cret&sslmode=prefer").to_string();
        assert_eq!(shown, "postgresql://arena@db/runs?password=***&sslmode=prefer");
        assert_eq!(StoreLocation::parse("runs/a.db"), StoreLocation::Sqlite("runs/a.db".into()));
    }

    #[test]
    fn placeholders_become_dollar_parameters_for_postgres() {
        let sql = "SELECT a FROM t WHERE b = ?1 AND c = '?' AND d < {now_ms} LIMIT ?12";
        let pg = Dialect::Postgres.render(sql);
        assert!(pg.starts_with("SELECT a FROM t WHERE b = $1 AND c = '?' AND d < CAST("), "{pg}");
        assert!(pg.ends_with("LIMIT $12"), "{pg}");
        assert!(Dialect::Sqlite.render(sql).contains("b = ?1"));
    }
}
