//! The sign-in log: one summary row per sign-in (`signins`, keyed by correlation id), the request
//! ids that took part (`signin_requests`, so a helpdesk can paste either id), and the numbered
//! steps (`signin_steps`).
//!
//! Nothing secret is written here; the domain words each step. The log has no foreign keys to
//! accounts or clients: it must record attempts with unknown usernames and applications too.

use crate::rows::{
    conflict_as, get_opt_i64, get_opt_text, get_text, get_time, is_unique_violation, ms,
};
use crate::{Result, SignInUpdate, Store, StoreError};
use postern_core::signin_log::{SignInEntry, SignInResult, SignInStep, StepReason, StepResult};
use postern_proto::ErrorCode;
use sqlx::any::AnyRow;
use std::collections::HashMap;
use time::OffsetDateTime;

/// How often an append retries after another node took the same step number.
const APPEND_ATTEMPTS: usize = 8;

fn entry_from_row(row: &AnyRow) -> Result<SignInEntry> {
    let result = get_text(row, "result")?;
    let error_code = match get_opt_i64(row, "error_code")? {
        None => None,
        Some(n) => Some(
            u32::try_from(n)
                .ok()
                .and_then(ErrorCode::from_code)
                .ok_or_else(|| StoreError::Corrupt(format!("unknown error code {n}")))?,
        ),
    };
    Ok(SignInEntry {
        correlation_id: get_text(row, "correlation_id")?,
        started: get_time(row, "started_ms")?,
        updated: get_time(row, "updated_ms")?,
        user_id: get_opt_text(row, "user_id")?,
        username: get_opt_text(row, "username")?,
        client_id: get_opt_text(row, "client_id")?,
        client_name: get_opt_text(row, "client_name")?,
        ip: get_opt_text(row, "ip")?,
        user_agent: get_opt_text(row, "user_agent")?,
        result: SignInResult::parse(&result)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown sign-in result '{result}'")))?,
        error_code,
        failure_reason: get_opt_text(row, "failure_reason")?,
        request_ids: Vec::new(),
        steps: Vec::new(),
    })
}

fn step_from_row(row: &AnyRow) -> Result<SignInStep> {
    let result = get_text(row, "result")?;
    Ok(SignInStep {
        time: get_time(row, "time_ms")?,
        request_id: get_text(row, "request_id")?,
        method: get_text(row, "method")?,
        result: StepResult::parse(&result)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown step result '{result}'")))?,
        detail: get_text(row, "detail")?,
        reason: get_opt_text(row, "reason")?
            .as_deref()
            .and_then(StepReason::parse),
    })
}

fn error_code_value(code: Option<ErrorCode>) -> Option<i64> {
    code.map(|c| i64::from(c.code()))
}

impl Store {
    /// Opens a log entry, with the request ids and steps it already has.
    pub async fn create_signin(&self, e: &SignInEntry) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO signins (correlation_id, started_ms, updated_ms, user_id, username, client_id,
                                  client_name, ip, user_agent, result, error_code, failure_reason)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(&e.correlation_id)
        .bind(ms(e.started))
        .bind(ms(e.updated))
        .bind(&e.user_id)
        .bind(&e.username)
        .bind(&e.client_id)
        .bind(&e.client_name)
        .bind(&e.ip)
        .bind(&e.user_agent)
        .bind(e.result.as_str())
        .bind(error_code_value(e.error_code))
        .bind(&e.failure_reason)
        .execute(&mut *tx)
        .await
        .map_err(|err| conflict_as(err, || format!("sign-in '{}'", e.correlation_id)))?;
        let mut request_ids: Vec<&String> = Vec::new();
        for id in e
            .request_ids
            .iter()
            .chain(e.steps.iter().map(|s| &s.request_id))
        {
            if !request_ids.contains(&id) {
                request_ids.push(id);
            }
        }
        for (i, request_id) in (0_i64..).zip(request_ids) {
            sqlx::query(
                "INSERT INTO signin_requests (request_id, correlation_id, seq) VALUES ($1, $2, $3)
                 ON CONFLICT DO NOTHING",
            )
            .bind(request_id)
            .bind(&e.correlation_id)
            .bind(i + 1)
            .execute(&mut *tx)
            .await?;
        }
        for (seq, step) in (1_i64..).zip(&e.steps) {
            sqlx::query(
                "INSERT INTO signin_steps (correlation_id, seq, time_ms, request_id, method, result, detail, reason)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(&e.correlation_id)
            .bind(seq)
            .bind(ms(step.time))
            .bind(&step.request_id)
            .bind(&step.method)
            .bind(step.result.as_str())
            .bind(&step.detail)
            .bind(step.reason.map(StepReason::as_str))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Records that a request took part in a sign-in (once; repeats are ignored).
    pub async fn add_signin_request(&self, correlation_id: &str, request_id: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO signin_requests (request_id, correlation_id, seq)
             SELECT $1, $2, COALESCE(MAX(seq), 0) + 1 FROM signin_requests WHERE correlation_id = $2
             ON CONFLICT DO NOTHING",
        )
        .bind(request_id)
        .bind(correlation_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Appends a step with the next number of its sign-in, and records its request id.
    pub async fn append_signin_step(&self, correlation_id: &str, step: &SignInStep) -> Result<()> {
        self.record_signin(correlation_id, std::slice::from_ref(step), None)
            .await
    }

    /// Everything one request adds to a sign-in, in one transaction: its steps (numbered after
    /// the existing ones), their request ids, and the summary update if given. Used on the hot path
    /// of every sign-in, where one commit instead of several matters. Appends to one entry wait
    /// for each other (see `write_record`); one to an entry not yet created that takes the same
    /// step number as another retries.
    pub async fn record_signin(
        &self,
        correlation_id: &str,
        steps: &[SignInStep],
        update: Option<&SignInUpdate>,
    ) -> Result<()> {
        let record = SignInRecord {
            correlation_id,
            steps,
            update,
        };
        self.retry_append(|| async {
            let mut tx = self.begin_write().await?;
            write_record(&mut tx, &record).await?;
            tx.commit().await?;
            Ok(())
        })
        .await
    }

    /// Runs a transaction that appends sign-in steps, again when another node took the same step
    /// number first.
    pub(crate) async fn retry_append<T, F, Fut>(&self, mut run: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        let mut attempt = 1;
        loop {
            match run().await {
                Err(StoreError::Database(e))
                    if is_unique_violation(&e) && attempt < APPEND_ATTEMPTS =>
                {
                    attempt += 1;
                    tokio::task::yield_now().await;
                }
                other => return other,
            }
        }
    }

    /// Updates the summary. `user_id` and `username` are only overwritten when given; the result,
    /// error code and failure reason always are.
    pub async fn update_signin(&self, correlation_id: &str, u: &SignInUpdate) -> Result<()> {
        self.record_signin(correlation_id, &[], Some(u)).await
    }

    /// The entry for a correlation id, or for any request id recorded with it; with its request
    /// ids (in the order recorded) and steps (in order).
    pub async fn find_signin(&self, id: &str) -> Result<Option<SignInEntry>> {
        let row = sqlx::query(
            "SELECT correlation_id, started_ms, updated_ms, user_id, username, client_id, client_name,
                    ip, user_agent, result, error_code, failure_reason
             FROM signins
             WHERE correlation_id = $1
                OR correlation_id IN (SELECT correlation_id FROM signin_requests WHERE request_id = $1)
             ORDER BY CASE WHEN correlation_id = $1 THEN 0 ELSE 1 END
             LIMIT 1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let mut entry = entry_from_row(&row)?;
        entry.request_ids = sqlx::query(
            "SELECT request_id FROM signin_requests WHERE correlation_id = $1 ORDER BY seq, request_id",
        )
        .bind(&entry.correlation_id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| get_text(r, "request_id"))
        .collect::<Result<_>>()?;
        entry.steps = sqlx::query(
            "SELECT time_ms, request_id, method, result, detail, reason
             FROM signin_steps WHERE correlation_id = $1 ORDER BY seq",
        )
        .bind(&entry.correlation_id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(step_from_row)
        .collect::<Result<_>>()?;
        Ok(Some(entry))
    }

    /// A user's `limit` most recent sign-ins, newest first: summaries only (no steps), for the
    /// user's own Security info page.
    pub async fn list_user_signins(&self, user_id: &str, limit: i64) -> Result<Vec<SignInEntry>> {
        sqlx::query(
            "SELECT correlation_id, started_ms, updated_ms, user_id, username, client_id, client_name,
                    ip, user_agent, result, error_code, failure_reason
             FROM signins WHERE user_id = $1
             ORDER BY started_ms DESC, correlation_id DESC LIMIT $2",
        )
        .bind(user_id)
        .bind(limit.max(0))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(entry_from_row)
        .collect()
    }

    /// The `limit` most recently started sign-ins, newest first, with request ids and steps.
    pub async fn list_signins(&self, limit: i64) -> Result<Vec<SignInEntry>> {
        let limit = limit.max(0);
        let mut entries: Vec<SignInEntry> = sqlx::query(
            "SELECT correlation_id, started_ms, updated_ms, user_id, username, client_id, client_name,
                    ip, user_agent, result, error_code, failure_reason
             FROM signins ORDER BY started_ms DESC, correlation_id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(entry_from_row)
        .collect::<Result<_>>()?;
        let index: HashMap<String, usize> = entries
            .iter()
            .enumerate()
            .map(|(i, e)| (e.correlation_id.clone(), i))
            .collect();

        // Two more queries for all entries at once, over the same (deterministic) selection.
        let requests = sqlx::query(
            "SELECT q.correlation_id, q.request_id FROM signin_requests q
             JOIN (SELECT correlation_id FROM signins
                   ORDER BY started_ms DESC, correlation_id DESC LIMIT $1) AS recent
               ON recent.correlation_id = q.correlation_id
             ORDER BY q.correlation_id, q.seq, q.request_id",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        for row in &requests {
            if let Some(&i) = index.get(&get_text(row, "correlation_id")?) {
                entries[i].request_ids.push(get_text(row, "request_id")?);
            }
        }
        let steps = sqlx::query(
            "SELECT s.correlation_id, s.time_ms, s.request_id, s.method, s.result, s.detail, s.reason
             FROM signin_steps s
             JOIN (SELECT correlation_id FROM signins
                   ORDER BY started_ms DESC, correlation_id DESC LIMIT $1) AS recent
               ON recent.correlation_id = s.correlation_id
             ORDER BY s.correlation_id, s.seq",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        for row in &steps {
            if let Some(&i) = index.get(&get_text(row, "correlation_id")?) {
                entries[i].steps.push(step_from_row(row)?);
            }
        }
        Ok(entries)
    }
}

/// What one request adds to a sign-in's log entry.
#[derive(Debug, Clone, Copy)]
pub struct SignInRecord<'a> {
    pub correlation_id: &'a str,
    pub steps: &'a [SignInStep],
    pub update: Option<&'a SignInUpdate>,
}

/// Writes a record inside the caller's transaction.
pub(crate) async fn write_record(
    conn: &mut sqlx::AnyConnection,
    rec: &SignInRecord<'_>,
) -> Result<()> {
    // On PostgreSQL, appends to one sign-in queue on its entry's row lock rather than collide on
    // a step number: thirty wrong guesses at once from two nodes would otherwise exhaust any
    // number of retries. The summary's update takes that lock when there is one, else a no-op
    // write does; taken first, as every transaction here takes a flow's lock (if any) before its
    // entry's. SQLite has one writer at a time already.
    let postgres = conn.backend_name() == <sqlx::Postgres as sqlx::Database>::NAME;
    if let Some(u) = rec.update {
        update_summary(conn, rec.correlation_id, u).await?;
    } else if postgres && !rec.steps.is_empty() {
        sqlx::query("UPDATE signins SET updated_ms = updated_ms WHERE correlation_id = $1")
            .bind(rec.correlation_id)
            .execute(&mut *conn)
            .await?;
    }
    let mut recorded: Vec<&str> = Vec::new();
    for step in rec.steps {
        sqlx::query(
            "INSERT INTO signin_steps (correlation_id, seq, time_ms, request_id, method, result, detail, reason)
             SELECT $1, COALESCE(MAX(seq), 0) + 1, $2, $3, $4, $5, $6, $7
             FROM signin_steps WHERE correlation_id = $1",
        )
        .bind(rec.correlation_id)
        .bind(ms(step.time))
        .bind(&step.request_id)
        .bind(&step.method)
        .bind(step.result.as_str())
        .bind(&step.detail)
        .bind(step.reason.map(StepReason::as_str))
        .execute(&mut *conn)
        .await?;
        // A request's steps share its id: record it once.
        if !recorded.contains(&step.request_id.as_str()) {
            recorded.push(&step.request_id);
            sqlx::query(
                "INSERT INTO signin_requests (request_id, correlation_id, seq)
                 SELECT $1, $2, COALESCE(MAX(seq), 0) + 1 FROM signin_requests WHERE correlation_id = $2
                 ON CONFLICT DO NOTHING",
            )
            .bind(&step.request_id)
            .bind(rec.correlation_id)
            .execute(&mut *conn)
            .await?;
        }
    }
    Ok(())
}

/// The summary's part of a record (see [`SignInUpdate`]).
async fn update_summary(
    conn: &mut sqlx::AnyConnection,
    correlation_id: &str,
    u: &SignInUpdate,
) -> Result<()> {
    sqlx::query(
        "UPDATE signins SET updated_ms = $1, user_id = COALESCE($2, user_id),
                            username = COALESCE($3, username), result = $4, error_code = $5,
                            failure_reason = $6
         WHERE correlation_id = $7",
    )
    .bind(ms(u.updated))
    .bind(&u.user_id)
    .bind(&u.username)
    .bind(u.result.as_str())
    .bind(error_code_value(u.error_code))
    .bind(&u.failure_reason)
    .bind(correlation_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// What to look for in the sign-in log. Every field narrows; none means everything.
#[derive(Debug, Clone, Default)]
pub struct SignInQuery {
    pub user_id: Option<String>,
    /// The username as typed (also finds attempts with unknown usernames).
    pub username: Option<String>,
    pub client_id: Option<String>,
    pub result: Option<SignInResult>,
    pub error_code: Option<ErrorCode>,
    pub from: Option<OffsetDateTime>,
    pub to: Option<OffsetDateTime>,
    /// Keyset paging: entries started strictly before this (started, correlation id).
    pub before: Option<(OffsetDateTime, String)>,
    pub limit: i64,
}

impl Store {
    /// Summaries (no steps or request ids) matching `q`, newest first.
    ///
    /// The statement has a condition only for each filter given, so that the database uses that
    /// filter's index; it is assembled from the fixed fragments below and every value is bound.
    pub async fn query_signins(&self, q: &SignInQuery) -> Result<Vec<SignInEntry>> {
        let mut sql = String::from(
            "SELECT correlation_id, started_ms, updated_ms, user_id, username, client_id, client_name,
                    ip, user_agent, result, error_code, failure_reason
             FROM signins WHERE 1 = 1",
        );
        let mut values: Vec<Bound<'_>> = Vec::new();
        fn add<'a>(
            sql: &mut String,
            values: &mut Vec<Bound<'a>>,
            fragment: &str,
            value: Bound<'a>,
        ) {
            values.push(value);
            sql.push_str(&format!(" AND {fragment} ${}", values.len()));
        }
        if let Some(v) = &q.user_id {
            add(&mut sql, &mut values, "user_id =", Bound::Text(v));
        }
        if let Some(v) = &q.username {
            add(&mut sql, &mut values, "username =", Bound::Text(v));
        }
        if let Some(v) = &q.client_id {
            add(&mut sql, &mut values, "client_id =", Bound::Text(v));
        }
        if let Some(v) = q.result {
            add(&mut sql, &mut values, "result =", Bound::Text(v.as_str()));
        }
        if let Some(v) = error_code_value(q.error_code) {
            add(&mut sql, &mut values, "error_code =", Bound::Int(v));
        }
        if let Some(v) = q.from {
            add(&mut sql, &mut values, "started_ms >=", Bound::Int(ms(v)));
        }
        if let Some(v) = q.to {
            add(&mut sql, &mut values, "started_ms <", Bound::Int(ms(v)));
        }
        if let Some((t, id)) = &q.before {
            values.push(Bound::Int(ms(*t)));
            values.push(Bound::Text(id));
            let (a, b) = (values.len() - 1, values.len());
            sql.push_str(&format!(
                " AND (started_ms < ${a} OR (started_ms = ${a} AND correlation_id < ${b}))"
            ));
        }
        values.push(Bound::Int(q.limit.max(0)));
        sql.push_str(&format!(
            " ORDER BY started_ms DESC, correlation_id DESC LIMIT ${}",
            values.len()
        ));
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for v in values {
            query = match v {
                Bound::Text(t) => query.bind(t),
                Bound::Int(i) => query.bind(i),
            };
        }
        query
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(entry_from_row)
            .collect()
    }
}

/// A value bound to an assembled statement.
enum Bound<'a> {
    Text(&'a str),
    Int(i64),
}

/// Request ids linked to one sign-in because a page showed them (see `link_shown_request`): a
/// bound, so that a client reloading an error page cannot grow one entry without end.
const MAX_SHOWN_LINKS: i64 = 100;

impl Store {
    /// Links a request id that a page showed within a sign-in (and that wrote no step), at most
    /// [`MAX_SHOWN_LINKS`] per sign-in and only for a sign-in the log has.
    pub async fn link_shown_request(&self, correlation_id: &str, request_id: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO signin_requests (request_id, correlation_id, seq)
             SELECT $1, $2, (SELECT COALESCE(MAX(seq), 0) + 1 FROM signin_requests WHERE correlation_id = $2)
             WHERE EXISTS (SELECT 1 FROM signins WHERE correlation_id = $2)
               AND (SELECT COUNT(*) FROM signin_requests WHERE correlation_id = $2) < $3
             ON CONFLICT DO NOTHING",
        )
        .bind(request_id)
        .bind(correlation_id)
        .bind(MAX_SHOWN_LINKS)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Sign-ins started at or after `since`, oldest first, after the position `after`, at most
    /// `limit`, each whole (request ids and steps): a page of an export.
    pub async fn export_signins(
        &self,
        since: OffsetDateTime,
        after: Option<(OffsetDateTime, String)>,
        limit: i64,
    ) -> Result<Vec<SignInEntry>> {
        let (after_ms, after_id) = match &after {
            Some((t, id)) => (Some(ms(*t)), Some(id.as_str())),
            None => (None, None),
        };
        let ids: Vec<String> = sqlx::query(
            "SELECT correlation_id FROM signins
             WHERE started_ms >= $1
               AND ($2 IS NULL OR started_ms > $2 OR (started_ms = $2 AND correlation_id > $3))
             ORDER BY started_ms, correlation_id LIMIT $4",
        )
        .bind(ms(since))
        .bind(after_ms)
        .bind(after_id)
        .bind(limit.max(0))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| get_text(r, "correlation_id"))
        .collect::<Result<_>>()?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(e) = self.find_signin(&id).await? {
                out.push(e);
            }
        }
        Ok(out)
    }
}
