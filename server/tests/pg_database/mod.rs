//! A PostgreSQL database of one test's own, on `GRANARY_TEST_POSTGRES` (default
//! `postgres://postgres@127.0.0.1:5432`), dropped with the value: a test run leaves
//! no databases behind, also when the test fails.

use sqlx::Connection;

pub struct TestDatabase {
    pub url: String,
    name: String,
}

fn server() -> String {
    std::env::var("GRANARY_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

impl TestDatabase {
    /// Creates `{prefix}_{random}`.
    pub async fn create(prefix: &str) -> Self {
        let name = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
        let mut conn = sqlx::PgConnection::connect(&format!("{}/postgres", server()))
            .await
            .expect("PostgreSQL must run on 127.0.0.1:5432 for the postgres tests (GRANARY_TEST_POSTGRES to change)");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .unwrap();
        Self {
            url: format!("{}/{name}", server()),
            name,
        }
    }
}

impl Drop for TestDatabase {
    /// `WITH (FORCE)` closes what the test's servers still hold open. Drop runs inside
    /// the test's runtime, which cannot block on a future: the drop gets a thread and a
    /// runtime of its own.
    fn drop(&mut self) {
        let admin = format!("{}/postgres", server());
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            rt.block_on(async {
                let mut conn = sqlx::PgConnection::connect(&admin).await?;
                sqlx::query(&sql).execute(&mut conn).await?;
                Ok::<_, sqlx::Error>(())
            })
            .map_err(std::io::Error::other)
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!(
                "could not drop the test database {}: {dropped:?}",
                self.name
            );
        }
    }
}
