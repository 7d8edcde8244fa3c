//! A bare axum hello-world on the same stack as the server, the ceiling that
//! `bench/run` measures the API against: `hello ADDR` serves `GET /` and
//! prints `listening on http://ADDR` first.

#[tokio::main]
async fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".into());
    let app = axum::Router::new().route("/", axum::routing::get(|| async { "hello" }));
    let listener = tokio::net::TcpListener::bind(&addr).await.unwrap();
    println!("listening on http://{}", listener.local_addr().unwrap());
    use std::io::Write;
    std::io::stdout().flush().unwrap();
    axum::serve(listener, app).await.unwrap();
}
