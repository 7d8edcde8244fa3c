//! A real S3 endpoint for tests: `moto_server` (Python `moto[server]`) on a
//! free loopback port, with a bucket, killed when dropped.

#![allow(dead_code)]

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use granary_server::config::S3Config;

/// A running `moto_server`.
pub struct Moto {
    child: Child,
    pub endpoint: String,
}

impl Moto {
    /// Starts `moto_server` and creates `bucket`.
    pub async fn start(bucket: &str) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(
            std::env::var("GRANARY_TEST_MOTO").unwrap_or_else(|_| "moto_server".into()),
        )
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("moto_server must be installed (pip install 'moto[server]') for the S3 tests");
        let moto = Self {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match client
                .put(format!("{}/{bucket}", moto.endpoint))
                .send()
                .await
            {
                Ok(r) if r.status().is_success() => break,
                _ if Instant::now() > deadline => {
                    panic!("moto_server did not start on port {port}")
                }
                _ => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
        moto
    }

    /// Settings that reach this endpoint with moto's test credentials.
    pub fn config(&self) -> S3Config {
        S3Config {
            s3_endpoint: Some(self.endpoint.clone()),
            s3_region: Some("us-east-1".into()),
            s3_access_key_id: Some("test".into()),
            s3_secret_access_key: Some("test".into()),
            s3_allow_http: true,
            ..S3Config::default()
        }
    }

    /// The same settings as environment variables, for child processes.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_ACCESS_KEY_ID", "test".into()),
            ("AWS_SECRET_ACCESS_KEY", "test".into()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_ALLOW_HTTP", "true".into()),
        ]
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
