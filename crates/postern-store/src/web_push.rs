//! Web Push subscriptions of Postern Authenticator devices: where a device's browser can be woken
//! (its push service endpoint and RFC 8291 keys, the auth secret sealed by the server), a bounded
//! number per device, and the push service's last answer. Rows go with their device.

use crate::rows::{get_opt_text, get_opt_time, get_text, get_time, ms};
use crate::{Result, Store};
use time::OffsetDateTime;

/// One subscription as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebPushSubscriptionRecord {
    pub id: String,
    pub device_id: String,
    /// The push service URL the server POSTs to.
    pub endpoint: String,
    /// The subscription's P-256 public key, base64url.
    pub p256dh: String,
    /// The 16-byte auth secret, sealed with the master key (base64url).
    pub sealed_auth: String,
    pub created: OffsetDateTime,
    pub last_sent: Option<OffsetDateTime>,
    /// The push service's last answer in words.
    pub last_result: Option<String>,
}

fn from_row(row: &sqlx::any::AnyRow) -> Result<WebPushSubscriptionRecord> {
    Ok(WebPushSubscriptionRecord {
        id: get_text(row, "id")?,
        device_id: get_text(row, "device_id")?,
        endpoint: get_text(row, "endpoint")?,
        p256dh: get_text(row, "p256dh")?,
        sealed_auth: get_text(row, "sealed_auth")?,
        created: get_time(row, "created_ms")?,
        last_sent: get_opt_time(row, "last_sent_ms")?,
        last_result: get_opt_text(row, "last_result")?,
    })
}

const COLUMNS: &str =
    "id, device_id, endpoint, p256dh, sealed_auth, created_ms, last_sent_ms, last_result";

impl Store {
    /// Stores a subscription for its device, replacing one with the same endpoint (a browser
    /// that subscribes again), and keeps only the newest `keep` of the device: one transaction,
    /// serialised per device.
    pub async fn save_web_push_subscription(
        &self,
        sub: &WebPushSubscriptionRecord,
        keep: usize,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        if self.backend == crate::Backend::Postgres {
            // Serialises saves of one device (the row lock of the device's method).
            sqlx::query("SELECT id FROM auth_methods WHERE id = $1 FOR UPDATE")
                .bind(&sub.device_id)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("DELETE FROM web_push_subscriptions WHERE device_id = $1 AND endpoint = $2")
            .bind(&sub.device_id)
            .bind(&sub.endpoint)
            .execute(&mut *tx)
            .await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO web_push_subscriptions ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        )))
        .bind(&sub.id)
        .bind(&sub.device_id)
        .bind(&sub.endpoint)
        .bind(&sub.p256dh)
        .bind(&sub.sealed_auth)
        .bind(ms(sub.created))
        .bind(sub.last_sent.map(ms))
        .bind(sub.last_result.as_deref())
        .execute(&mut *tx)
        .await?;
        let rows = sqlx::query(
            "SELECT id FROM web_push_subscriptions WHERE device_id = $1
             ORDER BY created_ms DESC, id DESC",
        )
        .bind(&sub.device_id)
        .fetch_all(&mut *tx)
        .await?;
        for row in rows.iter().skip(keep) {
            sqlx::query("DELETE FROM web_push_subscriptions WHERE id = $1")
                .bind(get_text(row, "id")?)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// A device's subscriptions, newest first.
    pub async fn list_web_push_subscriptions(
        &self,
        device_id: &str,
    ) -> Result<Vec<WebPushSubscriptionRecord>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM web_push_subscriptions WHERE device_id = $1
             ORDER BY created_ms DESC, id DESC"
        )))
        .bind(device_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// Removes one subscription (the push service said it is gone); false if it was not there.
    pub async fn delete_web_push_subscription(&self, id: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM web_push_subscriptions WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Removes every subscription of a device (the app turned notifications off); how many.
    pub async fn delete_device_web_push_subscriptions(&self, device_id: &str) -> Result<u64> {
        let done = sqlx::query("DELETE FROM web_push_subscriptions WHERE device_id = $1")
            .bind(device_id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// Records the push service's answer to a send.
    pub async fn record_web_push_result(
        &self,
        id: &str,
        at: OffsetDateTime,
        words: &str,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE web_push_subscriptions SET last_sent_ms = $1, last_result = $2 WHERE id = $3",
        )
        .bind(ms(at))
        .bind(words)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
