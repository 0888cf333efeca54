//! mockall's `#[automock]` above a pooled trait. mockall knows async-trait
//! by the attribute's name, so the attribute is imported under it: the
//! same one-line change as everywhere else (`use async_trait::async_trait;`
//! becomes this `use`).

use flowcoro::pooled as async_trait;
use mockall::automock;

/// A store the code under test reads.
#[automock]
#[async_trait]
pub trait Db: Send + Sync {
    /// The value at `key`.
    async fn get(&self, key: &str) -> Option<u32>;
    /// Stores `value` at `key`.
    async fn put(&self, key: &str, value: u32);
}

/// Code under test: reads through `dyn Db`, then writes the sum back.
async fn add_up(db: &dyn Db, keys: &[&str]) -> u32 {
    let mut sum = 0;
    for key in keys {
        sum += db.get(key).await.unwrap_or(0);
    }
    db.put("sum", sum).await;
    sum
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mock_of_a_pooled_trait_answers_through_dyn() {
    let mut db = MockDb::new();
    db.expect_get().returning(|key| u32::try_from(key.len()).ok().filter(|_| key != "missing"));
    db.expect_put().withf(|key, value| key == "sum" && *value == 6).times(1).returning(|_, _| ());
    let db: std::sync::Arc<dyn Db> = std::sync::Arc::new(db);
    let sum = tokio::spawn(async move { add_up(&*db, &["a", "bb", "missing", "ccc"]).await });
    assert_eq!(sum.await.unwrap(), 6);
}
